-- GB/T 5.6.2: each centre's hub sends its events with a client certificate issued by
-- headquarters' centres CA. Only the SHA-256 of the centre's current certificate is kept:
-- issuing a new one refuses the old at once. NULL until one is issued (token only).
ALTER TABLE centres ADD COLUMN client_cert_sha256 bytea;
