//! Without a screen, `run` says so instead of panicking (the all-in-one launcher then
//! carries on headless).

#[test]
fn without_a_display_run_returns_a_clear_error() {
    // Where a display exists (a desktop test run) there is nothing to check.
    for var in ["DISPLAY", "WAYLAND_DISPLAY"] {
        if std::env::var_os(var).is_some() {
            eprintln!("{var} is set; skipping");
            return;
        }
    }
    let opts = display_board::BoardOptions {
        hub_url: "http://127.0.0.1:9".into(),
        sound: false,
        ..Default::default()
    };
    let err = display_board::run(opts).expect_err("no display here");
    let text = format!("{err:#}");
    assert!(text.contains("needs a screen"), "{text}");
}
