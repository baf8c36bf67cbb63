//! A real hub on 127.0.0.1:0 with its database in a temp dir, for the story tests.

#![allow(dead_code)]

use std::path::PathBuf;

use protocol::{HubClient, Login, SessionView};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) struct TestHub {
    pub(crate) url: String,
    pub(crate) client: HubClient,
    pub(crate) dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), hub::HubError>>>,
}

/// One hash shared by every test account (argon2id is slow on purpose).
pub(crate) fn pin_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hub::auth::hash_secret("1234").unwrap())
}

/// A config with a supervisor `sup` (all skills) plus whatever `extra` adds; every
/// staff account's PIN is 1234 (`{PIN}` in `extra` is replaced by its hash).
pub(crate) fn config(extra: &str) -> hub::Config {
    let text = format!(
        r#"
[centre]
id = "test-centre"
name_zh = "测试服务中心"
name_en = "Test Service Centre"

[[staff]]
id = "sup"
name = "Supervisor"
role = "supervisor"
secret_hash = "{{PIN}}"
skills = [{{ skill = "repair" }}, {{ skill = "installation" }}, {{ skill = "complaint_handling" }}]
{extra}
"#
    )
    .replace("{PIN}", pin_hash());
    hub::Config::from_toml_str(&text, "test.toml").unwrap()
}

impl TestHub {
    pub(crate) async fn start(cfg: hub::Config) -> TestHub {
        let dir = tempfile::tempdir().unwrap().keep();
        TestHub::start_in(dir, cfg).await
    }

    pub(crate) async fn start_in(dir: PathBuf, cfg: hub::Config) -> TestHub {
        TestHub::start_with_clock(dir, cfg, hub::store::Clock::new(true)).await
    }

    pub(crate) async fn start_with_clock(
        dir: PathBuf,
        cfg: hub::Config,
        clock: hub::store::Clock,
    ) -> TestHub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let opts = hub::HubOptions {
            data_dir: dir.clone(),
            config: cfg,
            clock: Some(clock),
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
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        TestHub {
            url,
            client,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Logs `staff_id` in (PIN 1234) at `counter`; returns a client acting as them.
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

/// The problem code of a refused call.
pub(crate) fn code<T: std::fmt::Debug>(r: Result<T, protocol::ClientError>) -> String {
    match r {
        Err(protocol::ClientError::Refused(p)) => p.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
