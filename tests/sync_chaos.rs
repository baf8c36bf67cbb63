//! Chaos test of the upstream sync with the real binaries: a hub issues tickets under
//! load while headquarters (HTTPS, PostgreSQL started by the test) is taken down and
//! brought back, and the hub is killed with SIGKILL and restarted, in several rounds. At
//! the end headquarters holds exactly the hub's events: the same count, the same
//! contents, no duplicates, no holes.
//!
//! `SERVICEHALL_CHAOS_ROUNDS=N` runs N rounds instead of the default 4.

#![cfg(unix)]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use domain::{Channel, PriorityClass, ServiceType};
use protocol::{HubClient, IssueTicket};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::log_tail;
use common::sync::{Events, hq_event_rows, hq_section, hub_events};

const DEFAULT_ROUNDS: usize = 4;
const CENTRE: &str = "chaos-centre";

/// A child process of the test, killed if the test fails.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, args: &[&str], log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_servicehall"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc { name, child, log }
    }

    /// SIGKILL: no shutdown code runs, like a crash or a power cut.
    fn kill(mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "{} had already exited ({status}); its log:\n{}",
                self.name,
                log_tail(&self.log)
            );
        }
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn terminate(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "{} did not stop; its log:\n{}",
                self.name,
                log_tail(&self.log)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Setup {
    dir: PathBuf,
    db_url: String,
    hq_port: u16,
    hub_port: u16,
    cert: PathBuf,
    key: PathBuf,
    hub_config: PathBuf,
    /// Trusts headquarters' self-signed certificate.
    https: reqwest::Client,
}

impl Setup {
    fn start_hq(&self, round: usize) -> Proc {
        let listen = format!("127.0.0.1:{}", self.hq_port);
        Proc::spawn(
            "headquarters",
            &[
                "hq",
                "--database",
                &self.db_url,
                "--listen",
                &listen,
                "--tls-cert",
                self.cert.to_str().unwrap(),
                "--tls-key",
                self.key.to_str().unwrap(),
                // GB/T 5.6.2: the hub must also present its centre's client certificate.
                "--centre-ca",
                self.dir.join("centres-ca").to_str().unwrap(),
            ],
            self.dir.join(format!("hq-{round}.log")),
        )
    }

    fn start_hub(&self, round: usize) -> Proc {
        let listen = format!("127.0.0.1:{}", self.hub_port);
        let data = self.dir.join("hub");
        Proc::spawn(
            "hub",
            &[
                "hub",
                "--data-dir",
                data.to_str().unwrap(),
                "--listen",
                &listen,
                "--config",
                self.hub_config.to_str().unwrap(),
            ],
            self.dir.join(format!("hub-{round}.log")),
        )
    }

    async fn wait_hq(&self, p: &Proc) {
        let url = format!("https://localhost:{}/health", self.hq_port);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.https.get(&url).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "headquarters never answered; its log:\n{}",
                log_tail(&p.log)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn hub_client(&self) -> HubClient {
        HubClient::new(format!("http://127.0.0.1:{}", self.hub_port))
    }

    async fn wait_hub(&self, p: &Proc) {
        let client = self.hub_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.health().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the hub never answered; its log:\n{}",
                log_tail(&p.log)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (c, k) = (dir.join("hq-cert.pem"), dir.join("hq-key.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.key_pair.serialize_pem()).unwrap();
    (c, k)
}

/// Registers the centre with `servicehall hq add-centre`, which also issues its client
/// certificate into `dir` (`<centre>.pem`, `<centre>.key`); returns its token.
fn add_centre(db_url: &str, dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_servicehall"))
        .args([
            "hq",
            "add-centre",
            "--database",
            db_url,
            "--id",
            CENTRE,
            "--name",
            "混沌测试中心",
            "--centre-ca",
            dir.join("centres-ca").to_str().unwrap(),
            "--cert-out",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "add-centre failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .rev()
        .find_map(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no token in {text:?}"))
}

/// Tickets issued as fast as the hub answers, through every outage.
fn start_load(
    client: HubClient,
    stop: Arc<AtomicBool>,
    issued: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let req = IssueTicket {
                service: if i.is_multiple_of(3) {
                    ServiceType::Repair
                } else {
                    ServiceType::Consultation
                },
                class: PriorityClass::Normal,
                channel: Channel::OnSite,
                device: Some("kiosk-1".into()),
            };
            match tokio::time::timeout(Duration::from_secs(5), client.issue_ticket(&req)).await {
                Ok(Ok(_)) => {
                    issued.fetch_add(1, Ordering::Relaxed);
                }
                // The hub is down (killed on purpose): try again shortly.
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
}

async fn hq_events(db_url: &str) -> (Events, i64) {
    let (client, conn) = tokio_postgres::connect(db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = hq_event_rows(&client, CENTRE).await;
    let count = rows.len() as i64;
    (rows.into_iter().collect(), count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn headquarters_holds_exactly_the_hubs_events_after_outages_and_crashes() {
    let rounds = std::env::var("SERVICEHALL_CHAOS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let dir = tempfile::tempdir().unwrap();
    let db_url = hq::testkit::shared_pg().fresh_database();
    let (cert, key) = self_signed(dir.path());
    let token = add_centre(&db_url, dir.path());
    let centre_cert = dir.path().join(format!("{CENTRE}.pem"));
    let centre_key = dir.path().join(format!("{CENTRE}.key"));
    let hq_port = free_port();
    let hub_port = free_port();
    let hub_config = dir.path().join("hub.toml");
    std::fs::write(
        &hub_config,
        format!(
            "[centre]\nid = \"{CENTRE}\"\nname_zh = \"混沌测试中心\"\nname_en = \"Chaos centre\"\n\n\
             [day]\nauto_open_at = \"00:00\"\nclock_trusted = true\n\n\
             [security]\ntransport = \"plain\"\n\n\
             {}",
            hq_section(
                &format!("https://localhost:{hq_port}"),
                &token,
                &format!(
                    "ca_file = \"{}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\nbatch_size = 200\n",
                    cert.display(),
                    centre_cert.display(),
                    centre_key.display()
                )
            )
        ),
    )
    .unwrap();
    let pem = std::fs::read(&cert).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let setup = Setup {
        dir: dir.path().to_owned(),
        db_url,
        hq_port,
        hub_port,
        cert,
        key,
        hub_config,
        https,
    };

    let mut hq = setup.start_hq(0);
    setup.wait_hq(&hq).await;
    let mut hub = setup.start_hub(0);
    setup.wait_hub(&hub).await;
    // The business day opens by itself (trusted clock, opening at 00:00).
    let deadline = Instant::now() + Duration::from_secs(10);
    while setup.hub_client().health().await.unwrap().day.is_none() {
        assert!(Instant::now() < deadline, "the business day did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicU64::new(0));
    let load = start_load(setup.hub_client(), stop.clone(), issued.clone());
    let mut rng = StdRng::seed_from_u64(7);
    let pause = |rng: &mut StdRng| Duration::from_millis(rng.random_range(500..1500));

    for round in 1..=rounds {
        tokio::time::sleep(pause(&mut rng)).await;
        // Headquarters goes away (a WAN cut or a crash): the hub keeps working.
        hq.kill();
        tokio::time::sleep(pause(&mut rng)).await;
        // The hub dies too, possibly between a send and its acknowledgement.
        hub.kill();
        hub = setup.start_hub(round);
        setup.wait_hub(&hub).await;
        tokio::time::sleep(pause(&mut rng)).await;
        hq = setup.start_hq(round);
        setup.wait_hq(&hq).await;
        // Sometimes the hub dies while it is catching up.
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        if round % 2 == 0 {
            hub.kill();
            hub = setup.start_hub(round + 100);
            setup.wait_hub(&hub).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();

    // Let the hub catch up.
    let client = setup.hub_client();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let h = client.health().await.unwrap();
        if h.sync.pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} event(s) still pending (last error {:?}); hub log:\n{}",
            h.sync.pending,
            h.sync.last_error,
            log_tail(&hub.log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    hub.terminate();
    hq.terminate();

    let ours = hub_events(&setup.dir.join("hub").join(hub::DB_FILE));
    let (theirs, count) = hq_events(&setup.db_url).await;
    let tickets = issued.load(Ordering::Relaxed);
    assert!(tickets > 50, "only {tickets} tickets issued under load");
    assert!(ours.len() as u64 > tickets);
    // No holes: the hub's sequence runs 1..=N.
    let seqs: Vec<i64> = ours.keys().map(|(_, s)| *s).collect();
    assert_eq!(seqs, (1..=ours.len() as i64).collect::<Vec<_>>());
    // Exactly the same events at headquarters: same count, same contents, once each.
    assert_eq!(count, ours.len() as i64);
    assert_eq!(theirs, ours);
    println!(
        "{rounds} rounds: {tickets} tickets, {} events, all at headquarters exactly once",
        ours.len()
    );
}
