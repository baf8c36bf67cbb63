//! Without a screen, `run` says so instead of panicking (the all-in-one launcher then
//! carries on without the kiosk window).

use std::process::Command;

/// Set in the child process that runs the check with no display in its environment.
const CHILD: &str = "SERVICEHALL_NO_DISPLAY_CHILD";

#[test]
fn without_a_display_run_returns_a_clear_error() {
    if std::env::var_os(CHILD).is_none() {
        // Run this very test again in a child whose environment has no display.
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args([
                "without_a_display_run_returns_a_clear_error",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .env_remove("SLINT_BACKEND")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("1 passed"),
            "the check did not run in the child:\n{stdout}"
        );
        return;
    }
    let opts = kiosk::KioskOptions {
        hub_url: "http://127.0.0.1:9".into(),
        ..Default::default()
    };
    let err = kiosk::run(opts, std::future::pending()).expect_err("no display here");
    let text = format!("{err:#}");
    assert!(text.contains("needs a screen"), "{text}");
}
