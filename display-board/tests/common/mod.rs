//! A real hub on 127.0.0.1 with its database in a temp dir (the pattern of
//! `hub/tests/common`), plus a board following it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use display_board::model::{BoardModel, Zone};
use display_board::subscriber::{self, BoardUpdate, SharedBoard, SubscriberOptions};
use protocol::{HubClient, Login, SessionView};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub(crate) struct TestHub {
    pub(crate) url: String,
    pub(crate) addr: SocketAddr,
    pub(crate) client: HubClient,
    pub(crate) dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), hub::HubError>>>,
}

pub(crate) fn pin_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hub::auth::hash_secret("1234").unwrap())
}

/// A centre with a supervisor `sup` who may serve everything (PIN 1234).
pub(crate) fn config() -> hub::Config {
    let text = r#"
[centre]
id = "test-centre"
name_zh = "测试服务中心"
name_en = "Test Service Centre"

[[staff]]
id = "sup"
name = "Supervisor"
role = "supervisor"
secret_hash = "{PIN}"
skills = [{ skill = "repair" }, { skill = "installation" }, { skill = "complaint_handling" }]
"#
    .replace("{PIN}", pin_hash());
    hub::Config::from_toml_str(&text, "test.toml").unwrap()
}

impl TestHub {
    pub(crate) async fn start() -> TestHub {
        let dir = tempfile::tempdir().unwrap().keep();
        TestHub::start_at(dir, "127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on `addr` (port 0 for any) with the database in `dir`.
    pub(crate) async fn start_at(dir: PathBuf, addr: SocketAddr) -> TestHub {
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
        let listener = listener.expect("could not bind the hub's address");
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let (stop, stopped) = oneshot::channel::<()>();
        let opts = hub::HubOptions {
            data_dir: dir.clone(),
            config: config(),
            clock: Some(hub::store::Clock::new(true)),
            open_day_on_start: false,
        };
        let task = tokio::spawn(hub::run(listener, opts, async move {
            let _ = stopped.await;
        }));
        let client = HubClient::new(url.clone());
        for _ in 0..200 {
            if client.health().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        TestHub {
            url,
            addr,
            client,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub(crate) async fn login(
        &self,
        staff_id: &str,
        counter: Option<u32>,
    ) -> (HubClient, SessionView) {
        let s = self
            .client
            .login(&Login {
                staff_id: staff_id.into(),
                secret: "1234".into(),
                counter,
                device: Some(format!("counter-{}", counter.unwrap_or(0))),
            })
            .await
            .unwrap_or_else(|e| panic!("login {staff_id}: {e}"));
        (self.client.with_token(s.token.clone()), s)
    }

    /// Graceful stop; returns the data dir for a restart.
    pub(crate) async fn stop(mut self) -> PathBuf {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        self.dir.clone()
    }
}

/// A board model following a hub through the real subscriber.
pub(crate) struct TestBoard {
    pub(crate) model: SharedBoard,
    pub(crate) updates: mpsc::UnboundedReceiver<BoardUpdate>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

pub(crate) fn fast_options() -> SubscriberOptions {
    SubscriberOptions {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..SubscriberOptions::default()
    }
}

impl TestBoard {
    pub(crate) fn start(hub_url: &str, zone: Zone) -> TestBoard {
        TestBoard::resume(hub_url, Arc::new(Mutex::new(BoardModel::new(zone))))
    }

    /// A subscriber for an existing model (it resumes from the model's last sequence).
    pub(crate) fn resume(hub_url: &str, model: SharedBoard) -> TestBoard {
        TestBoard::resume_with(hub_url, model, fast_options())
    }

    pub(crate) fn resume_with(
        hub_url: &str,
        model: SharedBoard,
        opts: SubscriberOptions,
    ) -> TestBoard {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let url = hub_url.to_owned();
        let m = model.clone();
        let task = tokio::spawn(async move {
            subscriber::run(&url, m, tx, opts, async move {
                let _ = stopped.await;
            })
            .await;
        });
        TestBoard {
            model,
            updates: rx,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Waits for the next update matching `f`, failing after 5 s.
    pub(crate) async fn wait_for(
        &mut self,
        mut f: impl FnMut(&BoardUpdate) -> bool,
    ) -> BoardUpdate {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let u = tokio::time::timeout_at(deadline, self.updates.recv())
                .await
                .expect("the board did not update in time")
                .expect("the subscriber stopped");
            if f(&u) {
                return u;
            }
        }
    }

    /// Waits (up to 5 s) until the board has applied every event the hub has published
    /// (its `/health` `last_seq`), then returns the sequences of the calls it reported on
    /// the way. The subscriber sends each update while it holds the model, so once the
    /// model is caught up every update is already in the channel.
    pub(crate) async fn settle(&mut self, hub: &HubClient) -> Vec<i64> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut seqs = Vec::new();
        loop {
            let target = hub.health().await.unwrap().last_seq;
            let applied = subscriber::lock(&self.model).last_seq();
            while let Ok(u) = self.updates.try_recv() {
                if let BoardUpdate::Called { seq, .. } = u {
                    seqs.push(seq);
                }
            }
            if applied == Some(target) {
                return seqs;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the board stayed at {applied:?}; the hub is at {target}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) async fn stop(mut self) -> SharedBoard {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        self.model.clone()
    }
}
