//! Ingest over real HTTP into a real throwaway PostgreSQL: exactly once, conflicts after a
//! hub restore, authentication, refusals, migrations.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{Channel, PriorityClass, ServiceType};
use hq::testkit::{TestHq, wire_event};
use protocol::HubEvent;
use protocol::sync::{INGEST_PATH, IngestAck, IngestBatch, WireEvent};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 1, 0, 0).unwrap()
}

fn issued(ticket_id: i64) -> HubEvent {
    HubEvent::TicketIssued {
        ticket_id,
        number: format!("A{ticket_id:03}"),
        service: ServiceType::Repair,
        class: PriorityClass::Normal,
        channel: Channel::OnSite,
        token: format!("tok{ticket_id}"),
    }
}

/// Events `from..=to`, event `seq` issuing ticket `seq`.
fn events(from: i64, to: i64) -> Vec<WireEvent> {
    (from..=to)
        .map(|seq| wire_event(seq, t0() + Duration::seconds(seq), &issued(seq)))
        .collect()
}

fn batch(centre: &str, epoch: i64, events: Vec<WireEvent>) -> IngestBatch {
    IngestBatch {
        centre_id: centre.into(),
        epoch,
        events,
    }
}

async fn post_raw(hq: &TestHq, token: Option<&str>, body: &str) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .post(format!("{}{INGEST_PATH}", hq.url))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn stored_seqs(hq: &TestHq, centre: &str, epoch: i64) -> Vec<i64> {
    hq.client()
        .await
        .query(
            "SELECT seq FROM events WHERE centre_id = $1 AND epoch = $2 ORDER BY seq",
            &[&centre, &epoch],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn a_batch_sent_twice_is_stored_once() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "第一服务中心").await;
    let b = batch("c1", 1, events(1, 3));
    let first = hq.send(&token, &b).await;
    assert_eq!(
        first,
        IngestAck {
            centre_id: "c1".into(),
            epoch: 1,
            high_water: 3,
            inserted: 3,
            duplicates: 0,
            conflict_from: None
        }
    );
    // The answer was lost; the hub sends the same batch again.
    let again = hq.send(&token, &b).await;
    assert_eq!((again.inserted, again.duplicates), (0, 3));
    assert_eq!(again.high_water, 3);
    assert_eq!(again.conflict_from, None);
    assert_eq!(stored_seqs(&hq, "c1", 1).await, vec![1, 2, 3]);
}

#[tokio::test]
async fn a_partly_known_batch_stores_only_the_new_events() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "一").await;
    hq.send(&token, &batch("c1", 1, events(1, 3))).await;
    let ack = hq.send(&token, &batch("c1", 1, events(2, 5))).await;
    assert_eq!((ack.inserted, ack.duplicates, ack.high_water), (2, 2, 5));
    assert_eq!(stored_seqs(&hq, "c1", 1).await, vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn different_contents_under_known_sequences_are_a_conflict_and_nothing_from_there_is_stored()
{
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "一").await;
    hq.send(&token, &batch("c1", 1, events(1, 3))).await;
    // A hub restored from an older copy wrote other events under 3, 4, 5.
    let mut restored = events(2, 5);
    restored[1] = wire_event(3, t0() + Duration::seconds(99), &issued(103));
    let ack = hq.send(&token, &batch("c1", 1, restored.clone())).await;
    assert_eq!(ack.conflict_from, Some(3));
    assert_eq!((ack.inserted, ack.duplicates, ack.high_water), (0, 1, 3));
    assert_eq!(stored_seqs(&hq, "c1", 1).await, vec![1, 2, 3]);
    let kept: serde_json::Value = hq
        .client()
        .await
        .query_one(
            "SELECT payload FROM events WHERE centre_id = 'c1' AND epoch = 1 AND seq = 3",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept["ticket_id"], 3, "the original event stays");
    // The hub moves its unsent events to a new epoch: stored in full.
    let moved = hq
        .send(&token, &batch("c1", 2, restored[1..].to_vec()))
        .await;
    assert_eq!(
        (moved.inserted, moved.high_water, moved.conflict_from),
        (3, 5, None)
    );
    assert_eq!(stored_seqs(&hq, "c1", 2).await, vec![3, 4, 5]);
}

#[tokio::test]
async fn an_empty_batch_answers_the_high_water() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "一").await;
    hq.send(&token, &batch("c1", 1, events(1, 4))).await;
    let ack = hq.send(&token, &batch("c1", 1, vec![])).await;
    assert_eq!((ack.high_water, ack.inserted, ack.duplicates), (4, 0, 0));
}

#[tokio::test]
async fn a_missing_or_unknown_token_is_401_and_another_centres_batch_is_403() {
    let hq = TestHq::start().await;
    let token_a = hq.add_centre("a", "A").await;
    let _token_b = hq.add_centre("b", "B").await;
    let body = serde_json::to_string(&batch("a", 1, events(1, 1))).unwrap();

    let r = post_raw(&hq, None, &body).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["code"], "unauthorized");

    let r = post_raw(&hq, Some("not-a-token"), &body).await;
    assert_eq!(r.status(), 401);

    let other = serde_json::to_string(&batch("b", 1, events(1, 1))).unwrap();
    let r = post_raw(&hq, Some(&token_a), &other).await;
    assert_eq!(r.status(), 403);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["code"], "wrong_centre");
    assert!(stored_seqs(&hq, "b", 1).await.is_empty());

    // A new token replaces the old one.
    let new_token = hq.add_centre("a", "A").await;
    assert_eq!(post_raw(&hq, Some(&token_a), &body).await.status(), 401);
    assert_eq!(post_raw(&hq, Some(&new_token), &body).await.status(), 200);
}

#[tokio::test]
async fn malformed_bodies_are_refused_with_a_problem_and_store_nothing() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "一").await;
    let check = |status: u16, code: &'static str| {
        move |r: (u16, serde_json::Value)| {
            assert_eq!(r.0, status, "{}", r.1);
            assert_eq!(r.1["code"], code, "{}", r.1);
            assert!(
                r.1["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}",
                r.1
            );
        }
    };
    let send = |body: String| {
        let hq = &hq;
        let token = token.clone();
        async move {
            let r = post_raw(hq, Some(&token), &body).await;
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    check(400, "malformed_json")(send("this is not json".into()).await);
    check(400, "malformed_json")(send("{\"centre_id\": \"c1\", ".into()).await);
    check(422, "invalid_batch")(send(r#"{"centre_id": "c1"}"#.into()).await);

    let mut disordered = events(1, 3);
    disordered.swap(1, 2);
    let body = serde_json::to_string(&batch("c1", 1, disordered)).unwrap();
    check(422, "seq_order")(send(body).await);

    let mut no_kind = events(1, 2);
    no_kind[1].kind = String::new();
    let body = serde_json::to_string(&batch("c1", 1, no_kind)).unwrap();
    check(422, "bad_kind")(send(body).await);

    let mut mismatched = events(1, 1);
    mismatched[0].kind = "ticket_called".into();
    let body = serde_json::to_string(&batch("c1", 1, mismatched)).unwrap();
    check(422, "bad_payload")(send(body).await);

    let body = serde_json::to_string(&batch("c1", 1, events(1, 5001))).unwrap();
    check(422, "batch_too_large")(send(body).await);

    assert!(stored_seqs(&hq, "c1", 1).await.is_empty());
}

#[tokio::test]
async fn a_full_batch_of_5000_is_accepted() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "一").await;
    let ack = hq.send(&token, &batch("c1", 1, events(1, 5000))).await;
    assert_eq!((ack.inserted, ack.high_water), (5000, 5000));
}

#[tokio::test]
async fn store_batch_is_callable_directly_and_agrees_with_http() {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "一").await;
    let mut client = hq.client().await;
    let b = batch("c1", 7, events(1, 10));
    let ack = hq::ingest::store_batch(&mut client, "c1", &b)
        .await
        .unwrap();
    assert_eq!((ack.inserted, ack.high_water), (10, 10));
    let again = hq::ingest::store_batch(&mut client, "c1", &b)
        .await
        .unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 10));
    // The token's centre must be the batch's.
    assert!(
        hq::ingest::store_batch(&mut client, "c2", &b)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn events_survive_a_restart_and_migrations_are_idempotent() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "一").await;
    hq.send(&token, &batch("c1", 1, events(1, 3))).await;
    let hq = hq.restart().await;
    let ack = hq.send(&token, &batch("c1", 1, events(1, 4))).await;
    assert_eq!((ack.inserted, ack.duplicates), (1, 3));

    let mut client = hq.client().await;
    assert!(hq::migrate::migrate(&mut client).await.unwrap().is_empty());
    assert!(hq::migrate::migrate(&mut client).await.unwrap().is_empty());
    let versions: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(versions, hq::migrate::MIGRATIONS.len() as i64);

    // A database migrated by a newer build is refused, not touched.
    client
        .execute(
            "INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')",
            &[],
        )
        .await
        .unwrap();
    let err = hq::migrate::migrate(&mut client).await.unwrap_err();
    assert!(
        matches!(err, hq::HqError::NewerSchema { found: 9999, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn health_counts_centres_events_and_projector_lag() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "一").await;
    hq.send(&token, &batch("c1", 1, events(1, 3))).await;
    hq.project().await;
    let body: serde_json::Value = reqwest::get(format!("{}/health", hq.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["db"], "ok", "{body}");
    assert_eq!(body["centres"], 1);
    assert_eq!(body["events"], 3);
    assert_eq!(body["projector_lag"], 0);
}

/// Headquarters over HTTPS (a self-made certificate for `localhost`) on a fresh database
/// with centres c1 and c2, optionally demanding centre certificates from the CA in `pki`.
struct HttpsHq {
    addr: std::net::SocketAddr,
    server_cert_pem: String,
    tokens: [String; 2],
    db: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), hq::HqError>>>,
    _dir: tempfile::TempDir,
}

impl HttpsHq {
    async fn start(centre_ca: Option<std::path::PathBuf>) -> HttpsHq {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_file = dir.path().join("hq.crt");
        let key_file = dir.path().join("hq.key");
        std::fs::write(&cert_file, cert.cert.pem()).unwrap();
        std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
        let db = hq::testkit::shared_pg().fresh_database();
        let t1 = hq::centres::add_centre_to(&db, "c1", "一", 480)
            .await
            .unwrap();
        let t2 = hq::centres::add_centre_to(&db, "c2", "二", 480)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(hq::serve(
            listener,
            hq::HqOptions {
                database_url: db.clone(),
                listen: addr,
                tls: Some((cert_file, key_file)),
                centre_ca,
                report_readers: None,
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let hq = HttpsHq {
            addr,
            server_cert_pem: cert.cert.pem(),
            tokens: [t1, t2],
            db,
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        };
        let client = hq.client(None);
        let mut healthy = false;
        for _ in 0..200 {
            if let Ok(r) = client.get(format!("{}/health", hq.base())).send().await {
                healthy = r.status().is_success();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(healthy, "no answer over HTTPS");
        hq
    }

    fn base(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// A client trusting the server's certificate, presenting `identity` (PEM cert + key).
    fn client(&self, identity: Option<&hq::pki::CentreCert>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.server_cert_pem.as_bytes()).unwrap(),
            )
            .resolve("localhost", self.addr);
        if let Some(id) = identity {
            let pem = format!("{}{}", id.cert_pem, id.key_pem);
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        b.build().unwrap()
    }

    async fn ingest(
        &self,
        client: &reqwest::Client,
        token: &str,
        centre: &str,
        seq: i64,
    ) -> reqwest::Response {
        client
            .post(format!("{}{INGEST_PATH}", self.base()))
            .bearer_auth(token)
            .json(&batch(centre, 1, events(seq, seq)))
            .send()
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn https_serves_ingest_with_the_given_certificate() {
    let hq = HttpsHq::start(None).await;
    let client = hq.client(None);
    let ack: IngestAck = client
        .post(format!("{}{INGEST_PATH}", hq.base()))
        .bearer_auth(&hq.tokens[0])
        .json(&batch("c1", 1, events(1, 2)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((ack.inserted, ack.high_water), (2, 2));
    // Plain HTTP on the HTTPS port gets nowhere.
    let plain = reqwest::get(format!("http://{}/health", hq.addr)).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    hq.stop().await;
}

/// GB/T 5.6.2: with the centres' CA, ingest needs the token AND the centre's current
/// client certificate; a new certificate refuses the old one at once.
#[tokio::test]
async fn ingest_demands_the_centres_current_client_certificate() {
    let pki = tempfile::tempdir().unwrap();
    let hq = HttpsHq::start(Some(pki.path().to_owned())).await;
    let ca = hq::pki::CentreCa::load_or_create(pki.path()).unwrap();
    let c1 = hq::centres::issue_certificate_to(&hq.db, &ca, "c1", |_| Ok(()))
        .await
        .unwrap();
    let c2 = hq::centres::issue_certificate_to(&hq.db, &ca, "c2", |_| Ok(()))
        .await
        .unwrap();
    let code = |r: serde_json::Value| r["code"].as_str().unwrap_or_default().to_owned();

    // No certificate: the token alone is refused.
    let r = hq.ingest(&hq.client(None), &hq.tokens[0], "c1", 1).await;
    assert_eq!(r.status(), 401);
    assert_eq!(code(r.json().await.unwrap()), "certificate_required");
    // Another centre's certificate with c1's token.
    let r = hq
        .ingest(&hq.client(Some(&c2)), &hq.tokens[0], "c1", 1)
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(code(r.json().await.unwrap()), "certificate_not_current");
    // A certificate from a CA headquarters never made does not get through the handshake.
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign = hq::pki::CentreCa::load_or_create(foreign_dir.path())
        .unwrap()
        .issue("c1")
        .unwrap();
    let refused = hq
        .client(Some(&foreign))
        .post(format!("{}{INGEST_PATH}", hq.base()))
        .bearer_auth(&hq.tokens[0])
        .json(&batch("c1", 1, events(1, 1)))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a foreign certificate was accepted: {refused:?}"
    );
    // The right pair works.
    let ok = hq.client(Some(&c1));
    let r = hq.ingest(&ok, &hq.tokens[0], "c1", 1).await;
    assert_eq!(r.status(), 200);
    let ack: IngestAck = r.json().await.unwrap();
    assert_eq!(ack.inserted, 1);
    // Reissuing c1's certificate refuses the old one on the very next batch.
    let c1_new = hq::centres::issue_certificate_to(&hq.db, &ca, "c1", |_| Ok(()))
        .await
        .unwrap();
    let r = hq.ingest(&ok, &hq.tokens[0], "c1", 2).await;
    assert_eq!(r.status(), 403);
    let r = hq
        .ingest(&hq.client(Some(&c1_new)), &hq.tokens[0], "c1", 2)
        .await;
    assert_eq!(r.status(), 200);
    // A new certificate that could not be kept (say, the disk is full) leaves the
    // current one working.
    let failed = hq::centres::issue_certificate_to(&hq.db, &ca, "c1", |_| {
        Err(hq::HqError::Invalid("disk full".into()))
    })
    .await;
    assert!(failed.is_err());
    let r = hq
        .ingest(&hq.client(Some(&c1_new)), &hq.tokens[0], "c1", 3)
        .await;
    assert_eq!(r.status(), 200);
    // Reports and health stay open to a browser without a certificate.
    let r = hq
        .client(None)
        .get(format!("{}/health", hq.base()))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    hq.stop().await;
}
