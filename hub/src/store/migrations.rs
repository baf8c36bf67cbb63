//! The hub database's schema as an append-only list of migrations, tracked by
//! `PRAGMA user_version` and applied at open inside one exclusive transaction.
//!
//! Never edit a migration after it has landed: add a new one at the end.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE boots (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at   TEXT NOT NULL,
    clock_synced INTEGER NOT NULL
);

CREATE TABLE business_days (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    date         TEXT NOT NULL UNIQUE,
    opened_at    TEXT NOT NULL,
    opened_by    TEXT,
    closed_at    TEXT,
    clock_synced INTEGER NOT NULL,
    next_key     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE ticket_counters (
    day_id   INTEGER NOT NULL REFERENCES business_days(id),
    service  TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (day_id, service)
) WITHOUT ROWID;

CREATE TABLE lane_state (
    day_id                INTEGER NOT NULL REFERENCES business_days(id),
    service               TEXT NOT NULL,
    normal_since_priority INTEGER NOT NULL,
    priority_served       INTEGER NOT NULL,
    PRIMARY KEY (day_id, service)
) WITHOUT ROWID;

CREATE TABLE tickets (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    day_id         INTEGER NOT NULL REFERENCES business_days(id),
    -- The service the ticket was issued for: its number's prefix and sequence. A
    -- transfer changes `service`, never this.
    issued_service TEXT NOT NULL,
    service      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    number       TEXT NOT NULL,
    class        TEXT NOT NULL,
    channel      TEXT NOT NULL,
    state        TEXT NOT NULL,
    queue_key    INTEGER NOT NULL,
    counter      INTEGER,
    staff_id     TEXT,
    device       TEXT,
    issued_at    TEXT NOT NULL,
    called_at    TEXT,
    started_at   TEXT,
    finished_at  TEXT,
    service_secs INTEGER,
    recalls      INTEGER NOT NULL DEFAULT 0,
    printed_at   TEXT,
    UNIQUE (day_id, issued_service, seq)
);
CREATE INDEX tickets_by_state ON tickets (day_id, state, service, queue_key);
CREATE INDEX tickets_service_times ON tickets (service, id) WHERE service_secs IS NOT NULL;

CREATE TABLE staff (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL,
    secret_hash     TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    active          INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;

CREATE TABLE staff_skills (
    staff_id    TEXT NOT NULL REFERENCES staff(id),
    skill       TEXT NOT NULL,
    valid_until TEXT,
    PRIMARY KEY (staff_id, skill)
) WITHOUT ROWID;

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff(id),
    counter    INTEGER,
    device     TEXT,
    services   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at   TEXT
) WITHOUT ROWID;

CREATE TABLE requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    service     TEXT NOT NULL,
    channel     TEXT NOT NULL,
    ticket_id   INTEGER REFERENCES tickets(id),
    stage       TEXT NOT NULL,
    intake      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT,
    reply_due   TEXT,
    resolve_due TEXT,
    answered_at TEXT,
    resolved_at TEXT
);

CREATE TABLE request_stages (
    request_id INTEGER NOT NULL REFERENCES requests(id),
    stage      TEXT NOT NULL,
    at         TEXT NOT NULL,
    staff_id   TEXT,
    PRIMARY KEY (request_id, stage)
) WITHOUT ROWID;

CREATE TABLE quotes (
    request_id       INTEGER NOT NULL REFERENCES requests(id),
    version          INTEGER NOT NULL,
    lines            TEXT NOT NULL,
    total            INTEGER NOT NULL,
    digest           TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    created_by       TEXT,
    acknowledged_at  TEXT,
    acknowledged_via TEXT,
    PRIMARY KEY (request_id, version)
) WITHOUT ROWID;

CREATE TABLE payments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      INTEGER NOT NULL REFERENCES requests(id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    method          TEXT NOT NULL,
    reference       TEXT,
    idempotency_key TEXT NOT NULL UNIQUE,
    at              TEXT NOT NULL,
    staff_id        TEXT NOT NULL
);

CREATE TABLE refunds (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id   INTEGER NOT NULL REFERENCES requests(id),
    payment_id   INTEGER NOT NULL REFERENCES payments(id),
    amount       INTEGER NOT NULL CHECK (amount > 0),
    method       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    requested_on TEXT NOT NULL,
    due_date     TEXT NOT NULL,
    paid_at      TEXT,
    staff_id     TEXT NOT NULL
);

CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    clock_synced INTEGER NOT NULL,
    boot_id      INTEGER NOT NULL,
    mono_ms      INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    sent_at      TEXT
);
CREATE TRIGGER outbox_no_delete BEFORE DELETE ON outbox
BEGIN SELECT RAISE(ABORT, 'outbox rows are never deleted'); END;
CREATE TRIGGER outbox_only_marks_sent BEFORE UPDATE OF seq, at, clock_synced, boot_id, mono_ms, kind, payload ON outbox
BEGIN SELECT RAISE(ABORT, 'outbox events are immutable'); END;

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    staff_id  TEXT,
    device    TEXT,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    // 2: the kiosk and counter desks — customer contacts kept apart from requests (GB/T
    // 5.4), fee-list acknowledgement at intake (4.2.3), transfers to one counter, device
    // alerts, appointments (8.1), ratings (9.1.2), versioned agreements (8.2), follow-ups.
    r#"
CREATE TABLE customers (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    -- What leaves the hub instead of the person (GB/T 5.4.2).
    pseudonym         TEXT NOT NULL UNIQUE,
    name              TEXT,
    phone             TEXT,
    address           TEXT,
    consent_updates   INTEGER NOT NULL,
    consent_queue_sms INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    erased_at         TEXT
);

ALTER TABLE requests ADD COLUMN customer_id INTEGER REFERENCES customers(id);
ALTER TABLE requests ADD COLUMN fees_ack_digest TEXT;
ALTER TABLE requests ADD COLUMN fees_ack_at TEXT;
ALTER TABLE requests ADD COLUMN fees_ack_via TEXT;
CREATE INDEX requests_by_ticket ON requests (ticket_id);
CREATE INDEX requests_by_stage ON requests (stage);

ALTER TABLE tickets ADD COLUMN for_counter INTEGER;
CREATE TABLE transfers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id    INTEGER NOT NULL REFERENCES tickets(id),
    day_id       INTEGER NOT NULL REFERENCES business_days(id),
    from_service TEXT NOT NULL,
    to_service   TEXT NOT NULL,
    from_counter INTEGER,
    to_counter   INTEGER,
    to_front     INTEGER NOT NULL,
    reason       TEXT,
    staff_id     TEXT NOT NULL,
    at           TEXT NOT NULL
);

CREATE TABLE device_alerts (
    device    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    detail    TEXT,
    ticket_id INTEGER,
    since     TEXT NOT NULL,
    PRIMARY KEY (device, kind)
) WITHOUT ROWID;

CREATE TABLE appointments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    code       TEXT NOT NULL UNIQUE,
    service    TEXT NOT NULL,
    slot_start TEXT NOT NULL,
    slot_end   TEXT NOT NULL,
    state      TEXT NOT NULL,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    ticket_id  INTEGER REFERENCES tickets(id),
    created_at TEXT NOT NULL,
    created_by TEXT
);

CREATE TABLE ratings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id  INTEGER REFERENCES tickets(id),
    request_id INTEGER REFERENCES requests(id),
    service    TEXT NOT NULL,
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    reasons    TEXT NOT NULL,
    comment    TEXT,
    via        TEXT NOT NULL,
    counter    INTEGER,
    staff_id   TEXT,
    at         TEXT NOT NULL
);
-- GB/T 9.1.2: one rating per visit, and one evaluation per follow-up call.
CREATE UNIQUE INDEX ratings_one_per_ticket ON ratings (ticket_id) WHERE via <> 'follow_up';
CREATE UNIQUE INDEX ratings_one_per_follow_up ON ratings (request_id) WHERE via = 'follow_up';

CREATE TABLE agreements (
    request_id       INTEGER NOT NULL REFERENCES requests(id),
    version          INTEGER NOT NULL,
    content          TEXT NOT NULL,
    time             TEXT NOT NULL,
    place            TEXT NOT NULL,
    technician       TEXT NOT NULL,
    change_procedure TEXT NOT NULL,
    quote_version    INTEGER,
    lines            TEXT NOT NULL,
    total            INTEGER NOT NULL,
    staff_id         TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (request_id, version)
) WITHOUT ROWID;
-- GB/T 8.2: a change is a new version; the old one stays as it was signed.
CREATE TRIGGER agreements_immutable BEFORE UPDATE ON agreements
BEGIN SELECT RAISE(ABORT, 'agreements are never changed: write a new version'); END;
CREATE TRIGGER agreements_kept BEFORE DELETE ON agreements
BEGIN SELECT RAISE(ABORT, 'agreement versions are kept'); END;

CREATE TABLE follow_ups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    reached    INTEGER NOT NULL,
    note       TEXT NOT NULL,
    score      INTEGER,
    staff_id   TEXT NOT NULL,
    at         TEXT NOT NULL
);
"#,
    // 3: appointment history and slot lookups (GB/T 8.1); the text-message queue with
    // opt-outs (4.2.2, 5.4); the language a customer reads.
    r#"
ALTER TABLE customers ADD COLUMN lang TEXT NOT NULL DEFAULT 'zh';

CREATE INDEX appointments_by_slot ON appointments (service, slot_start);
CREATE TABLE appointment_changes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    appointment_id INTEGER NOT NULL REFERENCES appointments(id),
    kind           TEXT NOT NULL,
    at             TEXT NOT NULL,
    staff_id       TEXT,
    from_slot      TEXT,
    to_slot        TEXT,
    reason         TEXT
);
CREATE TRIGGER appointment_changes_kept BEFORE DELETE ON appointment_changes
BEGIN SELECT RAISE(ABORT, 'appointment history is kept'); END;

CREATE TABLE sms_messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- One message per purpose and subject: a retry never queues a second copy.
    dedupe_key     TEXT NOT NULL UNIQUE,
    customer_id    INTEGER NOT NULL REFERENCES customers(id),
    kind           TEXT NOT NULL,
    text           TEXT NOT NULL,
    not_before     TEXT NOT NULL,
    ticket_id      INTEGER,
    appointment_id INTEGER,
    request_id     INTEGER,
    state          TEXT NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    leased_until   TEXT,
    leased_by      TEXT,
    last_error     TEXT,
    reason         TEXT,
    created_at     TEXT NOT NULL,
    sent_at        TEXT
);
CREATE INDEX sms_by_state ON sms_messages (state, not_before);
CREATE TABLE sms_opt_outs (
    phone TEXT PRIMARY KEY,
    at    TEXT NOT NULL
) WITHOUT ROWID;
"#,
    // 4: a message about an appointment remembers the slot it names (a moved appointment
    // never gets the old time); attempts are timed for the rate limits; lookups by phone.
    r#"
ALTER TABLE sms_messages ADD COLUMN slot_start TEXT;
ALTER TABLE sms_messages ADD COLUMN last_attempt_at TEXT;
CREATE INDEX sms_by_attempt ON sms_messages (last_attempt_at);
CREATE INDEX customers_by_phone ON customers (phone);
"#,
    // 5: upstream sync to headquarters. Events are keyed there by (centre, epoch, seq); the
    // epoch moves on when this database turns out to be an older copy (restored backup),
    // and only an unsent event may move with it. Tickets get the key of their public
    // status page.
    r#"
ALTER TABLE outbox ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE TRIGGER outbox_sent_keeps_epoch BEFORE UPDATE OF epoch ON outbox WHEN OLD.sent_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'an event headquarters acknowledged keeps its epoch'); END;
CREATE TRIGGER outbox_sent_once BEFORE UPDATE OF sent_at ON outbox WHEN OLD.sent_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'an acknowledged event stays acknowledged'); END;
CREATE TABLE sync_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    epoch           INTEGER NOT NULL,
    last_success_at TEXT,
    last_error      TEXT,
    last_error_at   TEXT
);
INSERT INTO sync_state (id, epoch) VALUES (1, 0);
ALTER TABLE tickets ADD COLUMN status_token TEXT;
CREATE UNIQUE INDEX tickets_by_status_token ON tickets (status_token);
"#,
    // 6: enrolled devices (GB/T 5.4, 5.6.2): each certificate the hub's CA issued, by its
    // SHA-256 fingerprint, with the device and role it names; one-time pairing codes,
    // kept only as hashes.
    r#"
CREATE TABLE device_certificates (
    fingerprint TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    role        TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    not_after   TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_by  TEXT
) WITHOUT ROWID;
CREATE INDEX device_certificates_by_device ON device_certificates (device_id, issued_at);
CREATE TABLE pairing_codes (
    code_hash  TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    created_by TEXT
) WITHOUT ROWID;
"#,
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`LATEST`]; refuses a database written by a newer hub.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: LATEST,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_is_idempotent() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        migrate(&mut c).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", LATEST + 1).unwrap();
        assert!(matches!(
            migrate(&mut c),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }

    #[test]
    fn audit_rows_cannot_be_changed_or_deleted() {
        // GB/T 5.6.2.3: append-only security audit.
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c.execute(
            "INSERT INTO audit (at, action, detail, prev_hash, hash) VALUES ('t', 'a', 'd', 'p', 'h')",
            [],
        )
        .unwrap();
        let upd = c.execute("UPDATE audit SET action = 'x'", []).unwrap_err();
        assert!(upd.to_string().contains("append-only"));
        assert!(c.execute("DELETE FROM audit", []).is_err());
    }
}
