//! Crash test of the real hub binary: several concurrent clients issue tickets (and a
//! staff station keeps logging in) while the hub is killed with SIGKILL at random moments
//! and restarted, many times over. Afterwards the database must show that nothing the hub
//! acknowledged was lost and nothing was half-written: every answered ticket is stored
//! with its number, no number was issued twice (GB/T 4.1.1: one ticket, one number), the
//! audit chain verifies (GB/T 5.6.2.3) and the outbox sequence has no holes.
//!
//! The hub serves mutual TLS as in production: the test pairs its station with
//! `servicehall devices pair` while the hub runs (GB/T 5.4) and enrols it like a device.
//!
//! `SERVICEHALL_CRASH_ROUNDS=N` runs N crash rounds instead of the default 20. On
//! failure (or with `SERVICEHALL_CRASH_KEEP=1`) the data directory and the hub's logs are
//! kept; the path is printed at the start.

#![cfg(unix)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use common::log_tail;
use domain::{PriorityClass, ServiceSpec, ServiceType, TicketNumber};
use protocol::{ClientError, HubClient, IssueTicket, Login, OpenDay};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

const DEFAULT_ROUNDS: usize = 20;
/// Concurrent ticket-issuing clients per round.
const CLIENTS: usize = 4;
const STAFF_ID: &str = "sup";
const SECRET: &str = "4321";
/// Longest any single request may take before the test calls the hub hung.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the hub may take to start answering, or to stop after SIGTERM.
const START_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A ticket the hub answered for: it must be in the database afterwards.
#[derive(Debug, Clone)]
struct Answered {
    round: usize,
    id: i64,
    number: String,
    service: ServiceType,
    /// Outbox sequence of its `ticket_issued` event, as the hub reported it.
    seq: i64,
}

/// What the clients of all rounds saw.
#[derive(Debug, Default)]
struct Seen {
    tickets: Vec<Answered>,
    /// Logins the hub answered: each wrote one audit entry.
    logins: u64,
    /// Answers that must never happen here (refusals, garbled bodies, hangs).
    unexpected: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

/// One service's numbering on one business day, as stored.
#[derive(Debug)]
#[expect(
    dead_code,
    reason = "day_id and service are only read through Debug, in messages"
)]
struct Lane {
    day_id: i64,
    service: String,
    tickets: i64,
    distinct_seqs: i64,
    min_seq: i64,
    max_seq: i64,
    /// `ticket_counters.last_seq`: where the next number continues from.
    counter: Option<i64>,
}

fn seen(shared: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// One run of `servicehall hub`.
struct Hub {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Hub {
    fn start(dir: &Path, config: &Path, log: PathBuf) -> Hub {
        let stderr = std::fs::File::create(&log).expect("create the hub's log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_servicehall"))
            .arg("hub")
            .arg("--data-dir")
            .arg(dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("start the hub binary");
        let stdout = child.stdout.take().expect("the hub's stdout is piped");
        let (tx, rx) = mpsc::channel();
        // Reads the first line, then keeps draining so the pipe never fills up.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(START_STOP_TIMEOUT).unwrap_or_default();
        let Some(url) = line
            .trim()
            .strip_prefix("servicehall hub listening on ")
            .map(str::to_owned)
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the hub did not announce its address (first line {line:?}); its log:\n{}",
                log_tail(&log)
            );
        };
        Hub { child, url, log }
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash or a power cut of the process.
    fn kill(mut self) {
        if let Some(status) = self.child.try_wait().expect("poll the hub") {
            panic!(
                "the hub had already exited ({status}) before it was killed; its log:\n{}",
                log_tail(&self.log)
            );
        }
        self.child.kill().expect("SIGKILL the hub");
        let status = self.child.wait().expect("reap the hub");
        assert_eq!(
            status.signal(),
            Some(9),
            "the hub should have died of SIGKILL, got {status}"
        );
    }

    /// SIGTERM and wait for a clean exit.
    fn terminate(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM failed: {sent}");
        let deadline = Instant::now() + START_STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the hub") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the hub did not stop within {START_STOP_TIMEOUT:?} of SIGTERM; its log:\n{}",
                    log_tail(&self.log)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A failing assertion must not leave a hub running behind the test.
impl Drop for Hub {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The test's station, enrolled once in the first round (the key survives every crash).
static STATION: OnceLock<protocol::identity::DeviceIdentity> = OnceLock::new();

/// A client of the hub at `url` acting as the enrolled station.
fn client(url: impl Into<String>) -> HubClient {
    HubClient::for_device(url, STATION.get()).expect("the station is enrolled first")
}

/// Pairs the station with `servicehall devices pair` (beside the running hub, as an
/// operator on the hub's box would) and enrols it over the hub's TLS.
async fn enrol_station(dir: &Path, config: &Path, url: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_servicehall"))
        .args([
            "devices",
            "pair",
            "--role",
            "counter",
            "--id",
            "crash-station",
        ])
        .arg("--data-dir")
        .arg(dir)
        .arg("--config")
        .arg(config)
        .args(["--hub", url])
        .output()
        .expect("run servicehall devices pair");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "devices pair failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The last line is the command to run on the device: take its code and fingerprint.
    let command = text
        .lines()
        .rev()
        .find(|l| l.contains("servicehall enrol"))
        .unwrap_or_else(|| panic!("no enrol command in {text:?}"));
    let arg = |name: &str| {
        let words: Vec<&str> = command.split_whitespace().collect();
        let at = words
            .iter()
            .position(|w| *w == name)
            .unwrap_or_else(|| panic!("no {name} in {command:?}"));
        words[at + 1].to_owned()
    };
    let identity = protocol::identity::enrol(
        url,
        &arg("--code"),
        &arg("--fingerprint"),
        "crash-station",
        protocol::DeviceRole::Counter,
    )
    .await
    .expect("enrol the station");
    let _ = STATION.set(identity);
}

/// Polls `/health` until the hub answers (it announces its address before the store is open).
async fn wait_healthy(url: &str, log: &Path) -> protocol::Health {
    let client = client(url);
    let deadline = Instant::now() + START_STOP_TIMEOUT;
    loop {
        let last = match tokio::time::timeout(REQUEST_TIMEOUT, client.health()).await {
            Ok(Ok(h)) => return h,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        if Instant::now() > deadline {
            panic!(
                "the hub at {url} never became healthy (last: {last}); its log:\n{}",
                log_tail(log)
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn login(url: &str) -> Result<protocol::SessionView, ClientError> {
    client(url)
        .login(&Login {
            staff_id: STAFF_ID.into(),
            secret: SECRET.into(),
            counter: Some(1),
            device: Some("crash-test-station".into()),
        })
        .await
}

/// Issues tickets until the hub goes away. An error is an unknown outcome (the ticket
/// may or may not exist), which ends this client; only answered tickets are recorded.
async fn ticket_client(url: String, n: usize, round: usize, mut rng: StdRng, shared: Shared) {
    let client = client(url);
    loop {
        let service = ServiceType::ALL[rng.random_range(0..ServiceType::ALL.len())];
        let class = PriorityClass::ALL[rng.random_range(0..PriorityClass::ALL.len())];
        let req = IssueTicket {
            service,
            class,
            channel: Default::default(),
            device: Some(format!("crash-test-{n}")),
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, client.issue_ticket(&req)).await {
            Ok(Ok(issued)) => {
                let mut s = seen(&shared);
                if issued.ticket.service != service || issued.ticket.class != class {
                    s.unexpected.push(format!(
                        "asked for {service:?}/{class:?}, got {:?}",
                        issued.ticket
                    ));
                }
                s.tickets.push(Answered {
                    round,
                    id: issued.ticket.id,
                    number: issued.ticket.number,
                    service: issued.ticket.service,
                    seq: issued.seq,
                });
            }
            // The hub is gone (killed mid-request or before it): outcome unknown.
            Ok(Err(ClientError::Unreachable(_))) => return,
            Ok(Err(e)) => {
                seen(&shared)
                    .unexpected
                    .push(format!("round {round}, client {n}: {e}"));
                return;
            }
            Err(_) => {
                seen(&shared).unexpected.push(format!(
                    "round {round}, client {n}: no answer within {REQUEST_TIMEOUT:?}"
                ));
                return;
            }
        }
    }
}

/// A staff station logging in over and over, so audit entries are being written when the
/// hub dies too.
async fn login_client(url: String, round: usize, shared: Shared) {
    loop {
        match tokio::time::timeout(REQUEST_TIMEOUT, login(&url)).await {
            Ok(Ok(_)) => seen(&shared).logins += 1,
            Ok(Err(ClientError::Unreachable(_))) => return,
            Ok(Err(e)) => {
                seen(&shared)
                    .unexpected
                    .push(format!("round {round}, login: {e}"));
                return;
            }
            Err(_) => {
                seen(&shared).unexpected.push(format!(
                    "round {round}, login: no answer within {REQUEST_TIMEOUT:?}"
                ));
                return;
            }
        }
    }
}

fn write_config(dir: &Path) -> PathBuf {
    let hash = hub::auth::hash_secret(SECRET).expect("hash the test secret");
    let text = format!(
        "[[staff]]\n\
         id = \"{STAFF_ID}\"\n\
         name = \"Supervisor\"\n\
         role = \"supervisor\"\n\
         secret_hash = \"{hash}\"\n\
         skills = [{{ skill = \"repair\" }}, {{ skill = \"installation\" }}, {{ skill = \"complaint_handling\" }}]\n"
    );
    let path = dir.join("servicehall.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

fn rounds() -> usize {
    match std::env::var("SERVICEHALL_CRASH_ROUNDS") {
        Ok(v) => v
            .trim()
            .parse()
            .expect("SERVICEHALL_CRASH_ROUNDS must be a number of rounds"),
        Err(_) => DEFAULT_ROUNDS,
    }
}

#[test]
fn hub_survives_sigkill_without_losing_or_duplicating_tickets() {
    let rounds = rounds();
    let started = Instant::now();
    let mut tmp = tempfile::Builder::new()
        .prefix("servicehall-crash-")
        .tempdir()
        .expect("temp dir");
    // Kept if anything below fails (or SERVICEHALL_CRASH_KEEP is set), so the database and
    // the hub's logs can be examined; cleaned on success.
    tmp.disable_cleanup(true);
    let keep = std::env::var_os("SERVICEHALL_CRASH_KEEP").is_some();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).expect("data dir");
    let config = write_config(tmp.path());
    eprintln!("crash test: {rounds} rounds in {}", tmp.path().display());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let shared: Shared = Arc::default();
    let mut rng = rand::rng();
    let mut per_round = Vec::with_capacity(rounds);
    let mut starts: i64 = 0;

    for round in 0..rounds {
        let hub = Hub::start(
            &dir,
            &config,
            tmp.path().join(format!("hub-{round:03}.log")),
        );
        starts += 1;
        let url = hub.url.clone();
        let before = seen(&shared).tickets.len();
        let handles = rt.block_on(async {
            if round == 0 {
                // The hub announces its address once its store is open: pair and enrol
                // (the connection waits in the listen queue until it serves).
                enrol_station(&dir, &config, &url).await;
            }
            wait_healthy(&url, &hub.log).await;
            // Every round logs in: the audit chain spans many runs of the hub.
            let session = login(&url).await.expect("log in");
            seen(&shared).logins += 1;
            if round == 0 {
                client(url.clone())
                    .with_token(session.token)
                    // This machine's clock may not report itself synchronised: name the date.
                    .open_day(&OpenDay {
                        date: Some(chrono::Utc::now().date_naive()),
                    })
                    .await
                    .expect("open the business day");
            }
            let mut handles = Vec::new();
            for n in 0..CLIENTS {
                let task_rng = StdRng::from_rng(&mut rand::rng());
                handles.push(tokio::spawn(ticket_client(
                    url.clone(),
                    n,
                    round,
                    task_rng,
                    shared.clone(),
                )));
            }
            handles.push(tokio::spawn(login_client(
                url.clone(),
                round,
                shared.clone(),
            )));
            handles
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(50..=400)));
        hub.kill();
        rt.block_on(async {
            for h in handles {
                tokio::time::timeout(REQUEST_TIMEOUT, h)
                    .await
                    .expect("a client kept running after the hub was killed")
                    .expect("client task");
            }
        });
        let s = seen(&shared);
        assert!(
            s.unexpected.is_empty(),
            "round {round}: the hub gave answers it must not give: {:#?}",
            s.unexpected
        );
        per_round.push(s.tickets.len() - before);
    }

    // One last, clean run: the hub must come up, keep numbering, and stop gracefully.
    let hub = Hub::start(&dir, &config, tmp.path().join("hub-final.log"));
    starts += 1;
    let url = hub.url.clone();
    let health = rt.block_on(async {
        let health = wait_healthy(&url, &hub.log).await;
        assert_eq!(health.status, "ok");
        assert!(
            health.day.as_ref().is_some_and(|d| d.closed_at.is_none()),
            "the business day opened in round 0 is not open after the crashes: {health:?}"
        );
        login(&url).await.expect("log in after the crashes");
        seen(&shared).logins += 1;
        let client = client(url.clone());
        for service in ServiceType::ALL {
            let issued = client
                .issue_ticket(&IssueTicket {
                    service,
                    class: PriorityClass::Normal,
                    channel: Default::default(),
                    device: Some("crash-test-final".into()),
                })
                .await
                .expect("issue a ticket after the crashes");
            seen(&shared).tickets.push(Answered {
                round: rounds,
                id: issued.ticket.id,
                number: issued.ticket.number,
                service: issued.ticket.service,
                seq: issued.seq,
            });
        }
        client.health().await.expect("health after the crashes")
    });
    let status = hub.terminate();
    assert!(
        status.success(),
        "the hub did not exit cleanly after SIGTERM: {status}"
    );

    // A clean stop folds the write-ahead log back into the database file.
    let wal = dir.join(format!("{}-wal", hub::DB_FILE));
    let wal_len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(
        wal_len,
        0,
        "{} is not empty after a clean stop",
        wal.display()
    );

    let seen = std::mem::take(&mut *seen(&shared));
    let answered = &seen.tickets;
    let db = open_db(&dir);

    // The hub never answered two requests with the same ticket (a lost write whose id,
    // number or event sequence was handed out again after the restart shows up here).
    let mut ids = HashSet::new();
    let mut numbers = HashSet::new();
    let mut seqs = HashSet::new();
    for a in answered {
        assert!(ids.insert(a.id), "ticket id {} was answered twice", a.id);
        assert!(
            numbers.insert(a.number.clone()),
            "number {} was handed to two customers",
            a.number
        );
        assert!(
            seqs.insert(a.seq),
            "outbox sequence {} was answered twice",
            a.seq
        );
    }

    // 1. Every ticket the hub answered for is stored, with the number it was told.
    for a in answered {
        let row: Option<(String, String)> = db
            .query_row(
                "SELECT number, service FROM tickets WHERE id = ?1",
                [a.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .expect("query a ticket");
        let (number, service) = row.unwrap_or_else(|| {
            panic!(
                "ticket {} ({}) was answered in round {} but is not in the database",
                a.id, a.number, a.round
            )
        });
        assert_eq!(
            (number.as_str(), service.as_str()),
            (a.number.as_str(), a.service.code()),
            "ticket {} (answered in round {}) is stored differently from what the client was told",
            a.id,
            a.round
        );
        let event: Option<(String, String)> = db
            .query_row(
                "SELECT kind, payload FROM outbox WHERE seq = ?1",
                [a.seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .expect("query an outbox event");
        let (kind, payload) = event.unwrap_or_else(|| {
            panic!(
                "outbox event {} of ticket {} (round {}) is missing",
                a.seq, a.number, a.round
            )
        });
        let payload: serde_json::Value = serde_json::from_str(&payload).expect("event payload");
        assert!(
            kind == "ticket_issued" && payload["ticket_id"].as_i64() == Some(a.id),
            "ticket {} ({}, round {}) was answered with outbox event {}, but that event is {payload}: \
             the answered write was lost and its sequence reused",
            a.id,
            a.number,
            a.round,
            a.seq
        );
    }
    // 2. No number was issued twice, and each service's numbers run 1..=n without reuse.
    let dup_seqs: Vec<(i64, String, i64, i64)> = db
        .prepare(
            "SELECT day_id, service, seq, count(*) FROM tickets
             GROUP BY day_id, service, seq HAVING count(*) > 1",
        )
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(dup_seqs.is_empty(), "sequence numbers reused: {dup_seqs:?}");
    let dup_numbers: Vec<(i64, String, i64)> = db
        .prepare(
            "SELECT day_id, number, count(*) FROM tickets
             GROUP BY day_id, number HAVING count(*) > 1",
        )
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        dup_numbers.is_empty(),
        "numbers issued twice: {dup_numbers:?}"
    );
    let lanes: Vec<Lane> = db
        .prepare(
            "SELECT t.day_id, t.service, count(*), count(DISTINCT t.seq), min(t.seq), max(t.seq),
                    (SELECT c.last_seq FROM ticket_counters c WHERE c.day_id = t.day_id AND c.service = t.service)
             FROM tickets t GROUP BY t.day_id, t.service",
        )
        .expect("prepare")
        .query_map([], |r| {
            Ok(Lane {
                day_id: r.get(0)?,
                service: r.get(1)?,
                tickets: r.get(2)?,
                distinct_seqs: r.get(3)?,
                min_seq: r.get(4)?,
                max_seq: r.get(5)?,
                counter: r.get(6)?,
            })
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        lanes.len(),
        ServiceType::ALL.len(),
        "every service got tickets: {lanes:?}"
    );
    for l in &lanes {
        assert_eq!(
            (l.distinct_seqs, l.min_seq, l.max_seq),
            (l.tickets, 1, l.tickets),
            "{l:?}: the tickets should be numbered exactly 1..={}",
            l.tickets
        );
        assert_eq!(
            l.counter,
            Some(l.tickets),
            "{l:?}: the counter must stand at the last issued number"
        );
    }
    let mut bad_numbers = Vec::new();
    let mut stmt = db
        .prepare("SELECT id, service, seq, number FROM tickets")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u32>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .expect("query");
    for row in rows {
        let (id, service, seq, number) = row.expect("row");
        let kind: ServiceType = service.parse().expect("a known service code");
        let expected = TicketNumber {
            prefix: ServiceSpec::default_for(kind).prefix,
            seq,
        }
        .to_string();
        if number != expected {
            bad_numbers.push((id, number, expected));
        }
    }
    drop(stmt);
    assert!(
        bad_numbers.is_empty(),
        "numbers that do not match their sequence: {bad_numbers:?}"
    );

    // 3. The outbox sequence has no holes.
    let (min_seq, max_seq, events): (Option<i64>, Option<i64>, i64) = db
        .query_row("SELECT min(seq), max(seq), count(*) FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .expect("outbox range");
    assert_eq!(
        (min_seq, max_seq),
        (Some(1), Some(events)),
        "the outbox sequence has holes: {events} events between {min_seq:?} and {max_seq:?}"
    );
    assert_eq!(
        health.last_seq, events,
        "the restarted hub's view of the outbox differs from the file"
    );

    // 4. Every ticket has exactly one `ticket_issued` event, naming it.
    let tickets: i64 = db
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .expect("count tickets");
    let mut issued_events: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    let mut stmt = db
        .prepare("SELECT seq, payload FROM outbox WHERE kind = 'ticket_issued'")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .expect("query");
    for row in rows {
        let (seq, payload) = row.expect("row");
        let v: serde_json::Value = serde_json::from_str(&payload).expect("event payload");
        let id = v["ticket_id"]
            .as_i64()
            .expect("ticket_issued has a ticket_id");
        let number = v["number"].as_str().unwrap_or_default().to_owned();
        issued_events.entry(id).or_default().push((seq, number));
    }
    drop(stmt);
    assert_eq!(
        issued_events.values().map(Vec::len).sum::<usize>() as i64,
        tickets,
        "ticket_issued events and tickets differ in number"
    );
    let mut stmt = db
        .prepare("SELECT id, number FROM tickets")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .expect("query");
    for row in rows {
        let (id, number) = row.expect("row");
        match issued_events.get(&id).map(Vec::as_slice) {
            Some([(_, n)]) if *n == number => {}
            other => panic!("ticket {id} ({number}) has ticket_issued events {other:?}"),
        }
    }
    drop(stmt);

    // 5. The audit chain, written across every run of the hub, verifies.
    let audit_rows: i64 = db
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .expect("count audit entries");
    let boots: i64 = db
        .query_row("SELECT count(*) FROM boots", [], |r| r.get(0))
        .expect("count boots");
    let login_events: i64 = db
        .query_row(
            "SELECT count(*) FROM outbox WHERE kind = 'staff_logged_in'",
            [],
            |r| r.get(0),
        )
        .expect("count logins");
    drop(db);
    let verify = Command::new(env!("CARGO_BIN_EXE_servicehall"))
        .args(["audit", "verify", "--data-dir"])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run servicehall audit verify");
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && out.contains("chain intact"),
        "audit verify failed ({}): {out}{}",
        verify.status,
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(
        audit_rows >= (rounds + 1) as i64,
        "only {audit_rows} audit entries after {} logged-in runs",
        rounds + 1
    );
    assert!(
        audit_rows >= seen.logins as i64 && login_events >= seen.logins as i64,
        "{} logins were answered but there are {audit_rows} audit entries and {login_events} login events",
        seen.logins
    );
    assert_eq!(boots, starts, "every start of the hub is recorded");

    // The crashes really happened under load.
    let crash_answers: usize = per_round.iter().sum();
    let busy_rounds = per_round.iter().filter(|n| **n > 0).count();
    assert!(
        crash_answers > rounds * 5,
        "too few tickets answered to prove anything: {per_round:?}"
    );
    assert!(
        busy_rounds * 2 >= rounds,
        "most crash rounds issued no ticket before the kill: {per_round:?}"
    );

    eprintln!(
        "crash test: {rounds} SIGKILL rounds in {:.1?}: {} tickets answered ({} per round, min {}, max {}), \
         {tickets} tickets in the database, {events} outbox events without holes, \
         {audit_rows} audit entries ({} logins answered), chain intact",
        started.elapsed(),
        answered.len(),
        crash_answers / rounds.max(1),
        per_round.iter().min().copied().unwrap_or(0),
        per_round.iter().max().copied().unwrap_or(0),
        seen.logins,
    );
    tmp.disable_cleanup(keep);
}

fn open_db(dir: &Path) -> Connection {
    let db = Connection::open_with_flags(
        dir.join(hub::DB_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the hub database read-only");
    db.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    db
}
