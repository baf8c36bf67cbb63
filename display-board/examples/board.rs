//! Runs the board on its own until `servicehall board` is wired in:
//!
//!     cargo run -p servicehall-display-board --example board -- --hub http://127.0.0.1:8470 --zone 1-4 --lang en

use clap::Parser;
use display_board::{BoardOptions, Lang, Layout, Zone};

#[derive(Parser)]
struct Args {
    /// The hub's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    hub: String,
    /// Counters and/or services to show, e.g. `1-4` or `repair,installation`.
    #[arg(long)]
    zone: Option<Zone>,
    #[arg(long, default_value = "zh")]
    lang: Lang,
    #[arg(long, default_value = "auto")]
    layout: Layout,
    #[arg(long)]
    mute: bool,
    #[arg(long)]
    fullscreen: bool,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt::init();
    let a = Args::parse();
    display_board::run(
        BoardOptions {
            hub_url: a.hub,
            zone: a.zone.unwrap_or_default(),
            lang: a.lang,
            layout: a.layout,
            sound: !a.mute,
            fullscreen: a.fullscreen,
            ..BoardOptions::default()
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    )
}
