//! The customer touch kiosk: a ticket in one or two taps (GB/T 4.1.1), a request
//! recorded and confirmed before it is saved (GB/T 6.1.2) with the fees of paid work
//! acknowledged first (GB/T 4.2.3), appointment check-in (GB/T 8.1), ratings (GB/T
//! 9.1.2), the centre's published information (GB/T 5.3.1) and common questions (GB/T
//! 7.3), in Chinese or English, with an on-screen pinyin keyboard.
//!
//! - [`model`]: the kiosk's state machine: inputs in, effects out; no IO;
//! - [`ime`]: the pinyin input method behind the on-screen keyboard;
//! - [`controller`]: carries out effects against the hub and the printer;
//! - [`feed`]: follows the hub (catalogue, waits, finished tickets), reconnecting;
//! - [`printer`]: printer targets and the documents the kiosk prints;
//! - [`adapter`]: the model shown in the Slint page globals, callbacks to inputs;
//! - [`app`]: the UI thread's side and the runtime's side joined by queues;
//! - [`headless`]: rendering without a display (screenshots, first-frame timing).
//!
//! Slint is confined to `adapter`, `app`, `headless` and [`run`].

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod adapter;
pub mod app;
pub mod controller;
pub mod demo;
pub mod feed;
pub mod headless;
pub mod ime;
pub mod model;
pub mod printer;

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use domain::ServiceType;
use hardware::printer::PaperWidth;
use protocol::HubClient;
use slint::ComponentHandle as _;
pub use ui::Lang;

pub use printer::PrinterTarget;

/// The generated Slint code (the `KioskWindow` component and the page globals).
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

/// The window's size: `1080x1920` (portrait: taller than wide) or `1920x1080`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenSize {
    pub width: u32,
    pub height: u32,
}

impl ScreenSize {
    /// A kiosk column: 1080×1920.
    pub const PORTRAIT: ScreenSize = ScreenSize {
        width: 1080,
        height: 1920,
    };
    /// A desk-top or wall screen: 1920×1080.
    pub const LANDSCAPE: ScreenSize = ScreenSize {
        width: 1920,
        height: 1080,
    };

    pub fn is_landscape(self) -> bool {
        self.width > self.height
    }
}

impl From<ScreenSize> for (u32, u32) {
    fn from(s: ScreenSize) -> (u32, u32) {
        (s.width, s.height)
    }
}

impl fmt::Display for ScreenSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown screen size `{0}` (expected portrait, landscape or WIDTHxHEIGHT such as 1080x1920)"
)]
pub struct BadScreenSize(pub String);

impl FromStr for ScreenSize {
    type Err = BadScreenSize;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadScreenSize(s.to_owned());
        match s.trim() {
            "portrait" => return Ok(ScreenSize::PORTRAIT),
            "landscape" => return Ok(ScreenSize::LANDSCAPE),
            _ => {}
        }
        let (w, h) = s.trim().split_once(['x', 'X', '×']).ok_or_else(bad)?;
        let width: u32 = w.trim().parse().map_err(|_| bad())?;
        let height: u32 = h.trim().parse().map_err(|_| bad())?;
        if !(480..=8192).contains(&width) || !(480..=8192).contains(&height) {
            return Err(bad());
        }
        Ok(ScreenSize { width, height })
    }
}

/// Where the take-ticket button's presses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TicketButton {
    #[default]
    None,
    /// Enter on standard input (the all-in-one demo's keyboard button).
    Stdin,
    /// A push button on this Raspberry Pi BCM pin, to ground (feature `rpi`).
    Rpi { pin: u8 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown button `{0}` (expected none, stdin or rpi:PIN)")]
pub struct BadTicketButton(pub String);

impl FromStr for TicketButton {
    type Err = BadTicketButton;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" | "none" => Ok(TicketButton::None),
            "stdin" => Ok(TicketButton::Stdin),
            other => other
                .strip_prefix("rpi:")
                .and_then(|p| p.parse().ok())
                .map(|pin| TicketButton::Rpi { pin })
                .ok_or_else(|| BadTicketButton(s.to_owned())),
        }
    }
}

/// Everything `servicehall kiosk` needs.
#[derive(Debug, Clone)]
pub struct KioskOptions {
    /// The hub's base URL, e.g. `http://127.0.0.1:8470`.
    pub hub_url: String,
    /// This kiosk's name at the hub (on tickets and printer alerts), e.g. `kiosk-1`.
    pub device: String,
    /// The language a new customer starts in.
    pub lang: Lang,
    /// The window's size; portrait when taller than wide.
    pub size: ScreenSize,
    /// Fill the screen (the appliance); otherwise a window of `size`.
    pub fullscreen: bool,
    /// Where tickets and intake slips print.
    pub printer: PrinterTarget,
    pub paper: PaperWidth,
    /// The physical take-ticket button.
    pub button: TicketButton,
    /// What the button issues.
    pub button_service: ServiceType,
    /// `Some(n)`: a feedback terminal beside counter `n`, asking each customer it
    /// finishes for a rating (GB/T 9.1.2), and nothing else.
    pub feedback_counter: Option<u32>,
    /// Silence after which the kiosk wipes the customer's input and goes home.
    pub idle_timeout: Duration,
    /// This kiosk's certificate for an `https://` hub (GB/T 5.4); `None` for a plain one.
    pub identity: Option<Arc<protocol::DeviceIdentity>>,
}

impl Default for KioskOptions {
    fn default() -> Self {
        KioskOptions {
            hub_url: "http://127.0.0.1:8470".into(),
            device: "kiosk-1".into(),
            lang: Lang::ZhCn,
            size: ScreenSize::PORTRAIT,
            fullscreen: false,
            printer: PrinterTarget::None,
            paper: PaperWidth::Mm80,
            button: TicketButton::None,
            button_service: ServiceType::Consultation,
            feedback_counter: None,
            idle_timeout: Duration::from_secs(90),
            identity: None,
        }
    }
}

impl KioskOptions {
    /// The model's part of the options.
    pub fn model_config(&self) -> model::ModelConfig {
        model::ModelConfig {
            lang: self.lang,
            button_service: self.button_service,
            feedback_counter: self.feedback_counter,
            idle_timeout: self.idle_timeout,
            result_timeout: self.idle_timeout.min(Duration::from_secs(30)),
        }
    }

    /// The printer, if there is one.
    pub fn ticket_printer(&self) -> Option<Arc<dyn printer::TicketPrinter>> {
        match &self.printer {
            PrinterTarget::None => None,
            t => Some(Arc::new(printer::EscPos::new(t.clone(), self.paper))),
        }
    }
}

/// Runs the kiosk until its window is closed or `shutdown` resolves (conventions habit
/// 4): blocking, on the calling thread (which becomes Slint's event loop); the hub and
/// the printer are driven from a small tokio runtime of its own. Without a display it
/// returns an error saying so.
pub fn run(
    opts: KioskOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let window = slint_ui::KioskWindow::new().map_err(|e| {
        anyhow::anyhow!(
            "the kiosk needs a screen and none is available ({e}); \
             set DISPLAY for X11, or build with `--features kms` and run on the console"
        )
    })?;
    if opts.fullscreen {
        window.window().set_fullscreen(true);
    } else {
        window
            .window()
            .set_size(slint::PhysicalSize::new(opts.size.width, opts.size.height));
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the kiosk's network runtime")?;
    let hub = HubClient::for_device(opts.hub_url.clone(), opts.identity.as_deref())
        .with_context(|| format!("the kiosk cannot talk to the hub at {}", opts.hub_url))?;
    let controller = Arc::new(controller::Controller::new(
        hub,
        opts.device.clone(),
        opts.ticket_printer(),
    ));
    let weak = window.as_weak();
    let wake: app::Waker = Arc::new(move || {
        let posted = weak.upgrade_in_event_loop(|w| w.global::<slint_ui::Shell>().invoke_pump());
        if let Err(e) = posted {
            tracing::debug!("kiosk: window gone, result dropped: {e}");
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stopping = async move {
        tokio::select! {
            // The window was closed.
            _ = stop_rx => {}
            // Asked to stop from outside: close the window too.
            () = shutdown => {
                if let Err(e) = slint::invoke_from_event_loop(|| { let _ = slint::quit_event_loop(); }) {
                    tracing::debug!("kiosk: event loop already gone: {e}");
                }
            }
        }
    };
    let link = app::Backend::start(
        rt.handle(),
        controller,
        Some(feed::FeedOptions::default()),
        wake.clone(),
        stopping,
    );
    let app = app::KioskApp::new(window, opts.model_config(), link, opts.size.is_landscape());
    start_button(&opts, app.input_sender(), wake)?;

    // Idle timeout and clock.
    let ticker = slint::Timer::default();
    {
        let app = app.clone();
        ticker.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(500),
            move || app.tick(),
        );
    }

    let shown = app.window().run().context("running the kiosk window");
    let _ = stop_tx.send(());
    rt.shutdown_timeout(Duration::from_secs(2));
    shown
}

/// Starts the take-ticket button's thread: each press issues a ticket for the configured
/// service, printed like a tap's.
fn start_button(
    opts: &KioskOptions,
    tx: std::sync::mpsc::Sender<model::Input>,
    wake: app::Waker,
) -> anyhow::Result<()> {
    let press = move || {
        let ok = tx.send(model::Input::ButtonPressed).is_ok();
        if ok {
            wake();
        }
        ok
    };
    match opts.button {
        TicketButton::None => {}
        TicketButton::Stdin => {
            std::thread::Builder::new()
                .name("kiosk-button".into())
                .spawn(move || {
                    let mut line = String::new();
                    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                        line.clear();
                        if !press() {
                            return;
                        }
                    }
                })
                .context("starting the keyboard button")?;
        }
        TicketButton::Rpi { pin } => {
            let mut gpio = hardware::gpio::open_rpi(
                hardware::gpio::PinMap {
                    button: pin,
                    paper_low: None,
                    status_led: None,
                    buzzer: None,
                },
                Duration::from_millis(30),
            )
            .context("opening the take-ticket button")?;
            std::thread::Builder::new()
                .name("kiosk-button".into())
                .spawn(move || follow_button(gpio.as_mut(), press))
                .context("starting the take-ticket button")?;
        }
    }
    Ok(())
}

/// Feeds a GPIO backend's presses to the kiosk (the simulated GPIO in tests; the same
/// loop as the Raspberry Pi button). Returns when the backend closes.
pub fn follow_button(gpio: &mut dyn hardware::gpio::Gpio, press: impl Fn() -> bool) {
    loop {
        match gpio.next_event(Duration::from_millis(500)) {
            Ok(Some(hardware::gpio::GpioEvent::ButtonPressed)) => {
                if !press() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("kiosk: the take-ticket button stopped: {e}");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_in_their_written_forms() {
        assert_eq!("1080x1920".parse(), Ok(ScreenSize::PORTRAIT));
        assert_eq!("landscape".parse(), Ok(ScreenSize::LANDSCAPE));
        assert!(!ScreenSize::PORTRAIT.is_landscape());
        assert!("10x10".parse::<ScreenSize>().is_err());
        assert_eq!("rpi:17".parse(), Ok(TicketButton::Rpi { pin: 17 }));
        assert_eq!("stdin".parse(), Ok(TicketButton::Stdin));
        assert!("gpio".parse::<TicketButton>().is_err());
    }
}
