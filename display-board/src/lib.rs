//! The waiting-area display board: the latest call large and unmissable, the last calls,
//! a tile per open counter, waits per service (GB/T 4.1.1), the centre's published
//! information (GB/T 5.3.1), and a chime plus an offline voice announcement of every call
//! (GB/T 7.1).
//!
//! - [`model`]: the board's state, updated by pure functions from hub events;
//! - [`subscriber`]: follows the hub's event stream, resuming by sequence number;
//! - [`sound`]: chime + recorded clips → samples, WAV, and playback;
//! - [`adapter`]: copies the model into the Slint `BoardPage` global;
//! - [`headless`]: renders the board without a display (screenshots, benchmarks).
//!
//! Slint is confined to `adapter`, `headless` and [`run`]; the model never sees it.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod adapter;
pub mod headless;
pub mod model;
pub mod sound;
pub mod subscriber;

use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use slint::ComponentHandle as _;
pub use ui::Lang;

pub use model::{BoardModel, Zone};
pub use sound::VoiceLangs;

/// The generated Slint code (the `BoardWindow` component and the `BoardPage` global).
#[allow(
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo
)]
pub mod slint_ui {
    slint::include_modules!();
}

/// How the board arranges itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Follows the screen: portrait when it is taller than wide.
    #[default]
    Auto,
    /// 1920×1080.
    Landscape,
    /// 1080×1920.
    Portrait,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Auto => "auto",
            Layout::Landscape => "landscape",
            Layout::Portrait => "portrait",
        }
    }

    /// The window size this layout is designed for.
    pub fn size(self) -> (u32, u32) {
        match self {
            Layout::Portrait => (1080, 1920),
            Layout::Auto | Layout::Landscape => (1920, 1080),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown layout `{0}` (expected auto, landscape or portrait)")]
pub struct UnknownLayout(pub String);

impl FromStr for Layout {
    type Err = UnknownLayout;
    fn from_str(s: &str) -> Result<Layout, UnknownLayout> {
        match s {
            "auto" => Ok(Layout::Auto),
            "landscape" => Ok(Layout::Landscape),
            "portrait" => Ok(Layout::Portrait),
            _ => Err(UnknownLayout(s.to_owned())),
        }
    }
}

/// Everything `servicehall board` needs.
#[derive(Debug, Clone)]
pub struct BoardOptions {
    /// The hub's base URL, e.g. `http://127.0.0.1:8470`.
    pub hub_url: String,
    /// Which counters and services this board shows (default: all).
    pub zone: Zone,
    /// The leading language of the bilingual labels.
    pub lang: Lang,
    pub layout: Layout,
    /// Chime and voice announcements.
    pub sound: bool,
    /// Which languages calls are announced in, in order.
    pub voice: VoiceLangs,
    /// Fill the screen (the appliance); otherwise a window of the layout's size.
    pub fullscreen: bool,
    /// This board's certificate for an `https://` hub (GB/T 5.4); `None` for a plain one.
    pub identity: Option<Arc<protocol::DeviceIdentity>>,
}

impl Default for BoardOptions {
    fn default() -> Self {
        BoardOptions {
            hub_url: "http://127.0.0.1:8470".into(),
            zone: Zone::default(),
            lang: Lang::ZhCn,
            layout: Layout::Auto,
            sound: true,
            voice: VoiceLangs::default(),
            fullscreen: false,
            identity: None,
        }
    }
}

/// Runs the board until its window is closed or `shutdown` resolves (conventions habit 4):
/// blocking, on the calling thread (which becomes Slint's event loop). `shutdown` is polled
/// on the board's own network runtime. Without a display it returns an error saying so.
pub fn run(
    opts: BoardOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let window = slint_ui::BoardWindow::new().map_err(|e| {
        anyhow::anyhow!(
            "the display board needs a screen and none is available ({e}); \
             set DISPLAY for X11, or build with `--features kms` and run on the console"
        )
    })?;
    if let Err(e) = slint::select_bundled_translation(opts.lang.slint_locale()) {
        tracing::warn!("board: no {} translation: {e}", opts.lang);
    }
    let (w, h) = opts.layout.size();
    if opts.fullscreen {
        window.window().set_fullscreen(true);
    } else {
        window.window().set_size(slint::PhysicalSize::new(w, h));
    }
    window
        .global::<slint_ui::BoardPage>()
        .set_layout(opts.layout.as_str().into());

    let board: subscriber::SharedBoard = Arc::new(Mutex::new(BoardModel::new(opts.zone.clone())));
    let speaker = if opts.sound {
        let voice = sound::Voice::load().context("loading the voice clips")?;
        Some(sound::Speaker::start(voice, opts.voice.clone()))
    } else {
        None
    };

    // The clock, and the end of each call's highlight.
    let clock = slint::Timer::default();
    {
        let weak = window.as_weak();
        let board = board.clone();
        adapter::tick(&window.global::<slint_ui::BoardPage>(), &board);
        clock.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(250),
            move || {
                if let Some(w) = weak.upgrade() {
                    adapter::tick(&w.global::<slint_ui::BoardPage>(), &board);
                }
            },
        );
    }

    // The network side: a small tokio runtime on its own thread.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the board's network runtime")?;
    let weak = window.as_weak();
    let net_board = board.clone();
    let lang = opts.lang;
    let hub = protocol::HubClient::for_device(opts.hub_url.clone(), opts.identity.as_deref())
        .with_context(|| format!("the board cannot talk to the hub at {}", opts.hub_url))?;
    let net = std::thread::Builder::new()
        .name("board-net".into())
        .spawn(move || {
            rt.block_on(async move {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let pump = tokio::spawn({
                    let board = net_board.clone();
                    async move {
                        while let Some(update) = rx.recv().await {
                            if let subscriber::BoardUpdate::Called {
                                announce: Some(a), ..
                            } = &update
                                && let Some(s) = &speaker
                            {
                                s.say(a.clone());
                            }
                            adapter::push(&weak, &board, lang);
                        }
                    }
                });
                subscriber::follow(
                    hub,
                    net_board,
                    tx,
                    subscriber::SubscriberOptions::default(),
                    async move {
                        tokio::select! {
                            // The window was closed.
                            _ = stop_rx => {}
                            // Asked to stop from outside: close the window too.
                            () = shutdown => {
                                let quit = slint::invoke_from_event_loop(|| {
                                    let _ = slint::quit_event_loop();
                                });
                                if let Err(e) = quit {
                                    tracing::debug!("board: event loop already gone: {e}");
                                }
                            }
                        }
                    },
                )
                .await;
                pump.abort();
            });
        })
        .context("starting the board's network thread")?;

    let shown = window.run().context("running the board window");
    let _ = stop_tx.send(());
    let _ = net.join();
    shown
}
