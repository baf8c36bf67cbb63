-- Indexes for the report pages. Append-only: never edit a migration that has landed; add
-- the next file.
--
-- Each report narrows its rows by centre and by a coarse range on its time column
-- (hq/src/reports/mod.rs, around_period) before the exact local-date test. Every index
-- starts with centre_id, so it stays valid when the tables are distributed by centre
-- with Citus. (tickets (centre_id, issued_at) and events (centre_id, received), which the
-- response report and the projector walk, exist since 0001.)
--
-- Built inside the migration's transaction, so writes to these tables wait for the build:
-- they are small next to events.

-- Satisfaction (GB/T 9.1.3): ratings of a period.
CREATE INDEX ratings_by_time ON ratings (centre_id, at);

-- Requests: requests created in a period.
CREATE INDEX requests_by_creation ON requests (centre_id, created_at);

-- Refunds (GB/T 8.4.3): refunds by the day they fall due.
CREATE INDEX refunds_by_due_date ON refunds (centre_id, due_date);

-- The projector: a customer's erasure finds the requests that name the pseudonym
-- (GB/T 5.4.2) without reading all of the centre's requests.
CREATE INDEX requests_by_customer ON requests (centre_id, customer);
