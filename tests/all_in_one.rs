//! The all-in-one (`servicehall` with no subcommand, as the README's first command runs
//! it), headless: it enrols its own simulated devices over mutual TLS (GB/T 5.4), each
//! device can do what its role needs and nothing more, the simulated ticket button
//! issues and prints through its own certificate, an operator's revocation on the hub's
//! box takes effect on the device's next call, a device renews its own certificate, and a restart keeps the identities that
//! still work and enrols a revoked one anew.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use common::log_tail;
use domain::{Channel, PriorityClass, ServiceType};
use protocol::identity::DeviceIdentity;
use protocol::{HubClient, IssueTicket, Login};

struct AllInOne {
    child: Child,
    stdin: ChildStdin,
    url: String,
    log: PathBuf,
}

impl AllInOne {
    fn start(data: &Path, log: PathBuf) -> AllInOne {
        let mut child = Command::new(env!("CARGO_BIN_EXE_servicehall"))
            .env("SERVICEHALL_DATA_DIR", data)
            .env("SERVICEHALL_LISTEN", "127.0.0.1:0")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("start the all-in-one");
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let url = line
            .trim()
            .strip_prefix("servicehall hub listening on ")
            .unwrap_or_else(|| panic!("first line {line:?}; log:\n{}", log_tail(&log)))
            .to_owned();
        assert!(url.starts_with("https://"), "{url}");
        AllInOne {
            child,
            stdin,
            url,
            log,
        }
    }

    /// The client of one of the all-in-one's own devices (board, kiosk or counter), once the
    /// hub accepts it.
    async fn device(&self, data: &Path, id: &str) -> (DeviceIdentity, HubClient) {
        let dir = data.join("devices").join(id);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(identity) = DeviceIdentity::load(&dir) {
                let client = HubClient::for_device(self.url.clone(), Some(&identity)).unwrap();
                // Accepted by the hub (a revoked identity is replaced shortly after start).
                if client.queue().await.is_ok() {
                    return (identity, client);
                }
            }
            assert!(
                Instant::now() < deadline,
                "{id} never enrolled; log:\n{}",
                log_tail(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "no clean stop; log:\n{}",
                log_tail(&self.log)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for AllInOne {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn walk_in() -> IssueTicket {
    IssueTicket {
        service: ServiceType::Repair,
        class: PriorityClass::Normal,
        channel: Channel::OnSite,
        device: Some("kiosk-1".into()),
    }
}

fn refused(e: &protocol::ClientError) -> (u16, String) {
    match e {
        protocol::ClientError::Refused(p) => (p.status, p.code.clone()),
        other => panic!("expected a refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_all_in_one_enrols_its_own_devices_and_each_keeps_to_its_role() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut app = AllInOne::start(&data, tmp.path().join("run-1.log"));

    let (kiosk_id, kiosk) = app.device(&data, "kiosk-1").await;
    let (board_id, board) = app.device(&data, "board-1").await;
    let (counter_id, counter) = app.device(&data, "counter-1").await;
    assert_eq!(counter_id.role, protocol::DeviceRole::Counter);

    // Without a certificate only the health check answers (GB/T 5.4).
    assert!(HubClient::for_device(app.url.clone(), None).is_err());
    let ca = std::fs::read_to_string(data.join("pki").join("ca.pem")).unwrap();
    let stranger = HubClient::unenrolled(app.url.clone(), &ca).unwrap();
    stranger.health().await.unwrap();
    let e = stranger.queue().await.unwrap_err();
    assert_eq!(refused(&e), (401, "device_not_enrolled".into()));

    // The kiosk issues; it may not call or log staff in.
    let issued = kiosk.issue_ticket(&walk_in()).await.unwrap();
    let e = kiosk.call_next().await.unwrap_err();
    assert_eq!(refused(&e), (403, "role_not_allowed".into()));
    // The board reads the queue and issues nothing.
    let queue = board.queue().await.unwrap();
    let repair = queue
        .services
        .iter()
        .find(|q| q.service == ServiceType::Repair)
        .unwrap();
    assert_eq!(
        repair.waiting, 1,
        "the board sees the kiosk's ticket waiting"
    );
    let e = board.issue_ticket(&walk_in()).await.unwrap_err();
    assert_eq!(refused(&e), (403, "role_not_allowed".into()));

    // The counter logs in the generated admin and calls the kiosk's ticket.
    let password = std::fs::read_to_string(data.join("initial-admin-password")).unwrap();
    let session = counter
        .login(&Login {
            staff_id: "admin".into(),
            secret: password.trim().into(),
            counter: Some(1),
            device: Some("counter-1".into()),
        })
        .await
        .unwrap();
    let called = counter
        .with_token(session.token)
        .call_next()
        .await
        .unwrap()
        .expect("a ticket to call");
    assert_eq!(called.number, issued.ticket.number);

    // The board renews its certificate (a new key, the same id and role): the new one
    // works and the old one is refused at once.
    let renewed = protocol::identity::renew(&app.url, &board_id)
        .await
        .unwrap();
    assert_eq!(
        (renewed.device_id.as_str(), renewed.role),
        ("board-1", protocol::DeviceRole::Board)
    );
    assert_ne!(renewed.key_pem, board_id.key_pem, "a new key");
    assert!(renewed.not_after().unwrap() > chrono::Utc::now() + chrono::Duration::days(300));
    HubClient::for_device(app.url.clone(), Some(&renewed))
        .unwrap()
        .queue()
        .await
        .unwrap();
    let e = board.queue().await.unwrap_err();
    assert_eq!(refused(&e), (403, "device_revoked".into()));

    // Enter on the console is the simulated ticket button (its own kiosk-role device):
    // the ticket is issued and printed.
    let jobs = data.join("printer-jobs");
    let printed_before = std::fs::read_dir(&jobs).map_or(0, |d| d.count());
    app.stdin.write_all(b"\n").unwrap();
    app.stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(&jobs).map_or(0, |d| d.count()) <= printed_before {
        assert!(
            Instant::now() < deadline,
            "the button's ticket never printed; log:\n{}",
            log_tail(&app.log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The operator revokes the kiosk on the hub's box: its very next call is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_servicehall"))
        .args(["devices", "revoke", "kiosk-1", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = kiosk.issue_ticket(&walk_in()).await.unwrap_err();
    assert_eq!(refused(&e), (403, "device_revoked".into()));
    let listed = Command::new(env!("CARGO_BIN_EXE_servicehall"))
        .args(["devices", "list", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("kiosk-1") && l.contains("REVOKED")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("counter-1") && l.contains("valid until")),
        "{listed}"
    );
    app.stop();

    // A restart keeps every working identity and enrols the revoked kiosk anew.
    let app = AllInOne::start(&data, tmp.path().join("run-2.log"));
    let (again, counter) = app.device(&data, "counter-1").await;
    assert_eq!(again.cert_pem, counter_id.cert_pem);
    counter.queue().await.unwrap();
    let (new_kiosk, kiosk) = app.device(&data, "kiosk-1").await;
    assert_ne!(new_kiosk.cert_pem, kiosk_id.cert_pem, "a new certificate");
    kiosk.issue_ticket(&walk_in()).await.unwrap();
    app.stop();
}
