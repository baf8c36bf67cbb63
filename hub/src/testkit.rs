//! A real hub on `127.0.0.1:0` with its database in a temporary directory, for the
//! integration tests of the apps and of the hub itself (feature `testkit`).
//!
//! Every staff account made by [`config`] has the PIN `1234`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use protocol::{HubClient, Login, SessionView};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{Config, HubError, HubOptions};

/// The PIN of every test account.
pub const PIN: &str = "1234";

/// One argon2id hash of [`PIN`], computed once per process (hashing is slow on purpose).
pub fn pin_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| crate::auth::hash_secret(PIN).expect("hash the test PIN"))
}

/// A centre `test-centre` with a supervisor `sup` who holds every skill, plus whatever
/// `extra` TOML adds (`{PIN}` in it becomes the PIN hash). Unless `extra` sets
/// `[opening_hours]`, the centre is open around the clock every day, so tests that book
/// appointments do not depend on the time they run at.
pub fn config(extra: &str) -> Config {
    let hours = if extra.contains("[opening_hours]") {
        ""
    } else {
        "[opening_hours]\nmonday = \"00:00-23:59\"\ntuesday = \"00:00-23:59\"\nwednesday = \"00:00-23:59\"\nthursday = \"00:00-23:59\"\nfriday = \"00:00-23:59\"\nsaturday = \"00:00-23:59\"\nsunday = \"00:00-23:59\"\n"
    };
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
{hours}"#
    )
    .replace("{PIN}", pin_hash());
    let mut cfg = Config::from_toml_str(&text, "test.toml").expect("valid test config");
    // Plain HTTP: the test hubs are reached by `HubClient` on http://127.0.0.1 (the
    // mutual TLS tests start their hub themselves).
    cfg.security.transport = crate::Transport::Plain;
    cfg
}

/// A running hub; stop it with [`TestHub::stop`] to restart on the same data.
pub struct TestHub {
    pub url: String,
    pub addr: SocketAddr,
    pub client: HubClient,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), HubError>>>,
}

impl std::fmt::Debug for TestHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHub").field("url", &self.url).finish()
    }
}

impl TestHub {
    /// A hub with `cfg` in a fresh temporary directory, today's business day open.
    pub async fn start(cfg: Config) -> TestHub {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        TestHub::start_in(dir, cfg, true).await
    }

    /// A hub on the data in `dir`; `open_day` opens today's business day if none is open.
    pub async fn start_in(dir: PathBuf, cfg: Config, open_day: bool) -> TestHub {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        TestHub::start_with(dir, cfg, crate::store::Clock::new(true), open_day, any).await
    }

    /// The general form: a given clock, and a given address (port 0 for any; a fixed
    /// address is retried for a while, so a restarted hub can take its old port back).
    pub async fn start_with(
        dir: PathBuf,
        cfg: Config,
        clock: crate::store::Clock,
        open_day: bool,
        addr: SocketAddr,
    ) -> TestHub {
        // A `TestHub` serves plain HTTP whatever the config says (see [`config`]).
        let mut cfg = cfg;
        cfg.security.transport = crate::Transport::Plain;
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
        let opts = HubOptions {
            data_dir: dir.clone(),
            config: cfg,
            clock: Some(clock),
            open_day_on_start: open_day,
        };
        let task = tokio::spawn(crate::run(listener, opts, async move {
            let _ = stopped.await;
        }));
        let client = HubClient::new(url.clone());
        for _ in 0..500 {
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

    /// Logs `staff_id` in with [`PIN`] at `counter`; returns a client acting as them.
    pub async fn login(&self, staff_id: &str, counter: Option<u32>) -> (HubClient, SessionView) {
        let s = self
            .client
            .login(&Login {
                staff_id: staff_id.into(),
                secret: PIN.into(),
                counter,
                device: Some(format!("counter-{}", counter.unwrap_or(0))),
            })
            .await
            .unwrap_or_else(|e| panic!("login {staff_id}: {e}"));
        (self.client.with_token(s.token.clone()), s)
    }

    /// Graceful stop; returns the data directory for a restart.
    pub async fn stop(mut self) -> PathBuf {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("hub task").expect("hub stopped cleanly");
        }
        self.dir.clone()
    }
}

/// The problem code of a refused call; panics on anything else.
pub fn refusal_code<T: std::fmt::Debug>(r: Result<T, protocol::ClientError>) -> String {
    match r {
        Err(protocol::ClientError::Refused(p)) => p.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
