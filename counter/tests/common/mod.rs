//! The real parts the counter's tests run against: a hub on 127.0.0.1 (the hub's testkit,
//! or one on a fixed address so it can be stopped and started again), the printer
//! simulator on TCP, and the payment terminal simulator on the far end of a real pty pair.

#![allow(dead_code)]

pub(crate) mod window;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use counter::desk::{Desk, DeskConfig};
use counter::devices::{DeskPrinter, Devices, counter_profile};
use counter::options::PrinterTarget;
use domain::{Fen, PriorityClass, ServiceType};
use hardware::printer::PaperWidth;
use hardware::printer::render;
use hardware::printer::sim::{SimPrinter, SimPrinterHandle};
use hardware::terminal::sim::PtySim;
use hardware::terminal::{
    Journal, LineFormat, PaymentTerminal, SimHandle, SimTiming, TeliumConfig, TeliumTerminal,
    Timeouts,
};
use hub::testkit::{TestHub, config};
use protocol::devices::{DeviceRole, Pairing};
use protocol::{
    Contact, ContactConsent, HubClient, Intake, IntakeReceipt, IssueTicket, KioskIntake,
};
use tokio::sync::oneshot;
use ui::Lang;

/// Staff for the tests (PIN 1234): `sup` serves everything; `tech` holds only the repair
/// certificate; `clerk` holds no certificate. Follow-up calls are due at once.
pub(crate) const STAFF: &str = r#"
[[staff]]
id = "tech"
name = "李师傅"
role = "staff"
secret_hash = "{PIN}"
skills = [{ skill = "repair" }]

[[staff]]
id = "clerk"
name = "王芳"
role = "staff"
secret_hash = "{PIN}"

[follow_up]
after_hours = 0
"#;

pub(crate) async fn hub() -> TestHub {
    TestHub::start(config(STAFF)).await
}

/// The example centre of `config/servicehall.example.toml` (Pudong, staff `zhang.wei`
/// with PIN 2580), follow-up calls due at once.
pub(crate) fn example_centre() -> hub::Config {
    example_centre_and("")
}

/// The example centre with `extra` TOML appended (more staff, say).
pub(crate) fn example_centre_and(extra: &str) -> hub::Config {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/servicehall.example.toml"
    );
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("after_hours = 24", "after_hours = 0")
        + extra;
    let mut cfg = hub::Config::from_toml_str(&text, "servicehall.example.toml").unwrap();
    // The station under test talks plain HTTP to its test hub (mutual TLS is tested in hub).
    cfg.security.transport = hub::Transport::Plain;
    cfg
}

/// A hub on a fixed address that can be stopped and started again on the same data.
pub(crate) struct FixedHub {
    pub(crate) addr: SocketAddr,
    pub(crate) url: String,
    pub(crate) dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), hub::HubError>>>,
}

impl FixedHub {
    pub(crate) async fn start() -> FixedHub {
        let dir = tempfile::tempdir().unwrap().keep();
        FixedHub::start_at(dir, "127.0.0.1:0".parse().unwrap()).await
    }

    pub(crate) async fn start_at(dir: PathBuf, addr: SocketAddr) -> FixedHub {
        FixedHub::start_with(dir, addr, config(STAFF)).await
    }

    /// A hub with its own configuration, e.g. the example centre for screenshots.
    pub(crate) async fn start_with(dir: PathBuf, addr: SocketAddr, cfg: hub::Config) -> FixedHub {
        let mut listener = None;
        for _ in 0..250 {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let listener = listener.expect("could not bind the hub's address again");
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let (stop, stopped) = oneshot::channel::<()>();
        let opts = hub::HubOptions {
            data_dir: dir.clone(),
            config: cfg,
            clock: Some(hub::store::Clock::new(true)),
            open_day_on_start: true,
        };
        let task = tokio::spawn(hub::run(listener, opts, async move {
            let _ = stopped.await;
        }));
        let client = HubClient::new(url.clone());
        for _ in 0..500 {
            if client.health().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        FixedHub {
            addr,
            url,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub(crate) fn client(&self) -> HubClient {
        HubClient::new(self.url.clone())
    }

    /// Stops the hub; its address and data stay for a restart.
    pub(crate) async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// The printer simulator on 127.0.0.1, with its job folder.
pub(crate) struct Printer {
    pub(crate) sim: SimPrinterHandle,
    _dir: tempfile::TempDir,
}

impl Printer {
    pub(crate) fn start() -> Printer {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimPrinter::start(dir.path().join("jobs"), "127.0.0.1:0").unwrap();
        Printer { sim, _dir: dir }
    }

    pub(crate) fn target(&self) -> PrinterTarget {
        PrinterTarget::Tcp(self.sim.local_addr().to_string())
    }

    pub(crate) fn desk_printer(&self) -> DeskPrinter {
        DeskPrinter::new(self.target(), counter_profile("test-counter"))
    }

    /// Every document printed so far, as text lines (a job may hold several documents:
    /// the simulator ends a job after 2 s of silence, and each document ends with a cut).
    pub(crate) fn documents(&self) -> Vec<Vec<String>> {
        self.sim
            .jobs()
            .iter()
            .flat_map(|p| job_documents(p))
            .collect()
    }

    /// Waits (up to 10 s) until `n` documents were printed; returns them all.
    pub(crate) fn wait_docs(&self, n: usize) -> Vec<Vec<String>> {
        for _ in 0..500 {
            let docs = self.documents();
            if docs.len() >= n {
                return docs;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let docs = self.documents();
        assert!(
            docs.len() >= n,
            "the printer printed {} documents, expected {n}",
            docs.len()
        );
        docs
    }
}

/// The documents of a stored job, each as its text lines (decoded from the printer's
/// own bytes), split at the cuts.
pub(crate) fn job_documents(bin: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(bin).unwrap();
    let r = render::render(&bytes, PaperWidth::Mm80).unwrap();
    let mut docs: Vec<Vec<String>> = vec![Vec::new(); r.cuts.len() + 1];
    for (line, rows) in r.text_lines.iter().zip(&r.line_rows) {
        let i = r.cuts.iter().filter(|c| **c <= rows.start).count();
        if let Some(d) = docs.get_mut(i) {
            d.push(line.trim().to_owned());
        }
    }
    docs.retain(|d| !d.is_empty());
    docs
}

pub(crate) fn contains(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

/// Register timeouts generous enough for a loaded 2-core machine with socat in between
/// (the simulator's `reply` stays well above the register's `frame`).
pub(crate) fn terminal_config() -> TeliumConfig {
    TeliumConfig {
        line: LineFormat::EightN1,
        timeouts: Timeouts {
            ack: Duration::from_millis(600),
            frame: Duration::from_millis(600),
            answer: Duration::from_millis(1500),
            reconcile: Duration::from_millis(1000),
        },
        ..TeliumConfig::default()
    }
}

/// The terminal simulator on one end of a real pty pair; the counter opens the other.
pub(crate) struct PtyTerminal {
    pub(crate) sim: SimHandle,
    pub(crate) register_end: PathBuf,
    pub(crate) dir: tempfile::TempDir,
    // Dropped before `dir`: stops the simulator and the cable.
    _pty: PtySim,
}

impl PtyTerminal {
    pub(crate) fn start() -> PtyTerminal {
        let dir = tempfile::tempdir().unwrap();
        let pty = PtySim::start(
            dir.path(),
            LineFormat::EightN1,
            SimTiming {
                ack: Duration::from_millis(600),
                frame: Duration::from_millis(1000),
                reply: Duration::from_millis(2000),
                retries: 3,
            },
        )
        .expect("socat must be installed");
        PtyTerminal {
            sim: pty.handle().clone(),
            register_end: pty.register_end().to_path_buf(),
            dir,
            _pty: pty,
        }
    }

    pub(crate) fn journal_path(&self) -> PathBuf {
        self.dir.path().join("payments.journal")
    }

    /// The counter's side: protocol E on the pty, journalling to this terminal's journal.
    pub(crate) fn register(&self) -> Box<dyn PaymentTerminal> {
        self.register_with(terminal_config())
    }

    pub(crate) fn register_with(&self, cfg: TeliumConfig) -> Box<dyn PaymentTerminal> {
        Box::new(
            TeliumTerminal::open_serial(
                self.register_end.to_str().unwrap(),
                cfg,
                &self.journal_path(),
            )
            .unwrap(),
        )
    }

    /// A transaction journalled as started and never finished: what a power cut
    /// mid-sale leaves behind.
    pub(crate) fn leave_in_flight(&self, key: &str, amount: Fen) {
        let mut j = Journal::open(self.journal_path()).unwrap();
        j.begin(
            &hardware::terminal::IdempotencyKey::new(key).unwrap(),
            hardware::terminal::TransactionKind::Sale,
            amount,
        )
        .unwrap();
    }
}

/// A desk at `counter` of the hub at `url`.
pub(crate) fn desk(
    url: &str,
    counter: u32,
    printer: Option<DeskPrinter>,
    terminal: Option<Box<dyn PaymentTerminal>>,
) -> Desk {
    Desk::new(
        DeskConfig::new(url, counter, Lang::ZhCn),
        Devices { printer, terminal },
    )
}

pub(crate) fn intake() -> Intake {
    Intake {
        category: Some("phone".into()),
        product: Some("手机".into()),
        model: Some("X100".into()),
        serial_number: Some("SN-778899".into()),
        purchase_date: Some("2025-03-01".parse().unwrap()),
        problem: Some("无法开机".into()),
        problem_code: Some("no_power".into()),
        details: Some("摔过一次".into()),
    }
}

pub(crate) fn contact() -> Contact {
    Contact {
        name: Some("张伟".into()),
        phone: "13812345678".into(),
        address: Some("上海市浦东新区张江路88弄5号".into()),
        consent: ContactConsent {
            service_updates: true,
            queue_sms: false,
        },
        lang: None,
    }
}

/// A kiosk intake (request and ticket together), the fee list acknowledged for a paid
/// service as the kiosk does.
pub(crate) async fn kiosk_intake(kiosk: &HubClient, service: ServiceType) -> IntakeReceipt {
    let cat = kiosk.catalogue().await.unwrap();
    let entry = cat.services.iter().find(|s| s.service == service).unwrap();
    kiosk
        .intake(&KioskIntake {
            service,
            class: PriorityClass::Normal,
            intake: intake(),
            contact: Some(contact()),
            fees_acknowledged: entry.paid.then(|| entry.fee_digest.clone()),
            confirmed_by_customer: true,
            device: Some("kiosk-1".into()),
        })
        .await
        .unwrap()
}

/// A plain walk-in ticket.
pub(crate) async fn ticket(kiosk: &HubClient, service: ServiceType) -> protocol::TicketView {
    kiosk
        .issue_ticket(&IssueTicket {
            service,
            class: PriorityClass::Normal,
            channel: domain::Channel::OnSite,
            device: Some("kiosk-1".into()),
        })
        .await
        .unwrap()
        .ticket
}

/// The audit log's (staff, action, detail), straight from the hub's database file.
pub(crate) fn audit(dir: &Path) -> Vec<(Option<String>, String, String)> {
    let conn = rusqlite::Connection::open(dir.join(hub::DB_FILE)).unwrap();
    let mut stmt = conn
        .prepare("SELECT staff_id, action, detail FROM audit ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The administrator's password (GB/T 5.4: administrators sign in with a password of at
/// least 10 characters, never a PIN).
pub(crate) const ADMIN_PASSWORD: &str = "correct-horse-battery";

/// An administrator `boss` for a test hub's configuration (hashed once per process).
pub(crate) fn admin_staff() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = HASH.get_or_init(|| hub::auth::hash_secret(ADMIN_PASSWORD).unwrap());
    format!(
        "\n[[staff]]\nid = \"boss\"\nname = \"赵管理\"\nrole = \"admin\"\nsecret_hash = \"{hash}\"\n"
    )
}

/// A hub in mutual TLS mode (GB/T 5.4) on 127.0.0.1, as the appliances run it, with this
/// station enrolled as `counter-{n}` the way a real one is: a pairing code made on the
/// hub's box, then `servicehall enrol`'s own path (its key, the CA fingerprint checked).
pub(crate) struct SecureHub {
    /// `https://127.0.0.1:…`, as the station is configured.
    pub(crate) url: String,
    pub(crate) dir: PathBuf,
    /// The station's client: its certificate on every call.
    pub(crate) station: HubClient,
    pub(crate) counter: u32,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), hub::HubError>>>,
}

impl SecureHub {
    /// Serves `cfg` over mutual TLS; `pairings` are made on the hub's box before it serves
    /// (as the all-in-one does) and returned for the test to enrol with.
    pub(crate) async fn start(
        cfg: hub::Config,
        counter: u32,
        pairings: &[(DeviceRole, &str)],
    ) -> (SecureHub, Vec<Pairing>) {
        let mut cfg = cfg;
        cfg.security.transport = hub::Transport::Mtls;
        let dir = tempfile::tempdir().unwrap().keep();
        let open = hub::OpenHub::open(hub::HubOptions {
            data_dir: dir.clone(),
            config: cfg,
            clock: Some(hub::store::Clock::new(true)),
            open_day_on_start: true,
        })
        .await
        .unwrap();
        let station_id = format!("counter-{counter}");
        let mine = open
            .pairing(DeviceRole::Counter, &station_id)
            .await
            .unwrap();
        let mut made = Vec::new();
        for (role, id) in pairings {
            made.push(open.pairing(*role, id).await.unwrap());
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(open.serve(listener, async move {
            let _ = stopped.await;
        }));
        let ca_pem = std::fs::read_to_string(dir.join("pki").join("ca.pem")).unwrap();
        let anonymous = HubClient::unenrolled(url.clone(), &ca_pem).unwrap();
        for _ in 0..500 {
            if anonymous.health().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let identity = enrol(&url, &mine).await;
        let station = HubClient::for_device(url.clone(), Some(&identity)).unwrap();
        let hub = SecureHub {
            url,
            dir,
            station,
            counter,
            stop: Some(stop),
            task: Some(task),
        };
        (hub, made)
    }

    /// A desk of this station, on its own enrolled client.
    pub(crate) fn desk(&self, lang: Lang) -> Desk {
        Desk::with_hub(
            DeskConfig::new(self.url.clone(), self.counter, lang),
            Devices::default(),
            self.station.clone(),
        )
    }

    pub(crate) async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// Enrols a device with `pairing` at the hub at `url`, as `servicehall enrol` does.
pub(crate) async fn enrol(url: &str, p: &Pairing) -> protocol::DeviceIdentity {
    protocol::identity::enrol(url, &p.code, &p.ca_fingerprint, &p.device_id, p.role)
        .await
        .unwrap_or_else(|e| panic!("enrolling {}: {e}", p.device_id))
}
