-- Headquarters' schema, first migration. Append-only: never edit a migration that has
-- landed; add the next file.
--
-- Every table carries centre_id in its primary key and in every unique key, so each can
-- be distributed by centre_id with Citus without changes (hq/README.md).

CREATE TABLE centres (
    centre_id          text PRIMARY KEY,
    name               text NOT NULL DEFAULT '',
    -- SHA-256 of the centre's random ingest token (the token itself is never stored).
    token_sha256       bytea NOT NULL,
    -- The centre's local time (business dates and the 5-working-day refund rule are local).
    utc_offset_minutes integer NOT NULL DEFAULT 480,
    created_at         timestamptz NOT NULL DEFAULT now()
);
-- Ingest finds the centre by its token's hash (not unique: a 256-bit random token does not
-- collide, and a unique key without centre_id could not be distributed).
CREATE INDEX centres_by_token ON centres (token_sha256);

-- Every event of every centre, exactly once: (centre_id, epoch, seq) is the hub's key.
CREATE TABLE events (
    centre_id    text NOT NULL,
    epoch        bigint NOT NULL,
    seq          bigint NOT NULL,
    at           timestamptz NOT NULL,
    clock_synced boolean NOT NULL,
    boot         bigint NOT NULL,
    mono_ms      bigint NOT NULL,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    -- SHA-256 over kind, at and the payload's canonical JSON: a resend has the same
    -- digest; a restored hub's different event under the same key does not.
    digest       bytea NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    -- Ingest order, what the projector follows (one centre's events arrive in hub order).
    received     bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (centre_id, epoch, seq)
);
CREATE INDEX events_by_kind ON events (centre_id, kind, at);
CREATE INDEX events_by_received ON events (centre_id, received);

-- Projections the reports and the status page read, kept by the projector from events.
CREATE TABLE tickets (
    centre_id    text NOT NULL,
    ticket_id    bigint NOT NULL,
    number       text NOT NULL,
    service      text NOT NULL,
    class        text NOT NULL,
    channel      text NOT NULL,
    token        text,
    issued_at    timestamptz NOT NULL,
    called_at    timestamptz,
    counter      integer,
    staff_id     text,
    started_at   timestamptz,
    finished_at  timestamptz,
    service_secs integer,
    -- waiting | called | serving | on_hold | finished | no_show | cancelled
    state        text NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (centre_id, ticket_id)
);
CREATE UNIQUE INDEX tickets_by_token ON tickets (centre_id, token);
CREATE INDEX tickets_by_issue ON tickets (centre_id, issued_at);

CREATE TABLE requests (
    centre_id   text NOT NULL,
    request_id  bigint NOT NULL,
    service     text NOT NULL,
    channel     text NOT NULL,
    ticket_id   bigint,
    -- The hub's pseudonym; NULL once the customer's data was erased (tombstone).
    customer    text,
    stage       text NOT NULL,
    created_at  timestamptz NOT NULL,
    reply_due   timestamptz,
    resolve_due timestamptz,
    answered_at timestamptz,
    resolved_at timestamptz,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (centre_id, request_id)
);
CREATE INDEX requests_by_ticket ON requests (centre_id, ticket_id);

CREATE TABLE payments (
    centre_id  text NOT NULL,
    payment_id bigint NOT NULL,
    request_id bigint NOT NULL,
    amount_fen bigint NOT NULL,
    method     text NOT NULL,
    at         timestamptz NOT NULL,
    PRIMARY KEY (centre_id, payment_id)
);

CREATE TABLE refunds (
    centre_id   text NOT NULL,
    refund_id   bigint NOT NULL,
    request_id  bigint NOT NULL,
    amount_fen  bigint NOT NULL,
    -- GB/T 8.4.3: five working days after the refund was agreed, in the centre's calendar.
    due_date    date NOT NULL,
    recorded_at timestamptz NOT NULL,
    paid_at     timestamptz,
    PRIMARY KEY (centre_id, refund_id)
);

CREATE TABLE ratings (
    centre_id  text NOT NULL,
    rating_id  bigint NOT NULL,
    ticket_id  bigint,
    request_id bigint,
    service    text NOT NULL,
    score      smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    via        text NOT NULL,
    counter    integer,
    staff_id   text,
    at         timestamptz NOT NULL,
    PRIMARY KEY (centre_id, rating_id)
);

-- Tombstones: customers whose personal data the hub erased (GB/T 5.4, 5.6.2.2).
CREATE TABLE erasures (
    centre_id text NOT NULL,
    customer  text NOT NULL,
    reason    text NOT NULL,
    at        timestamptz NOT NULL,
    PRIMARY KEY (centre_id, customer)
);

-- How far the projector has applied each centre's events (in ingest order).
CREATE TABLE projection_cursor (
    centre_id     text PRIMARY KEY,
    last_received bigint NOT NULL DEFAULT 0,
    -- The newest event time applied: the projections are true as of this moment.
    last_event_at timestamptz,
    applied       bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Events the projector could not apply (stored in events all the same); kept so an
-- operator can see them instead of the projector stopping on one bad event.
CREATE TABLE projection_skipped (
    centre_id text NOT NULL,
    received  bigint NOT NULL,
    kind      text NOT NULL,
    error     text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (centre_id, received)
);

-- GB/T 9.2: improvement targets, shown against the measured figure. centre_id '*' and
-- service '*' mean every centre / every service.
CREATE TABLE targets (
    centre_id  text NOT NULL,
    metric     text NOT NULL,
    service    text NOT NULL DEFAULT '*',
    valid_from date NOT NULL,
    target     double precision NOT NULL,
    note       text NOT NULL DEFAULT '',
    set_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (centre_id, metric, service, valid_from)
);
