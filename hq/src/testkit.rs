//! A throwaway PostgreSQL server and a real headquarters on `127.0.0.1:0`, for the
//! integration tests of headquarters and of whatever talks to it (feature `testkit`).
//!
//! One server per test binary ([`shared_pg`]); every test takes its own empty database
//! ([`TestPg::fresh_database`]) so tests stay isolated and can run in parallel.
//! PostgreSQL refuses to run as root: when the tests run as root, the server runs as the
//! `postgres` user (through `runuser`), which Debian's postgresql package creates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use protocol::HubEvent;
use protocol::sync::{INGEST_PATH, IngestAck, IngestBatch, WireEvent};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{HqError, HqOptions};

/// A PostgreSQL server in a temporary directory, stopped and removed on drop.
pub struct TestPg {
    dir: Option<tempfile::TempDir>,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
    next_db: AtomicU32,
}

impl std::fmt::Debug for TestPg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPg").field("port", &self.port).finish()
    }
}

/// Where `initdb` and `pg_ctl` are: on PATH, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                // Follow a symlink to the real directory (where the server binary is too).
                let real = dir
                    .join("initdb")
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf));
                return Some(real.unwrap_or(dir));
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

impl TestPg {
    /// Starts a new server (initdb, then pg_ctl start). Panics with a clear message when
    /// PostgreSQL is not installed.
    pub fn start() -> TestPg {
        let bin = find_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed: the hq tests need `initdb` and `pg_ctl` \
                 (Debian: apt-get install postgresql-15) on PATH or under /usr/lib/postgresql/*/bin"
            )
        });
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("hq-pg-")
            .tempdir()
            .expect("temp dir for PostgreSQL");
        std::fs::create_dir(dir.path().join("sock")).expect("socket dir");
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "running as root: cannot hand the temp dir to the `postgres` user \
                 (is Debian's postgresql package installed?)"
            );
        }
        let mut pg = TestPg {
            dir: Some(dir),
            bin,
            as_postgres,
            port: 0,
            next_db: AtomicU32::new(0),
        };
        let data = pg.path().join("data");
        pg.run_tool(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        // Another process may take the port between our probe and the server's bind: retry.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let opts = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={} \
                 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                 -c max_connections=300 -c shared_buffers=128MB",
                pg.path().join("sock").display()
            );
            let log = pg.path().join("server.log");
            let out = pg
                .tool("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-o", &opts, "-w", "-t", "60", "start"])
                .output()
                .expect("run pg_ctl");
            if out.status.success() {
                pg.port = port;
                return pg;
            }
            last_error = format!(
                "{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        panic!("PostgreSQL did not start: {last_error}");
    }

    fn path(&self) -> &Path {
        self.dir.as_ref().expect("the server's directory").path()
    }

    fn tool(&self, name: &str) -> Command {
        let exe = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c.current_dir("/");
            c
        } else {
            Command::new(exe)
        }
    }

    fn run_tool(&self, name: &str, args: &[&std::ffi::OsStr]) {
        let out = self
            .tool(name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
        assert!(
            out.status.success(),
            "{name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The URL of database `db` on this server (superuser `postgres`, no password).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a new empty database and returns its URL.
    pub fn fresh_database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        let admin = self.url("postgres");
        let sql = format!("CREATE DATABASE {name}");
        // Works from inside a test's runtime too: a thread with its own small runtime.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("connect to the test server: {e}"));
                let conn = tokio::spawn(conn);
                client
                    .batch_execute(&sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                drop(client);
                let _ = conn.await;
            });
        })
        .join()
        .expect("create the database");
        self.url(&name)
    }

    /// Hands the server to a small watcher process that stops it and removes its files
    /// once this test binary has exited (statics are never dropped). Returns a handle
    /// that only knows where the server is.
    fn detach(mut self) -> TestPg {
        let handle = TestPg {
            dir: None,
            bin: self.bin.clone(),
            as_postgres: self.as_postgres,
            port: self.port,
            next_db: AtomicU32::new(0),
        };
        let Some(dir) = self.dir.take() else {
            return handle;
        };
        let dir = dir.keep();
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            format!("runuser -u postgres -- '{}'", pg_ctl.display())
        } else {
            format!("'{}'", pg_ctl.display())
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             {stop} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            data = dir.join("data").display(),
            dir = dir.display(),
        );
        let spawned = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Err(e) = spawned {
            eprintln!("cannot start the PostgreSQL stopper ({e}); stop it by hand: {script}");
        }
        handle
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = self
                .tool("pg_ctl")
                .arg("-D")
                .arg(dir.path().join("data"))
                .args(["-m", "immediate", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            drop(dir);
        }
    }
}

/// One server for the whole test binary, stopped when the binary exits.
pub fn shared_pg() -> &'static TestPg {
    static PG: OnceLock<TestPg> = OnceLock::new();
    PG.get_or_init(|| TestPg::start().detach())
}

/// A running headquarters on a fresh database of [`shared_pg`].
pub struct TestHq {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub addr: SocketAddr,
    pub db_url: String,
    pool: deadpool_postgres::Pool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), HqError>>>,
}

impl std::fmt::Debug for TestHq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHq")
            .field("url", &self.url)
            .field("db_url", &self.db_url)
            .finish()
    }
}

impl TestHq {
    /// A migrated fresh database and headquarters serving it on 127.0.0.1:0.
    pub async fn start() -> TestHq {
        let db_url = shared_pg().fresh_database();
        TestHq::start_on(db_url, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Headquarters on an existing database (a restart), at `addr` (port 0 for any; a
    /// fixed address is retried for a while so a restart can take its old port back).
    pub async fn start_on(db_url: String, addr: SocketAddr) -> TestHq {
        TestHq::start_configured(db_url, addr, None).await
    }

    /// Headquarters on a fresh database whose report pages need one of the readers in
    /// the file `readers` (`hq::viewers`).
    pub async fn start_with_readers(readers: std::path::PathBuf) -> TestHq {
        let db_url = shared_pg().fresh_database();
        TestHq::start_configured(db_url, SocketAddr::from(([127, 0, 0, 1], 0)), Some(readers)).await
    }

    async fn start_configured(
        db_url: String,
        addr: SocketAddr,
        report_readers: Option<std::path::PathBuf>,
    ) -> TestHq {
        let mut listener = None;
        for _ in 0..100 {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let listener = listener.unwrap_or_else(|| panic!("could not bind {addr}"));
        let addr = listener.local_addr().expect("local addr");
        let url = format!("http://{addr}");
        let (stop, stopped) = oneshot::channel::<()>();
        let opts = HqOptions {
            database_url: db_url.clone(),
            listen: addr,
            tls: None,
            centre_ca: None,
            report_readers,
        };
        let task = tokio::spawn(crate::serve(listener, opts, async move {
            let _ = stopped.await;
        }));
        let mut ready = false;
        for _ in 0..500 {
            if task.is_finished() {
                break;
            }
            if health_ok(addr).await {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut hq = TestHq {
            url,
            addr,
            pool: crate::db::pool(&db_url).expect("pool"),
            db_url,
            stop: Some(stop),
            task: Some(task),
        };
        if !ready {
            let task = hq.task.take().expect("task");
            match task.await {
                Ok(Err(e)) => panic!("headquarters did not start: {e}"),
                other => panic!("headquarters did not start: {other:?}"),
            }
        }
        hq
    }

    /// A pool on the test database (separate from the server's own).
    pub fn pool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }

    /// A connection from [`TestHq::pool`].
    pub async fn client(&self) -> deadpool_postgres::Object {
        self.pool.get().await.expect("a database connection")
    }

    /// Adds centre `id` (UTC+8) and returns its ingest token.
    pub async fn add_centre(&self, id: &str, name: &str) -> String {
        let client = self.client().await;
        let plain: &tokio_postgres::Client = &client;
        crate::centres::add_centre(plain, id, name, 480)
            .await
            .expect("add centre")
    }

    /// Runs the projector until every centre is caught up; returns the events applied.
    pub async fn project(&self) -> u64 {
        crate::projector::catch_up(&self.pool)
            .await
            .expect("projector")
    }

    /// Posts `batch` to the ingest endpoint with `token`; panics unless it is accepted.
    pub async fn send(&self, token: &str, batch: &IngestBatch) -> IngestAck {
        let r = reqwest::Client::new()
            .post(format!("{}{INGEST_PATH}", self.url))
            .bearer_auth(token)
            .json(batch)
            .send()
            .await
            .expect("post the batch");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "ingest refused ({status}): {body}");
        serde_json::from_str(&body).expect("an IngestAck")
    }

    /// Stores `events` for `centre` directly (no HTTP), numbered from `first_seq` in
    /// `epoch` (the centre must exist), then runs the projector. For seeding report data.
    pub async fn store(
        &self,
        centre: &str,
        epoch: i64,
        first_seq: i64,
        events: &[(DateTime<Utc>, HubEvent)],
    ) -> IngestAck {
        let batch = IngestBatch {
            centre_id: centre.to_owned(),
            epoch,
            events: events
                .iter()
                .zip(first_seq..)
                .map(|((at, e), seq)| wire_event(seq, *at, e))
                .collect(),
        };
        let mut client = self.client().await;
        let ack = crate::ingest::store_batch(&mut client, centre, &batch)
            .await
            .expect("store the batch");
        drop(client);
        self.project().await;
        ack
    }

    /// Graceful stop; returns the database URL for a restart with [`TestHq::start_on`].
    pub async fn stop(mut self) -> String {
        self.shutdown().await;
        self.pool.close();
        self.db_url.clone()
    }

    /// Stops and starts again on the same database and port.
    pub async fn restart(self) -> TestHq {
        let addr = self.addr;
        let db = self.stop().await;
        TestHq::start_on(db, addr).await
    }

    async fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await
                .expect("hq task")
                .expect("headquarters stopped cleanly");
        }
    }
}

impl Drop for TestHq {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// `event` as the hub's outbox ships it: sequence `seq`, written at `at`.
pub fn wire_event(seq: i64, at: DateTime<Utc>, event: &HubEvent) -> WireEvent {
    WireEvent {
        seq,
        at,
        clock_synced: true,
        boot: 1,
        mono_ms: seq * 100,
        kind: event.kind().to_owned(),
        payload: serde_json::to_value(event).expect("serialise the event"),
    }
}

/// True once `GET /health` answers 200 (a bare HTTP/1.1 request, no client library).
async fn health_ok(addr: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let req = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    buf.starts_with(b"HTTP/1.1 200")
}
