//! Runs the kiosk on its own until `servicehall kiosk` is wired in:
//!
//!     cargo run -p servicehall-kiosk --example kiosk -- --hub http://127.0.0.1:8470 --printer tcp:127.0.0.1:9100

use std::time::Duration;

use clap::Parser;
use kiosk::{KioskOptions, Lang, PrinterTarget, ScreenSize, TicketButton};

#[derive(Parser)]
struct Args {
    /// The hub's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    hub: String,
    /// This kiosk's name at the hub.
    #[arg(long, default_value = "kiosk-1")]
    device: String,
    #[arg(long, default_value = "zh")]
    lang: Lang,
    /// portrait, landscape or WIDTHxHEIGHT.
    #[arg(long, default_value = "portrait")]
    size: ScreenSize,
    #[arg(long)]
    fullscreen: bool,
    /// none, tcp:HOST:PORT, serial:PATH[:BAUD] or a device path.
    #[arg(long, default_value = "none")]
    printer: PrinterTarget,
    /// Paper width in mm: 58 or 80.
    #[arg(long, default_value_t = 80)]
    paper: u32,
    /// The take-ticket button: none, stdin or rpi:PIN.
    #[arg(long, default_value = "none")]
    button: TicketButton,
    /// What the button issues.
    #[arg(long, default_value = "consultation")]
    button_service: domain::ServiceType,
    /// Run as the feedback terminal of this counter.
    #[arg(long)]
    feedback_counter: Option<u32>,
    /// Seconds untouched before the kiosk wipes and goes home.
    #[arg(long, default_value_t = 90)]
    idle_secs: u64,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt::init();
    let a = Args::parse();
    kiosk::run(
        KioskOptions {
            hub_url: a.hub,
            device: a.device,
            lang: a.lang,
            size: a.size,
            fullscreen: a.fullscreen,
            printer: a.printer,
            paper: if a.paper == 58 {
                hardware::printer::PaperWidth::Mm58
            } else {
                hardware::printer::PaperWidth::Mm80
            },
            button: a.button,
            button_service: a.button_service,
            feedback_counter: a.feedback_counter,
            idle_timeout: Duration::from_secs(a.idle_secs),
            identity: None,
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
}
