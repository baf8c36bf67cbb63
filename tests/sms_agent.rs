//! The SMS agent between a real hub (127.0.0.1:0) and the modem simulator on a real pty
//! pair: an appointment confirmation arrives decoded in Chinese; a modem without network
//! delays the message without losing it; silence after the modem took the message is
//! reported as unknown and never resent (GB/T 4.2.2, 8.1).

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use domain::ServiceType;
use hardware::pty::PtyPair;
use hardware::sms::sim::{self, ModemSimEnd};
use hardware::sms::{GsmModem, ModemBehaviour, ModemConfig, ModemSimHandle, ModemTimeouts};
use hardware::terminal::{LineFormat, SerialLink};
use hub::testkit::{TestHub, config};
use protocol::*;
use servicehall::sms_agent::{self, AgentOptions};

struct Modem {
    sim: ModemSimHandle,
    thread: Option<std::thread::JoinHandle<ModemSimEnd>>,
    gateway: Option<GsmModem<SerialLink>>,
    _pty: PtyPair,
    _dir: tempfile::TempDir,
}

impl Drop for Modem {
    fn drop(&mut self) {
        self.sim.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn modem() -> Modem {
    let dir = tempfile::tempdir().unwrap();
    let (gw, md) = (dir.path().join("gateway"), dir.path().join("modem"));
    let pty = PtyPair::create(&gw, &md).expect("socat must be installed");
    let mut link = SerialLink::new(md.to_str().unwrap(), 115_200, LineFormat::EightN1);
    link.open().unwrap();
    let (sim, thread) = sim::spawn(link).unwrap();
    let config = ModemConfig {
        timeouts: ModemTimeouts {
            command: Duration::from_millis(1500),
            prompt: Duration::from_millis(1500),
            send: Duration::from_millis(2000),
        },
        ..ModemConfig::default()
    };
    let gateway = GsmModem::open_serial(path(&gw), config).unwrap();
    Modem {
        sim,
        thread: Some(thread),
        gateway: Some(gateway),
        _pty: pty,
        _dir: dir,
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Books the next free repair slot for a customer who agreed to service messages.
async fn book(hub: &TestHub, phone: &str) -> AppointmentView {
    let (clerk, _) = hub.login("sup", Some(1)).await;
    let today = Utc::now().date_naive();
    let mut slot = None;
    for day in [today, today + chrono::Duration::days(1)] {
        slot = clerk
            .slots(ServiceType::Repair, day)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.start > Utc::now() + chrono::Duration::minutes(1));
        if slot.is_some() {
            break;
        }
    }
    clerk
        .create_appointment(&CreateAppointment {
            service: ServiceType::Repair,
            slot_start: slot.unwrap().start,
            channel: domain::Channel::Phone,
            intake: Intake::default(),
            contact: Some(Contact {
                name: None,
                phone: phone.into(),
                address: None,
                consent: ContactConsent {
                    service_updates: true,
                    queue_sms: false,
                },
                lang: None,
            }),
        })
        .await
        .unwrap()
}

fn options(hub: &TestHub) -> AgentOptions {
    AgentOptions {
        hub_url: hub.url.clone(),
        device: "sms-agent".into(),
        idle_poll: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        identity: None,
    }
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn message_state(hub: &TestHub, id: i64) -> String {
    let (clerk, _) = hub.login("sup", Some(2)).await;
    clerk
        .sms_messages()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id == id)
        .unwrap()
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_reaches_the_modem_in_chinese_once() {
    let hub = TestHub::start(config("[sms]\nturn_near_ahead = 0\n")).await;
    let mut m = modem();
    let booked = book(&hub, "13812345678").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(sms_agent::run(
        options(&hub),
        Box::new(m.gateway.take().unwrap()),
        async move {
            let _ = stopped.await;
        },
    ));
    let sim = m.sim.clone();
    wait_for("the confirmation", || !sim.messages().is_empty()).await;
    let msgs = m.sim.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].to, "13812345678");
    assert!(msgs[0].text.contains(&booked.code), "{}", msgs[0].text);
    assert!(msgs[0].text.contains("预约成功"), "{}", msgs[0].text);
    // Reported sent: a later poll does not send it again.
    let (clerk, _) = hub.login("sup", Some(2)).await;
    let id = clerk.sms_messages().await.unwrap()[0].id;
    wait_for_state(&hub, id, "sent").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(m.sim.messages().len(), 1);
    let _ = stop.send(());
    agent.await.unwrap();
}

async fn wait_for_state(hub: &TestHub, id: i64, state: &str) {
    for _ in 0..200 {
        if message_state(hub, id).await == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("message {id} never became {state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_network_delays_and_silence_is_unknown_never_resent() {
    let hub = TestHub::start(config("[sms]\nturn_near_ahead = 0\n")).await;
    let mut m = modem();
    m.sim.set_default(ModemBehaviour::NoNetwork);
    book(&hub, "13912345678").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(sms_agent::run(
        options(&hub),
        Box::new(m.gateway.take().unwrap()),
        async move {
            let _ = stopped.await;
        },
    ));
    let (clerk, _) = hub.login("sup", Some(2)).await;
    // No network: back to pending with a later moment, nothing sent, nothing lost.
    let mut delayed = false;
    for _ in 0..200 {
        let v = clerk.sms_messages().await.unwrap();
        if v[0].attempts >= 1 && v[0].state == "pending" {
            assert!(v[0].not_before > Utc::now());
            delayed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(delayed, "the message was never tried and put back");
    assert!(m.sim.messages().is_empty());
    let _ = stop.send(());
    agent.await.unwrap();

    // A second booking while the modem goes silent after taking the message.
    let hub2 = TestHub::start(config("[sms]\nturn_near_ahead = 0\n")).await;
    let mut m2 = modem();
    m2.sim.set_default(ModemBehaviour::SilentAfterPrompt);
    book(&hub2, "13700000000").await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(sms_agent::run(
        options(&hub2),
        Box::new(m2.gateway.take().unwrap()),
        async move {
            let _ = stopped.await;
        },
    ));
    let (clerk2, _) = hub2.login("sup", Some(2)).await;
    let id2 = clerk2.sms_messages().await.unwrap()[0].id;
    wait_for_state(&hub2, id2, "unknown").await;
    assert_eq!(hub2.client.health().await.unwrap().sms_unknown, 1);
    // The modem did take it; the agent does not send it a second time.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(m2.sim.sent().len() <= 1);
    let _ = stop.send(());
    agent.await.unwrap();
}
