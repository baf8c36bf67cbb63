//! The payment journal: a small append-only file of JSON lines, one per state change of a
//! transaction, keyed by the caller's idempotency key. A transaction is written (and
//! fsynced) as in flight *before* anything is sent to the terminal, and its outcome is
//! written after, so a retry of the same key returns the recorded outcome and a crash
//! mid-sale is found and reconciled at next use.
//!
//! Must never lose a record it acknowledged (every write is fsynced, and so is the
//! directory that holds a new file), never leave a partial line behind a failed write,
//! never silently skip a damaged record in the middle of the file, and never store a card
//! number. One process at a time: the file is locked while open.
//!
//! # How long a key is remembered
//!
//! A key is remembered for [`RETENTION_DAYS`] days after its last state change, however
//! many other payments happen meanwhile; keys that still need attention (in flight,
//! waiting for staff) are kept forever. A retry of a key older than that is outside the
//! guarantee: callers must not retry a payment intent after 90 days (the hub's payment
//! ids are never reused, so a late retry would be a new payment anyway). Compaction at
//! open only drops what is past retention, never a count of "oldest" keys, so a burst of
//! payments cannot push out a key a customer may still retry.

use super::{IdempotencyKey, Outcome, TransactionKind, TransactionRecord, TransactionState};
use chrono::{DateTime, Utc};
use domain::Fen;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How long a finished key is remembered after its last state change (see the module
/// docs); unfinished ones are always kept.
pub const RETENTION_DAYS: i64 = 90;

/// The file is compacted at open once it has this many lines and at least half of them
/// are superseded states or keys past retention.
const COMPACT_AFTER_LINES: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the payment journal {path} cannot be opened: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the payment journal {0} is in use by another program")]
    InUse(PathBuf),
    #[error("the payment journal {path} cannot be written: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the payment journal {path} is damaged at line {line}; staff must check it")]
    Damaged { path: PathBuf, line: usize },
}

/// One line of the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    seq: u64,
    key: String,
    kind: TransactionKind,
    amount: Fen,
    at: DateTime<Utc>,
    state: TransactionState,
}

/// The journal, loaded in memory and mirrored to its file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    records: HashMap<IdempotencyKey, TransactionRecord>,
    next_seq: u64,
    /// A failed write could not be rolled back: the file may end in a partial line, so
    /// nothing more is appended (a later line would turn it into a damaged middle). The
    /// next open drops the partial line.
    broken: bool,
    /// Tests: the next write stops after this many bytes and fails (a full disk, an I/O
    /// error mid-write).
    #[cfg(test)]
    fail_next_write_after: Option<usize>,
}

impl Journal {
    /// Opens (or creates) the journal at `path`, dropping a half-written last line left by
    /// a crash.
    pub fn open(path: impl AsRef<Path>) -> Result<Journal, JournalError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |source| JournalError::Open {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(open_err)?;
        // fsync of the file does not make its directory entry durable: a journal created
        // just before a power cut could vanish with the in-flight record in it. Syncing
        // the directory at every open also covers a file created by an earlier run that
        // died before it synced.
        sync_dir(&path).map_err(open_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(JournalError::InUse(path)),
            Err(std::fs::TryLockError::Error(e)) => return Err(open_err(e)),
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(open_err)?;

        // A crash can leave the last line without its newline: that record was never
        // acknowledged (nothing is sent before the fsync returns), so drop it.
        let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            tracing::warn!(path = %path.display(), "dropping a half-written journal line");
            file.set_len(complete as u64).map_err(open_err)?;
            file.sync_all().map_err(open_err)?;
            text.truncate(complete);
        }
        file.seek(SeekFrom::End(0)).map_err(open_err)?;

        let mut records = HashMap::new();
        let mut next_seq = 1;
        let mut lines = 0;
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            if raw.is_empty() {
                continue;
            }
            lines += 1;
            let line: Line = serde_json::from_slice(raw).map_err(|_| JournalError::Damaged {
                path: path.clone(),
                line: i + 1,
            })?;
            let key = IdempotencyKey::new(line.key).map_err(|_| JournalError::Damaged {
                path: path.clone(),
                line: i + 1,
            })?;
            next_seq = next_seq.max(line.seq + 1);
            records.insert(
                key.clone(),
                TransactionRecord {
                    key,
                    seq: line.seq,
                    kind: line.kind,
                    amount: line.amount,
                    updated: line.at,
                    state: line.state,
                },
            );
        }
        let mut journal = Journal {
            path,
            file,
            records,
            next_seq,
            broken: false,
            #[cfg(test)]
            fail_next_write_after: None,
        };
        let now = Utc::now();
        if lines > COMPACT_AFTER_LINES && 2 * journal.retained(now).len() <= lines {
            journal.compact(now)?;
        }
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, key: &IdempotencyKey) -> Option<&TransactionRecord> {
        self.records.get(key)
    }

    /// The most recently started transaction.
    pub fn last(&self) -> Option<&TransactionRecord> {
        self.records.values().max_by_key(|r| r.seq)
    }

    /// Transactions whose outcome was never written (oldest first).
    pub fn in_flight(&self) -> Vec<TransactionRecord> {
        let mut v: Vec<_> = self
            .records
            .values()
            .filter(|r| r.state == TransactionState::InFlight)
            .cloned()
            .collect();
        v.sort_by_key(|r| r.seq);
        v
    }

    /// Records that `key` is about to be sent; returns once the record is on disk.
    pub fn begin(
        &mut self,
        key: &IdempotencyKey,
        kind: TransactionKind,
        amount: Fen,
    ) -> Result<TransactionRecord, JournalError> {
        let seq = self.next_seq;
        let rec = TransactionRecord {
            key: key.clone(),
            seq,
            kind,
            amount,
            updated: Utc::now(),
            state: TransactionState::InFlight,
        };
        self.append(&rec)?;
        self.next_seq += 1;
        Ok(rec)
    }

    /// Records a new state for an existing transaction.
    pub fn set_state(
        &mut self,
        key: &IdempotencyKey,
        state: TransactionState,
    ) -> Result<TransactionRecord, JournalError> {
        let Some(old) = self.records.get(key) else {
            return Err(JournalError::Damaged {
                path: self.path.clone(),
                line: 0,
            });
        };
        let rec = TransactionRecord {
            state,
            updated: Utc::now(),
            ..old.clone()
        };
        self.append(&rec)?;
        Ok(rec)
    }

    /// Records an outcome.
    pub fn finish(
        &mut self,
        key: &IdempotencyKey,
        outcome: &Outcome,
    ) -> Result<TransactionRecord, JournalError> {
        self.set_state(key, TransactionState::Finished(outcome.clone()))
    }

    fn append(&mut self, rec: &TransactionRecord) -> Result<(), JournalError> {
        let line = Line {
            seq: rec.seq,
            key: rec.key.as_str().to_owned(),
            kind: rec.kind,
            amount: rec.amount,
            at: rec.updated,
            state: rec.state.clone(),
        };
        let path = self.path.clone();
        let write_err = |source| JournalError::Write {
            path: path.clone(),
            source,
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|e| write_err(std::io::Error::other(e.to_string())))?;
        bytes.push(b'\n');
        if self.broken {
            return Err(write_err(std::io::Error::other(
                "an earlier write failed and could not be undone; reopen the journal",
            )));
        }
        // A failed or partial write must not leave a partial line: the next record would
        // follow it and the journal would read as damaged, blocking every payment. Cut
        // the file back to where it was.
        let len = self.file.metadata().map_err(write_err)?.len();
        if let Err(e) = self.write_line(&bytes) {
            let undone = self.file.set_len(len).and_then(|()| self.file.sync_data());
            if let Err(undo) = undone {
                tracing::error!(path = %self.path.display(), error = %undo, "could not undo a failed journal write");
                self.broken = true;
            }
            return Err(write_err(e));
        }
        self.records.insert(rec.key.clone(), rec.clone());
        Ok(())
    }

    fn write_line(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.fail_next_write_after.take() {
            self.file.write_all(&bytes[..n.min(bytes.len())])?;
            return Err(std::io::Error::other("injected write failure"));
        }
        self.file.write_all(bytes)?;
        self.file.sync_data()
    }

    /// The latest state of every key compaction keeps at `now`: the ones that need
    /// attention and the ones changed within [`RETENTION_DAYS`] (oldest first).
    fn retained(&self, now: DateTime<Utc>) -> Vec<TransactionRecord> {
        let retention = chrono::TimeDelta::days(RETENTION_DAYS);
        let mut keep: Vec<TransactionRecord> = self
            .records
            .values()
            .filter(|r| {
                r.state.needs_attention() || now.signed_duration_since(r.updated) < retention
            })
            .cloned()
            .collect();
        keep.sort_by_key(|r| r.seq);
        keep
    }

    /// Rewrites the file with the latest state of every key still retained at `now` (see
    /// [`Journal::retained`]): write a new file, fsync, rename over, fsync the directory.
    fn compact(&mut self, now: DateTime<Utc>) -> Result<(), JournalError> {
        let keep = self.retained(now);

        let tmp = self.path.with_extension("compacting");
        let write_err = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        let mut out = File::create(&tmp).map_err(write_err)?;
        for r in &keep {
            let line = Line {
                seq: r.seq,
                key: r.key.as_str().to_owned(),
                kind: r.kind,
                amount: r.amount,
                at: r.updated,
                state: r.state.clone(),
            };
            let mut bytes = serde_json::to_vec(&line)
                .map_err(|e| write_err(std::io::Error::other(e.to_string())))?;
            bytes.push(b'\n');
            out.write_all(&bytes).map_err(write_err)?;
        }
        out.sync_all().map_err(write_err)?;
        drop(out);
        std::fs::rename(&tmp, &self.path).map_err(write_err)?;
        sync_dir(&self.path).map_err(write_err)?;
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(write_err)?;
        file.seek(SeekFrom::End(0)).map_err(write_err)?;
        file.try_lock()
            .map_err(|_| JournalError::InUse(self.path.clone()))?;
        self.file = file;
        self.records = keep.into_iter().map(|r| (r.key.clone(), r)).collect();
        Ok(())
    }
}

/// Makes the directory entry of `file` durable (fsync of the directory).
fn sync_dir(file: &Path) -> std::io::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::{Approval, StaffReason};

    fn key(s: &str) -> IdempotencyKey {
        IdempotencyKey::new(s).unwrap()
    }

    #[test]
    fn records_survive_a_reopen_and_the_latest_state_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payments.journal");
        {
            let mut j = Journal::open(&path).unwrap();
            j.begin(&key("t-1"), TransactionKind::Sale, Fen(1250))
                .unwrap();
            j.finish(
                &key("t-1"),
                &Outcome::Approved(Approval {
                    amount: Fen(1250),
                    card_tail: Some("1234".into()),
                    terminal_reference: None,
                    confirmed_by_staff: false,
                }),
            )
            .unwrap();
            j.begin(&key("t-2"), TransactionKind::Refund, Fen(300))
                .unwrap();
        }
        let j = Journal::open(&path).unwrap();
        assert!(matches!(
            j.get(&key("t-1")).unwrap().state,
            TransactionState::Finished(Outcome::Approved(_))
        ));
        let in_flight = j.in_flight();
        assert_eq!(in_flight.len(), 1);
        assert_eq!(in_flight[0].key, key("t-2"));
        assert_eq!(j.last().unwrap().key, key("t-2"));
    }

    #[test]
    fn a_half_written_last_line_is_dropped_but_a_damaged_middle_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        {
            let mut j = Journal::open(&path).unwrap();
            j.begin(&key("a"), TransactionKind::Sale, Fen(1)).unwrap();
        }
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"seq\":2,\"key\":\"b\"").unwrap();
        drop(f);
        let mut j = Journal::open(&path).unwrap();
        assert!(j.get(&key("b")).is_none());
        j.finish(
            &key("a"),
            &Outcome::UnknownNeedsStaff(StaffReason::NoAnswer),
        )
        .unwrap();
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert!(j.get(&key("a")).unwrap().state.needs_attention());
        drop(j);

        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Damaged { line: 1, .. })
        ));
    }

    #[test]
    fn compaction_keeps_every_key_within_retention_however_many_there_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        let now = Utc::now();
        for i in 0..30 {
            let k = key(&format!("k{i}"));
            j.begin(&k, TransactionKind::Sale, Fen(100 + i)).unwrap();
            let outcome = if i == 1 {
                Outcome::UnknownNeedsStaff(StaffReason::ConnectionLost)
            } else {
                Outcome::Declined(crate::terminal::DeclineReason::Refused)
            };
            j.finish(&k, &outcome).unwrap();
        }
        // k0..k4 were last touched 91 days ago (k1 still waits for staff); k5 89 days ago.
        for i in 0..5 {
            j.records.get_mut(&key(&format!("k{i}"))).unwrap().updated =
                now - chrono::TimeDelta::days(RETENTION_DAYS + 1);
        }
        j.records.get_mut(&key("k5")).unwrap().updated =
            now - chrono::TimeDelta::days(RETENTION_DAYS - 1);
        j.compact(now).unwrap();
        j.begin(&key("k30"), TransactionKind::Sale, Fen(1)).unwrap();
        drop(j);
        let j = Journal::open(&path).unwrap();
        // A late retry of any recent key (not only the newest N) still finds its outcome.
        for i in 5..=30 {
            assert!(
                j.get(&key(&format!("k{i}"))).is_some(),
                "k{i} was forgotten"
            );
        }
        assert!(j.get(&key("k1")).unwrap().state.needs_attention());
        for gone in ["k0", "k2", "k3", "k4"] {
            assert!(j.get(&key(gone)).is_none(), "{gone} is past retention");
        }
        assert_eq!(j.last().unwrap().key, key("k30"));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 27);
    }

    #[test]
    fn a_long_journal_is_compacted_at_open_by_age_not_by_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let old = Utc::now() - chrono::TimeDelta::days(RETENTION_DAYS + 10);
        let recent = Utc::now() - chrono::TimeDelta::days(1);
        let mut text = String::new();
        // 15,000 old finished keys and 12,000 recent ones: more recent keys than the old
        // count-based limit (10,000) kept.
        for seq in 1..=27_000u64 {
            let line = Line {
                seq,
                key: format!("p{seq}"),
                kind: TransactionKind::Sale,
                amount: Fen(100),
                at: if seq <= 15_000 { old } else { recent },
                state: TransactionState::Finished(Outcome::Declined(
                    crate::terminal::DeclineReason::Refused,
                )),
            };
            text.push_str(&serde_json::to_string(&line).unwrap());
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.records.len(), 12_000);
        assert!(
            j.get(&key("p15001")).is_some(),
            "the oldest recent key is kept"
        );
        assert!(j.get(&key("p15000")).is_none());
        drop(j);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().lines().count(),
            12_000
        );
    }

    #[test]
    fn a_failed_write_leaves_no_partial_line_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        j.begin(&key("a"), TransactionKind::Sale, Fen(1)).unwrap();
        // The disk fills up halfway through the next record.
        j.fail_next_write_after = Some(10);
        assert!(matches!(
            j.begin(&key("b"), TransactionKind::Sale, Fen(2)),
            Err(JournalError::Write { .. })
        ));
        assert!(
            j.get(&key("b")).is_none(),
            "a failed write is not acknowledged"
        );
        // The journal keeps working, and stays readable after a restart.
        j.begin(&key("c"), TransactionKind::Sale, Fen(3)).unwrap();
        drop(j);
        let j = Journal::open(&path).expect("the journal must not be damaged");
        assert!(j.get(&key("a")).is_some());
        assert!(j.get(&key("b")).is_none());
        assert_eq!(j.get(&key("c")).unwrap().amount, Fen(3));
    }

    #[test]
    fn a_journal_is_used_by_one_program_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let _j = Journal::open(&path).unwrap();
        assert!(matches!(Journal::open(&path), Err(JournalError::InUse(_))));
    }
}
