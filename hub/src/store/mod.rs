//! The hub's SQLite store: the only code in servicehall that speaks SQL.
//!
//! One writer thread owns the write connection (`synchronous=FULL`, WAL). Callers send it
//! closures over a channel; it runs whatever is queued in one `BEGIN IMMEDIATE`
//! transaction, each closure inside its own savepoint (a failing closure rolls back alone),
//! commits once, and only then answers each caller and publishes the batch's events
//! (group commit: no answer before its commit is durable). Reads run on a small pool of
//! read connections on blocking threads.
//!
//! Never holds business rules that belong in `domain`; never lets a closure's panic take
//! the writer down.

pub mod appointments;
mod audit;
mod clock;
mod customers;
pub mod day;
pub mod desk;
pub mod devices;
mod migrations;
pub mod outbox;
mod requests;
pub mod retention;
pub mod sms;
mod staff;
pub mod status;
mod tickets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use protocol::{EventEnvelope, HubEvent};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::{broadcast, mpsc, oneshot};

pub use audit::{AuditEntry, untrusted, verify_chain};
pub use clock::{Clock, ClockStamp};
pub use customers::{erase_customer, reveal_contact};
pub use day::current_day;
pub use staff::{Actor, Session, hash_token};

/// Most closures committed together in one transaction.
const MAX_BATCH: usize = 256;
/// Read connections kept open for reuse.
const MAX_IDLE_READERS: usize = 4;

/// Everything that can go wrong in the store, in the words a caller can pass on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no business day is open: staff must open the day first")]
    NoBusinessDay,
    #[error("the business day {0} is already open")]
    DayAlreadyOpen(chrono::NaiveDate),
    #[error("the business day {0} was already used; pick another date")]
    DayAlreadyUsed(chrono::NaiveDate),
    #[error("the clock is not synchronised: give the business date explicitly")]
    ClockNotSynced,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A business rule refused the call; the code is the problem code devices act on
    /// (e.g. `fee_list_changed`, `already_rated`).
    #[error("{1}")]
    Rule(&'static str, String),
    /// Nothing is known under the given key (e.g. `unknown_appointment`).
    #[error("{1}")]
    Unknown(&'static str, String),
    #[error(transparent)]
    IllegalMove(#[from] domain::ticket::IllegalTicketMove),
    #[error(transparent)]
    Stage(#[from] domain::request::StageError),
    #[error(transparent)]
    Quote(#[from] domain::money::QuoteError),
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("wrong staff id or secret")]
    BadCredentials,
    #[error("too many failed attempts: this account is locked until {0}")]
    LockedOut(DateTime<Utc>),
    #[error("the session has ended or expired: log in again")]
    SessionExpired,
    #[error("database written by a newer hub (schema {found}, this hub knows {supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the hub is shutting down")]
    ShuttingDown,
    #[error("internal error: {0}")]
    Internal(String),
}

impl StoreError {
    pub fn invalid(field: &str, message: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// What a closure on the writer thread gets: the open transaction (inside its savepoint),
/// the moment it runs at, and a place to put the events it emits.
pub struct WriteCtx<'a> {
    pub conn: &'a Connection,
    pub now: DateTime<Utc>,
    stamp: ClockStamp,
    events: Vec<EventEnvelope>,
}

impl std::fmt::Debug for WriteCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteCtx")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl WriteCtx<'_> {
    /// Writes `event` to the outbox in this transaction; it is published after commit.
    pub fn emit(&mut self, event: HubEvent) -> Result<i64, StoreError> {
        let env = outbox::append(self.conn, self.now, self.stamp, event)?;
        let seq = env.seq;
        self.events.push(env);
        Ok(seq)
    }

    /// Appends a hash-chained audit entry in this transaction (GB/T 5.6.2.3).
    pub fn audit(&mut self, actor: &Actor, action: &str, detail: &str) -> Result<(), StoreError> {
        audit::append(self.conn, self.now, actor, action, detail)
    }
}

type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut WriteCtx<'_>) -> (bool, Reply) + Send>;

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    events: broadcast::Sender<EventEnvelope>,
    clock: Clock,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
        if let Some(handle) = self.writer_thread.lock().ok().and_then(|mut h| h.take()) {
            let _ = handle.join();
        }
    }
}

/// A cheap-to-clone handle on the hub database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn configure(conn: &Connection, synchronous_full: bool) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // An acknowledged ticket survives power loss: the writer syncs every commit.
    conn.pragma_update(
        None,
        "synchronous",
        if synchronous_full { "FULL" } else { "NORMAL" },
    )?;
    Ok(())
}

/// Opens the write connection with WAL and the schema brought up to date.
pub fn open_write_connection(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "journal_mode is {mode}, WAL was refused"
        )));
    }
    configure(&conn, true)?;
    // GB/T 5.4: erased personal data is overwritten in the file, not left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    migrations::migrate(&mut conn)?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if needed) the database at `path` and starts the writer thread.
    pub fn open(path: &Path, clock: Clock) -> Result<Store, StoreError> {
        let conn = open_write_connection(path)?;
        clock.record_boot(&conn)?;
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        let (events, _) = broadcast::channel(4096);
        let events_for_writer = events.clone();
        let writer_clock = clock.clone();
        let handle = std::thread::Builder::new()
            .name("hub-writer".into())
            .spawn(move || writer_loop(conn, rx, events_for_writer, writer_clock))
            .map_err(|e| StoreError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(Some(tx)),
                writer_thread: Mutex::new(Some(handle)),
                readers: Mutex::new(Vec::new()),
                events,
                clock,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Live events, published right after their transaction commits.
    pub fn subscribe(&self) -> broadcast::Receiver<EventEnvelope> {
        self.inner.events.subscribe()
    }

    /// Stops accepting writes; queued writes still finish. The writer thread ends and the
    /// connection closes when the last handle is dropped.
    pub fn close(&self) {
        if let Ok(mut w) = self.inner.writer.lock() {
            w.take();
        }
    }

    /// Runs `f` on the writer thread inside the next group-commit transaction and answers
    /// once that transaction is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply_tx, reply_rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |ctx| {
            let result = f(ctx);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let _ = reply_tx.send(commit.and(result));
            });
            (ok, reply)
        });
        {
            let guard = self
                .inner
                .writer
                .lock()
                .map_err(|_| StoreError::Internal("writer handle poisoned".into()))?;
            let sender = guard.as_ref().ok_or(StoreError::ShuttingDown)?;
            sender.send(job).map_err(|_| StoreError::ShuttingDown)?;
        }
        reply_rx.await.map_err(|_| StoreError::ShuttingDown)?
    }

    /// Runs `f` on a read connection on a blocking thread, inside one read transaction
    /// (a consistent snapshot).
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }

    /// [`Store::read`] for code already on a blocking thread.
    pub fn read_blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError>,
    {
        let pooled = self.inner.readers.lock().ok().and_then(|mut r| r.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c, false)?;
                c
            }
        };
        let result = {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let r = f(&tx);
            tx.finish()?;
            r
        };
        if let Ok(mut r) = self.inner.readers.lock()
            && r.len() < MAX_IDLE_READERS
        {
            r.push(conn);
        }
        result
    }
}

fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::UnboundedReceiver<Job>,
    events: broadcast::Sender<EventEnvelope>,
    clock: Clock,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch, &events, &clock);
    }
    // Channel closed: fold the WAL back so the file is complete on its own.
    if let Err(e) = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
        tracing::warn!("checkpoint at shutdown failed: {e}");
    }
    tracing::debug!("hub writer stopped");
}

fn run_batch(
    conn: &mut Connection,
    batch: Vec<Job>,
    events: &broadcast::Sender<EventEnvelope>,
    clock: &Clock,
) {
    let mut replies: Vec<Reply> = Vec::with_capacity(batch.len());
    let mut published: Vec<EventEnvelope> = Vec::new();
    let outcome = (|| -> Result<(), StoreError> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stamp = clock.stamp();
        for job in batch {
            let sp = tx.savepoint()?;
            let mut ctx = WriteCtx {
                conn: &sp,
                now: Utc::now(),
                stamp,
                events: Vec::new(),
            };
            match catch_unwind(AssertUnwindSafe(|| job(&mut ctx))) {
                Ok((true, reply)) => {
                    let emitted = std::mem::take(&mut ctx.events);
                    drop(ctx);
                    sp.commit()?;
                    published.extend(emitted);
                    replies.push(reply);
                }
                Ok((false, reply)) => {
                    drop(ctx);
                    sp.finish()?; // rolls the savepoint back
                    replies.push(reply);
                }
                Err(_) => {
                    // The closure panicked and took its reply sender with it: the caller
                    // sees "shutting down"-style closure of its channel. Keep serving others.
                    tracing::error!("a write panicked; its changes were rolled back");
                    drop(ctx);
                    sp.finish()?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            for e in published {
                // No subscribers is fine: the outbox keeps every event.
                let _ = events.send(e);
            }
            for r in replies {
                r(Ok(()));
            }
        }
        Err(e) => {
            tracing::error!("group commit failed: {e}");
            let msg = e.to_string();
            for r in replies {
                r(Err(StoreError::Internal(format!(
                    "the change was not saved: {msg}"
                ))));
            }
        }
    }
}

/// Reads a column stored as one of the domain's `code()` strings.
pub(crate) fn parse_code<T>(
    value: &str,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(value)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown {what} `{value}` in the database")))
}

/// Runs the store's writes on a plain connection, for the raw benchmark and tools.
pub fn with_raw_ctx<T>(
    conn: &mut Connection,
    clock: &Clock,
    f: impl FnOnce(&mut WriteCtx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut ctx = WriteCtx {
        conn: &tx,
        now: Utc::now(),
        stamp: clock.stamp(),
        events: Vec::new(),
    };
    let r = f(&mut ctx)?;
    drop(ctx);
    tx.commit()?;
    Ok(r)
}

/// Verifies the audit chain of a database file without starting a hub.
pub fn verify_audit_file(path: &Path) -> Result<(i64, Option<i64>), StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    verify_chain(&conn)
}

pub use day::{close_day, open_day, open_day_view};
pub use outbox::{events_since, last_seq, unsent_count};
pub use requests::{
    acknowledge_quote, advance_request, create_request, list_refunds, make_quote, mark_refund_paid,
    read_request, record_payment, record_refund,
};
pub use staff::{
    LoginCheck, StaffRecord, end_session, load_login_check, load_session, record_login_failure,
    start_session, sync_staff,
};
pub use tickets::{
    TicketMove, act_on_ticket, call_next, issue_ticket, mark_printed, queue_snapshot, read_ticket,
    unprinted_count, unprinted_tickets, void_unprinted,
};
