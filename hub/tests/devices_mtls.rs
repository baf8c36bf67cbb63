//! GB/T 5.4, 5.6.2: the hub in mutual TLS mode, over real TLS on 127.0.0.1. Devices enrol
//! with one-time pairing codes and a key of their own; every call is checked against the
//! certificate's role, each refusal is audited, a revocation holds on the next request,
//! and the waiting-area screens get the public event stream.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hub::testkit::{PIN, config};
use protocol::devices::{DeviceRole, DeviceView, EnrolRequest, Enrolled, NewPairing, Pairing};
use protocol::{IssuedTicket, Problem, QueueSnapshot, TicketView};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

const ADMIN_PASSWORD: &str = "correct-horse-battery";

struct Hub {
    base: String,
    addr: SocketAddr,
    dir: PathBuf,
    cfg: hub::Config,
    ca_pem: String,
    fingerprint: String,
    /// Made with `OpenHub::pairing` before serving, as the all-in-one launcher does.
    counter_pairing: Pairing,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), hub::HubError>>>,
}

/// The mutual TLS configuration of the test hubs, with `extra` TOML and an administrator.
fn mtls_config(extra: &str) -> hub::Config {
    let admin_hash = hub::auth::hash_secret(ADMIN_PASSWORD).unwrap();
    let mut cfg = config(&format!(
        "{extra}\n[[staff]]\nid = \"boss\"\nname = \"Boss\"\nrole = \"admin\"\nsecret_hash = \"{admin_hash}\"\n"
    ));
    cfg.security.transport = hub::Transport::Mtls;
    cfg
}

impl Hub {
    async fn start(extra: &str) -> Hub {
        Hub::start_in(tempfile::tempdir().unwrap().keep(), extra).await
    }

    /// A hub on the data in `dir` (a new one, or one stopped before).
    async fn start_in(dir: PathBuf, extra: &str) -> Hub {
        let cfg = mtls_config(extra);
        let open = hub::OpenHub::open(hub::HubOptions {
            data_dir: dir.clone(),
            config: cfg.clone(),
            clock: Some(hub::store::Clock::new(true)),
            open_day_on_start: true,
        })
        .await
        .unwrap();
        open.health_probe().check().await.unwrap();
        let fingerprint = open.ca_fingerprint();
        let counter_pairing = open
            .pairing(DeviceRole::Counter, "counter-1")
            .await
            .unwrap();
        assert_eq!(counter_pairing.ca_fingerprint, fingerprint);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(open.serve(listener, async move {
            let _ = stopped.await;
        }));
        let ca_pem = std::fs::read_to_string(dir.join("pki").join("ca.pem")).unwrap();
        let hub = Hub {
            base: format!("https://{addr}/api/v1"),
            addr,
            dir,
            cfg,
            ca_pem,
            fingerprint,
            counter_pairing,
            stop: Some(stop),
            task: Some(task),
        };
        let anon = hub.anonymous();
        for _ in 0..500 {
            if anon.get(hub.url("/health")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        hub
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client that trusts only this hub's CA and shows no certificate.
    fn anonymous(&self) -> reqwest::Client {
        http_client(tls_config(&self.ca_pem, None))
    }

    /// Enrols a device with a key of its own; panics unless the hub accepts.
    async fn enrol(&self, role: DeviceRole, device_id: &str, code: &str) -> Device {
        let key = KeyPair::generate().unwrap();
        let resp = self.try_enrol(role, device_id, code, &csr(&key)).await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{:?}",
            resp.text().await
        );
        let enrolled: Enrolled = resp.json().await.unwrap();
        assert_eq!(enrolled.ca_pem, self.ca_pem);
        let tls = tls_config(
            &self.ca_pem,
            Some((&enrolled.certificate_pem, &key.serialize_pem())),
        );
        Device {
            id: device_id.to_owned(),
            base: self.base.clone(),
            http: http_client(tls.clone()),
            tls,
            enrolled,
        }
    }

    async fn try_enrol(
        &self,
        role: DeviceRole,
        device_id: &str,
        code: &str,
        csr_pem: &str,
    ) -> reqwest::Response {
        self.anonymous()
            .post(self.url("/enrol"))
            .json(&EnrolRequest {
                code: code.into(),
                device_id: device_id.into(),
                role,
                csr_pem: csr_pem.into(),
            })
            .send()
            .await
            .unwrap()
    }

    /// The audit entries with `action`: (device, detail).
    fn audit(&self, action: &str) -> Vec<(Option<String>, String)> {
        let conn = rusqlite::Connection::open(self.dir.join(hub::DB_FILE)).unwrap();
        let mut stmt = conn
            .prepare("SELECT device, detail FROM audit WHERE action = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([action], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// An administrator's session on `counter`, and a pairing made with it.
    async fn pairing_via_api(
        &self,
        counter: &Device,
        role: DeviceRole,
        device_id: &str,
    ) -> Pairing {
        let token = counter.login("boss", ADMIN_PASSWORD).await;
        let resp = counter
            .http
            .post(self.url("/devices/pairings"))
            .bearer_auth(&token)
            .json(&NewPairing {
                role,
                device_id: device_id.into(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    /// The counter enrolled with the pairing made when the hub opened.
    async fn first_counter(&self) -> Device {
        self.enrol(DeviceRole::Counter, "counter-1", &self.counter_pairing.code)
            .await
    }

    /// A device paired by an administrator at `counter` and enrolled.
    async fn paired(&self, counter: &Device, role: DeviceRole, device_id: &str) -> Device {
        let p = self.pairing_via_api(counter, role, device_id).await;
        self.enrol(role, device_id, &p.code).await
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .expect("the hub stops within the grace period")
                .unwrap()
                .expect("the hub stopped cleanly");
        }
    }
}

struct Device {
    id: String,
    /// The hub's API base URL.
    base: String,
    http: reqwest::Client,
    tls: Arc<rustls::ClientConfig>,
    enrolled: Enrolled,
}

impl Device {
    async fn login(&self, staff_id: &str, secret: &str) -> String {
        let resp = self
            .http
            .post(format!("{}/sessions", self.base))
            .json(
                &json!({ "staff_id": staff_id, "secret": secret, "counter": 1, "device": self.id }),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{:?}",
            resp.text().await
        );
        resp.json::<serde_json::Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

fn tls_config(ca_pem: &str, identity: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    Arc::new(config)
}

fn http_client(tls: Arc<rustls::ClientConfig>) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn csr(key: &KeyPair) -> String {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "please make me an admin");
    p.serialize_request(key).unwrap().pem().unwrap()
}

async fn problem(resp: reqwest::Response) -> Problem {
    let status = resp.status().as_u16();
    let p: Problem = resp.json().await.unwrap();
    assert_eq!(p.status, status);
    p
}

fn sha256_fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    protocol::devices::format_fingerprint(&sha2::Sha256::digest(der).into())
}

/// Opens the event stream over TLS as the holder of `tls`; returns the socket.
async fn event_stream(
    hub: &Hub,
    tls: Arc<rustls::ClientConfig>,
) -> tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(hub.addr).await.unwrap();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(ServerName::from(hub.addr.ip()), tcp)
        .await
        .unwrap();
    let (ws, _) = tokio_tungstenite::client_async(
        format!("wss://{}/api/v1/events?since=0", hub.addr),
        stream,
    )
    .await
    .unwrap();
    ws
}

/// Every text message the stream sends within `wait` after the last one.
async fn drain(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    >,
    wait: Duration,
) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(wait, ws.next()).await {
        if let Message::Text(t) = msg {
            out.push(t.to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_only_enrolment_and_health_are_reachable() {
    // GB/T 5.4
    let hub = Hub::start("").await;
    let anon = hub.anonymous();
    let health = anon.get(hub.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // The CA as PEM text, the bytes of ca.pem, with the fingerprint the hub announces.
    let ca = anon.get(hub.url("/enrol/ca")).send().await.unwrap();
    assert_eq!(ca.status(), StatusCode::OK);
    assert!(
        ca.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let pem = ca.text().await.unwrap();
    assert_eq!(pem, hub.ca_pem);
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    assert_eq!(sha256_fingerprint(&der), hub.fingerprint);

    let resp = anon.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(resp).await.code, "device_not_enrolled");
    let resp = anon
        .post(hub.url("/sessions"))
        .json(&json!({ "staff_id": "sup", "secret": PIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(resp).await.code, "device_not_enrolled");
    // GB/T 5.6.2.3: a refusal is audited, with the route and the address; the same
    // refusal from the same address again within the minute is not (no flooding).
    let refused = hub.audit("access_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0.as_deref(), Some("unknown device"));
    assert!(
        refused[0].1.contains("GET /queue from 127.0.0.1:")
            && refused[0].1.contains("device_not_enrolled"),
        "{refused:?}"
    );
    for _ in 0..20 {
        let r = anon.get(hub.url("/queue")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(hub.audit("access_refused").len(), 1);

    // Unknown routes are still a plain 404; the public status page is outside the API.
    let resp = anon.get(hub.url("/no-such-thing")).send().await.unwrap();
    assert_eq!(problem(resp).await.code, "no_such_endpoint");
    let page = anon
        .get(format!(
            "https://{}/s/test-centre/AAAAAAAAAAAAAAAAAAAAAA",
            hub.addr
        ))
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), StatusCode::UNAUTHORIZED);
    // Plain HTTP to the TLS port gets nothing.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/api/v1/health", hub.addr))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_fails_the_handshake() {
    // GB/T 5.4: only the hub's own CA vouches for a device.
    let hub = Hub::start("").await;
    let foreign_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "servicehall hub CA test-centre");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let foreign_ca = ca_params.self_signed(&foreign_key).unwrap();
    let device_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, "counter-1");
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, "counter");
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&device_key, &foreign_ca, &foreign_key).unwrap();
    let client = http_client(tls_config(
        &hub.ca_pem,
        Some((&cert.pem(), &device_key.serialize_pem())),
    ));
    let result = client.get(hub.url("/health")).send().await;
    assert!(result.is_err(), "the handshake must fail: {result:?}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_counter_logs_in_staff_and_calls_next() {
    let hub = Hub::start("").await;
    let code = hub.counter_pairing.code.clone();
    assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "{code}");
    let counter = hub.enrol(DeviceRole::Counter, "counter-1", &code).await;

    // The certificate names the device and its role, whatever the request asked for.
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(counter.enrolled.certificate_pem.as_bytes()).unwrap();
    let cert = pem.parse_x509().unwrap();
    let cn = cert.subject().iter_common_name().next().unwrap();
    let ou = cert.subject().iter_organizational_unit().next().unwrap();
    assert_eq!(cn.as_str().unwrap(), "counter-1");
    assert_eq!(ou.as_str().unwrap(), "counter");
    let days = (counter.enrolled.not_after - chrono::Utc::now()).num_days();
    assert!((396..=397).contains(&days), "{days}");
    let enrolled = hub.audit("device_enrolled");
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].0.as_deref(), Some("counter-1"));

    // A counter does everything staff do, with a logged-in staff member.
    let resp = counter
        .http
        .post(hub.url("/call-next"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(resp).await.code, "login_required");
    let token = counter.login("sup", PIN).await;
    let issued: IssuedTicket = counter
        .http
        .post(hub.url("/tickets"))
        .json(&json!({ "service": "repair" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let called: Option<TicketView> = counter
        .http
        .post(hub.url("/call-next"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(called.unwrap().id, issued.ticket.id);

    // A supervisor sees the devices; only an administrator makes pairing codes.
    let list: Vec<DeviceView> = counter
        .http
        .get(hub.url("/devices"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].device_id, "counter-1");
    assert_eq!(
        list[0].fingerprint,
        sha256_fingerprint(pem.contents.as_slice())
    );
    let resp = counter
        .http
        .post(hub.url("/devices/pairings"))
        .bearer_auth(&token)
        .json(&NewPairing {
            role: DeviceRole::Kiosk,
            device_id: "kiosk-1".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let pairing = hub
        .pairing_via_api(&counter, DeviceRole::Kiosk, "kiosk-1")
        .await;
    assert_eq!(pairing.ca_fingerprint, hub.fingerprint);
    assert_eq!(hub.audit("device_pairing_created").len(), 2);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_and_a_board_reach_only_what_their_role_needs() {
    // GB/T 5.4: least privilege per device role.
    let hub = Hub::start("").await;
    let counter = hub.first_counter().await;
    let kiosk = hub.paired(&counter, DeviceRole::Kiosk, "kiosk-1").await;
    let board = hub.paired(&counter, DeviceRole::Board, "board-1").await;

    // The kiosk issues and confirms its print, and reads what a customer needs. It gets
    // its own ticket's token (for the QR code), and acts under its certificate's id
    // whatever its body says.
    let resp = kiosk
        .http
        .post(hub.url("/tickets"))
        .json(&json!({ "service": "repair", "class": "priority", "device": "kiosk-9" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let issued: IssuedTicket = resp.json().await.unwrap();
    let id = issued.ticket.id;
    assert!(!issued.ticket.status_token.is_empty());
    let printed = kiosk
        .http
        .post(hub.url(&format!("/tickets/{id}/printed")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(printed.status(), StatusCode::OK);
    let printed: TicketView = printed.json().await.unwrap();
    assert!(printed.printed && printed.status_token.is_empty());
    let conn = rusqlite::Connection::open(hub.dir.join(hub::DB_FILE)).unwrap();
    let device: String = conn
        .query_row("SELECT device FROM tickets WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(device, "kiosk-1");
    let r = kiosk
        .http
        .post(hub.url("/alerts"))
        .json(&json!({ "device": "counter-1", "kind": "printer_paper_out", "active": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for path in ["/catalogue", "/queue", "/knowledge", "/health"] {
        let r = kiosk.http.get(hub.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "kiosk GET {path}");
    }
    // ...but never acts for staff or reads lists.
    let mut details = Vec::new();
    for (method, path) in [
        ("POST", "/call-next".to_owned()),
        ("POST", "/sessions".to_owned()),
        ("POST", format!("/tickets/{id}/call")),
        ("POST", format!("/tickets/{id}/void")),
        ("GET", "/alerts".to_owned()),
        ("GET", "/queue/waiting".to_owned()),
        ("GET", "/devices".to_owned()),
        ("GET", format!("/tickets/{id}")),
        // GB/T 5.4: booking needs staff; the kiosk only checks in.
        ("POST", "/appointments".to_owned()),
    ] {
        let req = match method {
            "POST" => kiosk.http.post(hub.url(&path)).json(&json!({})),
            _ => kiosk.http.get(hub.url(&path)),
        };
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::FORBIDDEN,
            "kiosk {method} {path}"
        );
        let p = problem(resp).await;
        assert_eq!(p.code, "role_not_allowed", "kiosk {method} {path}");
        assert!(p.detail.contains("kiosk"), "{}", p.detail);
        details.push(p.detail);
    }
    // A ticket action is named in the refusal...
    assert!(
        details
            .iter()
            .any(|d| d.contains("POST /tickets/{id}/call")),
        "{details:?}"
    );
    // ...and the kiosk's refusals are audited once this minute (GB/T 5.6.2.3).
    let refused = hub.audit("access_refused");
    let of_kiosk: Vec<&String> = refused
        .iter()
        .filter(|(d, _)| d.as_deref() == Some("kiosk-1"))
        .map(|(_, detail)| detail)
        .collect();
    assert_eq!(of_kiosk.len(), 1, "{refused:?}");
    assert!(
        of_kiosk[0].contains("POST /call-next")
            && of_kiosk[0].contains("role kiosk")
            && of_kiosk[0].contains("role_not_allowed"),
        "{refused:?}"
    );

    // The board reads the queue and nothing it could change.
    let r = board.http.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = board
        .http
        .post(hub.url("/tickets"))
        .json(&json!({ "service": "repair" }))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.code, "role_not_allowed");
    // Another device on the same address is audited on its own.
    assert!(
        hub.audit("access_refused")
            .iter()
            .any(|(d, detail)| d.as_deref() == Some("board-1") && detail.contains("POST /tickets")),
    );

    // The board's stream is the public one: the ticket's status token never reaches it,
    // while a counter's stream carries it.
    let token = issued.ticket.status_token.clone();
    assert!(!token.is_empty());
    let staff = counter.login("sup", PIN).await;
    counter
        .http
        .post(hub.url("/call-next"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    // The alert the kiosk raised is its own, whatever device its body named.
    let alerts: Vec<protocol::AlertView> = counter
        .http
        .get(hub.url("/alerts"))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let devices: Vec<&str> = alerts.iter().map(|a| a.device.as_str()).collect();
    assert_eq!(devices, ["kiosk-1"]);

    // GB/T 5.4: the queue the board and the kiosk read is the public one (the ticket at
    // the counter without its token, its staff member or its priority class), while
    // the counter's carries them.
    let full: QueueSnapshot = counter
        .http
        .get(hub.url("/queue"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(full.at_counters.len(), 1);
    let at_counter = &full.at_counters[0];
    assert_eq!(at_counter.id, id);
    assert_eq!(at_counter.status_token, token);
    assert_eq!(at_counter.staff_id.as_deref(), Some("sup"));
    assert_eq!(at_counter.class, domain::PriorityClass::Priority);
    for screen in [&board, &kiosk] {
        let body = screen
            .http
            .get(hub.url("/queue"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!body.contains(&token), "{body}");
        assert!(!body.contains("\"sup\""), "{body}");
        assert!(!body.contains("\"priority\""), "{body}");
        let public: QueueSnapshot = serde_json::from_str(&body).unwrap();
        assert_eq!(public.at_counters.len(), 1);
        let t = &public.at_counters[0];
        assert_eq!(
            (t.id, t.number.as_str(), t.counter),
            (id, at_counter.number.as_str(), Some(1))
        );
        assert!(t.status_token.is_empty() && t.staff_id.is_none());
        assert_eq!(t.class, domain::PriorityClass::Normal);
        assert_eq!(public.services, full.services);
    }
    // The kiosk may confirm any ticket's print, but learns no token or staff by it.
    let again: TicketView = kiosk
        .http
        .post(hub.url(&format!("/tickets/{id}/printed")))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(again.status_token.is_empty() && again.staff_id.is_none());
    assert_eq!(again.class, domain::PriorityClass::Normal);

    let mut ws = event_stream(&hub, board.tls.clone()).await;
    let public = drain(&mut ws, Duration::from_millis(500)).await;
    assert!(public.iter().any(|m| m.contains("ticket_issued")));
    assert!(public.iter().any(|m| m.contains("ticket_called")));
    assert!(public.iter().all(|m| !m.contains(&token)), "{public:?}");
    assert!(public.iter().all(|m| !m.contains("\"sup\"")), "{public:?}");
    let mut ws = event_stream(&hub, counter.tls.clone()).await;
    let full = drain(&mut ws, Duration::from_millis(500)).await;
    assert!(full.iter().any(|m| m.contains(&token)));
    assert_eq!(full.len(), public.len(), "the public stream has no gaps");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_refused_at_once_on_its_open_connection() {
    // GB/T 5.4: revocation holds from the next request, kept-alive connection or not.
    let hub = Hub::start("").await;
    let counter = hub.first_counter().await;
    let kiosk = hub.paired(&counter, DeviceRole::Kiosk, "kiosk-1").await;
    // The command line on the hub box pairs a board while the hub runs.
    let p = hub::devices::pair(&hub.dir, &hub.cfg, DeviceRole::Board, "board-1")
        .await
        .unwrap();
    assert_eq!(p.ca_fingerprint, hub.fingerprint);
    let board = hub.enrol(DeviceRole::Board, "board-1", &p.code).await;
    let mut board_events = event_stream(&hub, board.tls.clone()).await;

    let r = kiosk.http.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A refusal now records the connection's address...
    let r = kiosk.http.post(hub.url("/call-next")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let admin = counter.login("boss", ADMIN_PASSWORD).await;
    let revoked: DeviceView = counter
        .http
        .post(hub.url("/devices/kiosk-1/revoke"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(hub.audit("device_revoked").len(), 1);

    let r = kiosk.http.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(r).await.code, "device_revoked");
    // ...and the refusal after revocation came over the very same connection.
    let refused = hub.audit("access_refused");
    let ports: Vec<&str> = refused
        .iter()
        .filter(|(d, _)| d.as_deref() == Some("kiosk-1"))
        .map(|(_, detail)| {
            detail
                .split("127.0.0.1:")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(ports.len(), 2, "{refused:?}");
    assert_eq!(ports[0], ports[1], "one kept-alive connection: {refused:?}");
    assert!(refused.iter().any(|(_, d)| d.contains("device_revoked")));

    // The command line revokes the board; its event stream ends within seconds.
    let _ = drain(&mut board_events, Duration::from_millis(200)).await;
    let view = hub::devices::revoke(&hub.dir, &hub.cfg, "board-1")
        .await
        .unwrap();
    assert!(view.revoked_at.is_some());
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match board_events.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "a revoked board's stream must end");
    let r = board.http.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(problem(r).await.code, "device_revoked");

    let devices = hub::devices::list(&hub.dir, &hub.cfg).await.unwrap();
    let ids: Vec<(&str, bool)> = devices
        .iter()
        .map(|d| (d.device_id.as_str(), d.revoked_at.is_some()))
        .collect();
    assert_eq!(
        ids,
        [("board-1", true), ("counter-1", false), ("kiosk-1", true)]
    );
    // Both revocations, by the API and by the command line, are on the hub's own list.
    let listed = std::fs::read_to_string(hub.dir.join("pki").join("revoked")).unwrap();
    let revoked_fps: Vec<&str> = devices
        .iter()
        .filter(|d| d.revoked_at.is_some())
        .map(|d| d.fingerprint.as_str())
        .collect();
    for fp in &revoked_fps {
        assert!(listed.lines().any(|l| l == *fp), "{fp} in {listed}");
    }
    assert_eq!(listed.lines().count(), 2, "{listed}");
    // The counter is untouched.
    let r = counter.http.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairing_code_is_one_time_bound_to_its_device_and_expires() {
    // GB/T 5.4
    let hub = Hub::start("[security]\nfailed_logins_per_minute = 5\n").await;
    let code = hub.counter_pairing.code.clone();
    let key = KeyPair::generate().unwrap();
    let request = csr(&key);

    // Bad input is named, and is not a guess.
    let r = hub
        .try_enrol(DeviceRole::Counter, "counter 1", &code, &request)
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(r).await.field.as_deref(), Some("device_id"));
    let r = hub
        .try_enrol(DeviceRole::Counter, "counter-1", &code, "not a request")
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(r).await.field.as_deref(), Some("csr_pem"));

    // Bound to its role and its device id; every refusal reads the same.
    let mut details = Vec::new();
    for (role, id) in [
        (DeviceRole::Kiosk, "counter-1"),
        (DeviceRole::Counter, "counter-2"),
    ] {
        let r = hub.try_enrol(role, id, &code, &request).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let p = problem(r).await;
        assert_eq!(p.code, "pairing_refused");
        details.push(p.detail);
    }
    // One time only.
    hub.enrol(DeviceRole::Counter, "counter-1", &code).await;
    let r = hub
        .try_enrol(DeviceRole::Counter, "counter-1", &code, &request)
        .await;
    let p = problem(r).await;
    assert_eq!(p.code, "pairing_refused");
    details.push(p.detail);

    // Expired: the code's window is moved into the past in the database.
    let p = hub::devices::pair(&hub.dir, &hub.cfg, DeviceRole::Kiosk, "kiosk-1")
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(hub.dir.join(hub::DB_FILE)).unwrap();
    conn.execute(
        "UPDATE pairing_codes SET expires_at = ?1 WHERE device_id = 'kiosk-1'",
        [chrono::Utc::now() - chrono::Duration::seconds(1)],
    )
    .unwrap();
    let r = hub
        .try_enrol(DeviceRole::Kiosk, "kiosk-1", &p.code, &request)
        .await;
    let p = problem(r).await;
    assert_eq!(p.code, "pairing_refused");
    details.push(p.detail);
    details.dedup();
    assert_eq!(details.len(), 1, "a refusal never says which check failed");
    let refused = hub.audit("enrol_refused");
    let reasons: Vec<&str> = refused.iter().map(|(_, d)| d.as_str()).collect();
    assert!(
        reasons[0].contains("is for counter device counter-1"),
        "{reasons:?}"
    );
    assert!(reasons[2].contains("already used"), "{reasons:?}");
    assert!(reasons[3].contains("expired"), "{reasons:?}");

    // Guessing is limited per address like failed logins (five a minute here).
    let r = hub
        .try_enrol(DeviceRole::Kiosk, "kiosk-1", "0000-0000", &request)
        .await;
    assert_eq!(problem(r).await.code, "pairing_refused");
    let r = hub
        .try_enrol(DeviceRole::Kiosk, "kiosk-1", "0000-0001", &request)
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(hub.audit("enrol_rate_limited").len(), 1);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_audited_briefly_and_at_most_once_a_minute() {
    // GB/T 5.6.2.3: a refused caller cannot write long or forged-looking text into the
    // audit log, nor flood it.
    let hub = Hub::start("").await;
    let counter = hub.first_counter().await;
    let kiosk = hub.paired(&counter, DeviceRole::Kiosk, "kiosk-1").await;
    let forged = format!(
        "{}%0A2026-03-02T09:00:00Z%20boss%20device_revoked%20ok",
        "x".repeat(30_000)
    );
    for _ in 0..10 {
        let r = kiosk
            .http
            .post(hub.url(&format!("/tickets/1/{forged}")))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let p = problem(r).await;
        assert!(
            p.detail
                .ends_with("may not call POST /tickets/{id}/{action}"),
            "{}",
            p.detail
        );
    }
    let refused = hub.audit("access_refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    let (device, detail) = &refused[0];
    assert_eq!(device.as_deref(), Some("kiosk-1"));
    assert!(
        detail.contains("POST /tickets/{id}/{action} from 127.0.0.1:"),
        "{detail}"
    );
    assert!(detail.len() < 200, "{detail}");
    assert!(
        !detail.contains('\n') && !detail.contains("xxx"),
        "{detail}"
    );

    // A counter reaches the handler, which names no more than a short, escaped part.
    let r = counter
        .http
        .post(hub.url(&format!("/tickets/1/{forged}")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let p = problem(r).await;
    assert_eq!(p.code, "no_such_action");
    assert!(
        p.detail.len() < 100 && !p.detail.contains('\n'),
        "{}",
        p.detail
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_at_pairing_codes_get_no_further_than_the_limit() {
    // GB/T 5.4, 5.6.2: each guess is counted the moment it is let through.
    let hub = Hub::start("[security]\nfailed_logins_per_minute = 5\n").await;
    let request = csr(&KeyPair::generate().unwrap());
    let anon = hub.anonymous();
    let guesses: Vec<_> = (0..50)
        .map(|n| {
            let (anon, url) = (anon.clone(), hub.url("/enrol"));
            let body = EnrolRequest {
                code: format!("0000-{n:04}"),
                device_id: "kiosk-1".into(),
                role: DeviceRole::Kiosk,
                csr_pem: request.clone(),
            };
            tokio::spawn(async move {
                let r = anon.post(url).json(&body).send().await.unwrap();
                problem(r).await.code
            })
        })
        .collect();
    let mut codes = Vec::new();
    for g in guesses {
        codes.push(g.await.unwrap());
    }
    let count = |c: &str| codes.iter().filter(|x| *x == c).count();
    assert_eq!(count("pairing_refused"), 5, "{codes:?}");
    assert_eq!(count("too_many_attempts"), 45, "{codes:?}");
    assert_eq!(hub.audit("enrol_refused").len(), 5);
    // Only the first refusal of the stretch is audited, with the validated device id.
    let limited = hub.audit("enrol_rate_limited");
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert!(limited[0].1.contains("kiosk device kiosk-1"), "{limited:?}");
    // No certificate was made for a wrong code.
    assert!(
        hub::devices::list(&hub.dir, &hub.cfg)
            .await
            .unwrap()
            .is_empty()
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn too_many_refused_enrolments_close_enrolment_for_the_minute() {
    // GB/T 5.6.2: guessing from many addresses at once gets no further than from one
    // (here one address with a generous limit of its own stands in for them).
    let hub = Hub::start("[security]\nfailed_logins_per_minute = 1000\n").await;
    let request = csr(&KeyPair::generate().unwrap());
    let anon = hub.anonymous();
    let cap = hub::api::REFUSED_ENROLMENTS_PER_MINUTE as usize;
    for batch in 0..cap / 20 {
        let guesses: Vec<_> = (0..20)
            .map(|n| {
                let (anon, url) = (anon.clone(), hub.url("/enrol"));
                let body = EnrolRequest {
                    code: format!("0000-{:04}", batch * 20 + n),
                    device_id: "kiosk-1".into(),
                    role: DeviceRole::Kiosk,
                    csr_pem: request.clone(),
                };
                tokio::spawn(async move {
                    let r = anon.post(url).json(&body).send().await.unwrap();
                    problem(r).await.code
                })
            })
            .collect();
        for g in guesses {
            assert_eq!(g.await.unwrap(), "pairing_refused");
        }
    }
    // Now even the right code is refused, for the rest of the minute.
    let r = hub
        .try_enrol(
            DeviceRole::Counter,
            "counter-1",
            &hub.counter_pairing.code,
            &request,
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = hub
        .try_enrol(DeviceRole::Kiosk, "kiosk-1", "1111-1111", &request)
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let limited = hub.audit("enrol_rate_limited");
    assert_eq!(limited.len(), 1, "{limited:?}");
    assert!(
        limited[0].1.contains("every enrolment is refused"),
        "{limited:?}"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_text_message_gateway_leases_messages_and_under_its_own_name() {
    // GB/T 5.4: the gateway's routes need no staff login, so not even a counter has them.
    let hub = Hub::start("").await;
    let counter = hub.first_counter().await;
    for path in ["/sms/lease", "/sms/1/result"] {
        let r = counter
            .http
            .post(hub.url(path))
            .json(&json!({ "device": "counter-1" }))
            .send()
            .await
            .unwrap();
        assert_eq!(problem(r).await.code, "role_not_allowed", "{path}");
    }
    let gateway = hub.paired(&counter, DeviceRole::SmsGateway, "sms-1").await;
    // The name in the body is replaced by the certificate's (an empty one would be
    // refused as a device name).
    let r = gateway
        .http
        .post(hub.url("/sms/lease"))
        .json(&json!({ "device": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_granted_to_a_device_exists() {
    // GB/T 5.4: a route renamed in the router but not in the grants would silently be
    // the counter's only. In mutual TLS mode every existing route answers a caller
    // without a certificate with `device_not_enrolled`; a missing one with 404.
    let dir = tempfile::tempdir().unwrap();
    let open = hub::OpenHub::open(hub::HubOptions {
        data_dir: dir.path().to_owned(),
        config: mtls_config(""),
        clock: Some(hub::store::Clock::new(true)),
        open_day_on_start: true,
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = open.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();
    let call = |method: &str, route: &str| {
        let path = route
            .replace("{id}", "1")
            .replace("{code}", "AB12")
            .replace("{n}", "1");
        let url = format!("http://{addr}/api/v1{path}");
        match method {
            "GET" => http.get(url),
            "POST" => http.post(url).json(&json!({})),
            other => panic!("{other}"),
        }
    };
    let open_routes: Vec<(&str, &str)> = hub::api::access::OPEN.to_vec();
    let granted = hub::api::access::ALLOWED
        .iter()
        .map(|(m, r, _)| (*m, *r))
        .chain(hub::api::access::GATEWAY_ONLY.iter().copied())
        .chain(
            hub::api::access::TICKET_ACTIONS
                .iter()
                .map(|_| ("POST", "/tickets/{id}/{action}")),
        );
    for (method, route) in granted {
        let resp = call(method, route).send().await.unwrap();
        if open_routes.contains(&(method, route)) {
            let status = resp.status();
            assert!(
                status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {route}: {status}"
            );
        } else {
            let p = problem(resp).await;
            assert_eq!(
                (p.status, p.code.as_str()),
                (401, "device_not_enrolled"),
                "{method} {route} must exist"
            );
        }
    }
    // The check tells a missing route apart.
    let p = problem(call("GET", "/no-such-route").send().await.unwrap()).await;
    assert_eq!(p.code, "no_such_endpoint");
    server.abort();

    // Each spelled-out ticket action is one the handler knows (plain HTTP, a supervisor
    // logged in: an unknown action is `no_such_action`, a known one on no ticket is not).
    let plain = hub::testkit::TestHub::start(config("")).await;
    let (staff, _) = plain.login("sup", Some(1)).await;
    for action in hub::api::access::TICKET_ACTIONS.iter().chain(&["dance"]) {
        let r = staff.ticket_action(999_999, action).await;
        let code = hub::testkit::refusal_code(r);
        assert_eq!(
            code == "no_such_action",
            *action == "dance",
            "{action}: {code}"
        );
    }
    plain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_does_not_bring_a_revoked_device_back() {
    // GB/T 5.4: revocations outlive the database they were recorded in.
    let hub = Hub::start("").await;
    let counter = hub.first_counter().await;
    let kiosk = hub.paired(&counter, DeviceRole::Kiosk, "kiosk-1").await;
    let r = kiosk.http.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let backup = hub::backup::backup_into(
        &hub.dir.join(hub::DB_FILE),
        &hub.dir.join("backups"),
        chrono::Utc::now(),
    )
    .unwrap();

    let admin = counter.login("boss", ADMIN_PASSWORD).await;
    let r = counter
        .http
        .post(hub.url("/devices/kiosk-1/revoke"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = kiosk.http.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(problem(r).await.code, "device_revoked");
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(kiosk.enrolled.certificate_pem.as_bytes()).unwrap();
    let kiosk_fp = sha256_fingerprint(&pem.contents);
    let listed = std::fs::read_to_string(hub.dir.join("pki").join("revoked")).unwrap();
    assert_eq!(listed.lines().collect::<Vec<_>>(), [kiosk_fp.as_str()]);

    let dir = hub.dir.clone();
    hub.stop().await;
    hub::backup::restore(&backup.path, &dir).unwrap();
    // The restored database by itself holds the kiosk's certificate as active...
    let conn = rusqlite::Connection::open(dir.join(hub::DB_FILE)).unwrap();
    let revoked: Option<String> = conn
        .query_row(
            "SELECT revoked_at FROM device_certificates WHERE fingerprint = ?1",
            [&kiosk_fp],
            |r| r.get(0),
        )
        .unwrap();
    assert!(revoked.is_none());
    drop(conn);

    // ...but the reopened hub revokes it again, audited, and still serves the counter.
    let hub = Hub::start_in(dir, "").await;
    let kiosk_again = http_client(kiosk.tls.clone());
    let r = kiosk_again.get(hub.url("/queue")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(r).await.code, "device_revoked");
    let reapplied = hub.audit("device_revocation_reapplied");
    assert_eq!(reapplied.len(), 1, "{reapplied:?}");
    assert!(reapplied[0].1.contains("kiosk-1"), "{reapplied:?}");
    let r = http_client(counter.tls.clone())
        .get(hub.url("/queue"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_from_the_command_line_never_makes_a_ca() {
    // A mistyped data directory is an error, and stays empty.
    let cfg = mtls_config("");
    let nowhere = tempfile::tempdir().unwrap();
    let typo = nowhere.path().join("hub-dta");
    let e = hub::devices::pair(&typo, &cfg, DeviceRole::Board, "board-1")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no hub database"), "{e}");
    assert!(!typo.exists());

    // A database without its CA folder beside it is refused too, and gets no new CA.
    let hub = Hub::start("").await;
    let dir = hub.dir.clone();
    hub.stop().await;
    std::fs::rename(dir.join("pki"), dir.join("pki-elsewhere")).unwrap();
    let e = hub::devices::pair(&dir, &cfg, DeviceRole::Board, "board-1")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no hub CA"), "{e}");
    assert!(!dir.join("pki").exists());
}
