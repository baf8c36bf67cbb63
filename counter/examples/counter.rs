//! Runs the counter station on its own until `servicehall counter` is wired in:
//!
//!     cargo run -p servicehall-counter --example counter -- --hub http://127.0.0.1:8470 --counter 2
//!
//! With `--demo` it brings its own hub (the example centre of
//! `config/servicehall.example.toml`, staff `zhang.wei`, PIN 2580, a few customers
//! waiting), the printer simulator and the in-process payment terminal simulator.

use std::time::Duration;

use clap::Parser;
use counter::{CounterOptions, Lang, PrinterTarget, TerminalTarget, WindowSize};

#[derive(Parser)]
struct Args {
    /// The hub's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    hub: String,
    /// The counter this station is bound to.
    #[arg(long, default_value_t = 1)]
    counter: u32,
    #[arg(long, default_value = "zh")]
    lang: Lang,
    #[arg(long, default_value = "1280x800")]
    size: WindowSize,
    #[arg(long)]
    fullscreen: bool,
    /// `none`, `tcp:HOST:PORT` or a device path such as /dev/usb/lp0.
    #[arg(long, default_value = "none")]
    printer: PrinterTarget,
    /// `none`, `sim`, or the payment terminal's serial device.
    #[arg(long, default_value = "none")]
    terminal: TerminalTarget,
    #[arg(long, default_value = "counter-payments.journal")]
    journal: std::path::PathBuf,
    /// Lock the screen after this many idle minutes (0: never).
    #[arg(long, default_value_t = 5)]
    lock_after: u32,
    /// Bring a demo hub, printer simulator and terminal simulator.
    #[arg(long)]
    demo: bool,
    /// Close by itself after this many seconds (smoke tests).
    #[arg(long)]
    quit_after: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt::init();
    let a = Args::parse();
    let mut opts = CounterOptions {
        hub_url: a.hub,
        counter: a.counter,
        lang: a.lang,
        size: a.size,
        fullscreen: a.fullscreen,
        printer: a.printer,
        terminal: a.terminal,
        terminal_journal: a.journal,
        lock_after_minutes: a.lock_after,
        identity: None,
    };
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Runtime::new()?;
    let mut _printer = None;
    let mut _hub_stop = None;
    if a.demo {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/servicehall.example.toml"
        );
        let mut cfg = hub::Config::from_toml_str(&std::fs::read_to_string(path)?, path)?;
        // A demo hub inside the example, on loopback: no device enrolment.
        cfg.security.transport = hub::Transport::Plain;
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        opts.hub_url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(hub::run(
            listener,
            hub::HubOptions {
                data_dir: dir.path().join("hub"),
                config: cfg,
                clock: Some(hub::store::Clock::new(true)),
                open_day_on_start: true,
            },
            async move {
                let _ = stopped.await;
            },
        ));
        _hub_stop = Some(stop);
        let kiosk = protocol::HubClient::new(opts.hub_url.clone());
        rt.block_on(async {
            while kiosk.health().await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            for service in [
                domain::ServiceType::Repair,
                domain::ServiceType::Consultation,
                domain::ServiceType::Repair,
            ] {
                let _ = kiosk
                    .issue_ticket(&protocol::IssueTicket {
                        service,
                        class: domain::PriorityClass::Normal,
                        channel: domain::Channel::OnSite,
                        device: Some("demo-kiosk".into()),
                    })
                    .await;
            }
        });
        let sim =
            hardware::printer::sim::SimPrinter::start(dir.path().join("printer"), "127.0.0.1:0")?;
        eprintln!("demo: printed jobs go to {}", sim.dir().display());
        opts.printer = PrinterTarget::Tcp(sim.local_addr().to_string());
        _printer = Some(sim);
        opts.terminal = TerminalTarget::Simulated;
        opts.terminal_journal = dir.path().join("payments.journal");
        opts.counter = 2;
        eprintln!("demo: hub {} — log in as zhang.wei, PIN 2580", opts.hub_url);
    }
    let quit_after = a.quit_after;
    counter::run(opts, async move {
        match quit_after {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    })
}
