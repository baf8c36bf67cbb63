//! Telling systemd how a role is doing on the appliance: `READY=1` once it serves, and
//! `WATCHDOG=1` pings only while the part that matters is alive (the hub's store answering
//! and its health check answering over TLS, a Slint app's event loop turning).
//!
//! Without systemd (no `NOTIFY_SOCKET`) every call here does nothing. A failed
//! notification is logged, never fatal: the role keeps serving.

use std::future::Future;
use std::time::Duration;

use sd_notify::NotifyState;

/// True when this process was started by systemd with a notification socket.
pub fn under_systemd() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// Says the role is up (`READY=1`), with a line for `systemctl status`.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Updates the line `systemctl status` shows.
pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// Says the role is shutting down on purpose (`STOPPING=1`).
pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// One watchdog ping (`WATCHDOG=1`).
pub fn ping() {
    send(&[NotifyState::Watchdog]);
}

/// The watchdog timeout systemd set for this process (`WatchdogSec=`), if any.
pub fn watchdog_timeout() -> Option<Duration> {
    if !under_systemd() {
        return None;
    }
    sd_notify::watchdog_enabled().filter(|t| !t.is_zero())
}

/// How often to ping for a given timeout: at half of it, as sd_watchdog_enabled(3) advises.
pub fn ping_interval(timeout: Duration) -> Duration {
    (timeout / 2).max(Duration::from_millis(100))
}

fn send(states: &[NotifyState<'_>]) {
    if !under_systemd() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("could not notify systemd: {e}");
    }
}

/// Pings the watchdog from a task on `rt` at half the timeout, each time only after
/// `probe` says the role is healthy. A stalled runtime or a failing probe stops the
/// pings and systemd restarts the service. Returns `None` when no watchdog is set.
pub fn spawn_watchdog<F, Fut>(
    rt: &tokio::runtime::Handle,
    mut probe: F,
) -> Option<tokio::task::JoinHandle<()>>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let timeout = watchdog_timeout()?;
    let every = ping_interval(timeout);
    tracing::info!("systemd watchdog: {timeout:?}, pinging every {every:?} while healthy");
    Some(rt.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match tokio::time::timeout(every, probe()).await {
                Ok(Ok(())) => ping(),
                Ok(Err(why)) => tracing::warn!("watchdog probe failed, not pinging: {why}"),
                Err(_) => tracing::warn!("watchdog probe took over {every:?}, not pinging"),
            }
        }
    }))
}

/// systemd for a Slint app: keep the returned value alive for as long as the app runs,
/// and create it on the thread that will run the event loop, before the loop starts.
/// `READY=1` goes out on the loop's first turn and each ping from a timer on that loop,
/// so a frozen UI stops the pings.
pub struct UiWatch {
    _ready: slint::Timer,
    _pings: Option<slint::Timer>,
}

impl std::fmt::Debug for UiWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiWatch")
            .field("pings", &self._pings.is_some())
            .finish()
    }
}

/// Starts [`UiWatch`] for the app called `what` (e.g. "kiosk"). `None` without systemd.
pub fn ui_watch(what: &str) -> Option<UiWatch> {
    if !under_systemd() {
        return None;
    }
    let ready_timer = slint::Timer::default();
    let status = format!("{what}: showing on the screen");
    ready_timer.start(slint::TimerMode::SingleShot, Duration::ZERO, move || {
        ready(&status);
    });
    let pings = watchdog_timeout().map(|timeout| {
        let every = ping_interval(timeout);
        tracing::info!("systemd watchdog: {timeout:?}, pinging every {every:?} from the UI loop");
        let timer = slint::Timer::default();
        timer.start(slint::TimerMode::Repeated, every, ping);
        timer
    });
    Some(UiWatch {
        _ready: ready_timer,
        _pings: pings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_timeout() {
        assert_eq!(
            ping_interval(Duration::from_secs(30)),
            Duration::from_secs(15)
        );
        assert_eq!(
            ping_interval(Duration::from_millis(10)),
            Duration::from_millis(100)
        );
    }

    /// Run by `notifications_reach_the_socket` in a child process with systemd's variables.
    #[test]
    #[ignore = "run as a child process by notifications_reach_the_socket"]
    fn child_notifies() {
        assert!(under_systemd());
        assert_eq!(watchdog_timeout(), Some(Duration::from_secs(2)));
        ready("test: up");
        ping();
        stopping();
    }

    #[test]
    fn notifications_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "systemd::tests::child_notifies", "--ignored"])
            .env("NOTIFY_SOCKET", &path)
            .env("WATCHDOG_USEC", "2000000")
            .env_remove("WATCHDOG_PID")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut buf = [0u8; 256];
            let n = sock.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        assert_eq!(
            got,
            ["READY=1\nSTATUS=test: up\n", "WATCHDOG=1\n", "STOPPING=1\n"]
        );
    }

    #[test]
    fn without_systemd_nothing_is_sent_and_no_watchdog_runs() {
        // The test runner is not a systemd service; its children would inherit nothing.
        if under_systemd() {
            return;
        }
        assert_eq!(watchdog_timeout(), None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(spawn_watchdog(rt.handle(), || async { Ok(()) }).is_none());
        assert!(ui_watch("test").is_none());
    }
}
