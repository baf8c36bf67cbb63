//! The payment journal: a small append-only file of JSON lines, one per state change of a
//! transaction, keyed by the caller's idempotency key. A transaction is written (and
//! fsynced) as in flight *before* anything is sent to the terminal, and its outcome is
//! written after, so a retry of the same key returns the recorded outcome and a crash
//! mid-sale is found and reconciled at next use.
//!
//! Must never lose a record it acknowledged (every write is fsynced), never silently skip
//! a damaged record in the middle of the file, and never store a card number. One process
//! at a time: the file is locked while open.

use super::{IdempotencyKey, Outcome, TransactionKind, TransactionRecord, TransactionState};
use chrono::{DateTime, Utc};
use domain::Fen;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How many keys a journal remembers; older finished ones are dropped when the file is
/// compacted at open (unfinished ones are always kept).
pub const KEEP_KEYS: usize = 10_000;

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
        };
        if lines > 2 * KEEP_KEYS {
            journal.compact(KEEP_KEYS)?;
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
        let write_err = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        let mut bytes = serde_json::to_vec(&line)
            .map_err(|e| write_err(std::io::Error::other(e.to_string())))?;
        bytes.push(b'\n');
        self.file.write_all(&bytes).map_err(write_err)?;
        self.file.sync_data().map_err(write_err)?;
        self.records.insert(rec.key.clone(), rec.clone());
        Ok(())
    }

    /// Rewrites the file with the latest state of the most recent `keep` keys and every
    /// one that still needs attention (write a new file, fsync, rename over, fsync the
    /// directory).
    fn compact(&mut self, keep_keys: usize) -> Result<(), JournalError> {
        let mut recs: Vec<TransactionRecord> = self.records.values().cloned().collect();
        recs.sort_by_key(|r| std::cmp::Reverse(r.seq));
        let (mut keep, old): (Vec<_>, Vec<_>) = recs
            .into_iter()
            .enumerate()
            .partition(|(i, _)| *i < keep_keys);
        keep.extend(old.into_iter().filter(|(_, r)| r.state.needs_attention()));
        let mut keep: Vec<TransactionRecord> = keep.into_iter().map(|(_, r)| r).collect();
        keep.sort_by_key(|r| r.seq);

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
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(write_err)?;
        }
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
    fn compaction_keeps_recent_keys_and_everything_unresolved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        for i in 0..10 {
            let k = key(&format!("k{i}"));
            j.begin(&k, TransactionKind::Sale, Fen(100 + i)).unwrap();
            let outcome = if i == 1 {
                Outcome::UnknownNeedsStaff(StaffReason::ConnectionLost)
            } else {
                Outcome::Declined(crate::terminal::DeclineReason::Refused)
            };
            j.finish(&k, &outcome).unwrap();
        }
        j.compact(3).unwrap();
        j.begin(&key("k10"), TransactionKind::Sale, Fen(1)).unwrap();
        drop(j);
        let j = Journal::open(&path).unwrap();
        let mut kept: Vec<_> = j.records.keys().map(|k| k.as_str().to_owned()).collect();
        kept.sort();
        assert_eq!(kept, vec!["k1", "k10", "k7", "k8", "k9"]);
        assert_eq!(j.last().unwrap().key, key("k10"));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 5);
    }

    #[test]
    fn a_journal_is_used_by_one_program_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let _j = Journal::open(&path).unwrap();
        assert!(matches!(Journal::open(&path), Err(JournalError::InUse(_))));
    }
}
