//! The staff counter station: a clerk or technician serves the whole visit from one screen,
//! mostly from the keyboard — log in at a counter (GB/T 5.2.3), call and serve tickets,
//! take or type in the request (4.2.2, 6.1.2), move it through the stages of GB/T 8.1,
//! quote and take payment (4.2.3, 8.4), write and print the service agreement (8.2),
//! record refunds (8.4.3) and follow-up calls (8.1 回访, 9.1.2), with customer contact
//! masked until revealed (5.4); supervisors list the enrolled devices and administrators
//! pair and revoke them (5.4 device enrolment).
//!
//! - [`desk`]: the controller, driven without a window by the screen and by tests;
//! - [`command`]: one command per button or key, and what the screen shows afterwards;
//! - [`queue`]: the queue panel's data;
//! - [`documents`]: the agreement, receipt and refund slip built from hub records;
//! - [`devices`]: the receipt printer and the card terminal as the desk uses them;
//! - [`enrolment`]: the Devices page's words (GB/T 5.4): access, pairing command, fingerprint;
//! - [`adapter`]: the Slint globals wired to the desk;
//! - [`headless`]: the screen rendered without a display (screenshots, tests);
//! - [`options`], [`text`]: start-up options; conversions and the standard's words.
//!
//! Slint is confined to `adapter`, `headless` and [`run`].

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod adapter;
pub mod command;
pub mod desk;
pub mod devices;
pub mod documents;
pub mod enrolment;
pub mod headless;
pub mod options;
pub mod queue;
pub mod text;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use domain::ServiceType;
use protocol::HubClient;
use slint::ComponentHandle as _;
use tokio::sync::{Notify, mpsc, watch};
pub use ui::Lang;

pub use command::Command;
pub use desk::{Desk, DeskConfig, DeskError};
pub use devices::{DeskPrinter, Devices};
pub use options::{CounterOptions, PrinterTarget, TerminalTarget, WindowSize};

use adapter::UiState;
use slint_ui::CounterWindow;

/// The generated Slint code (the `CounterWindow` component and the page globals).
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

thread_local! {
    /// The adapter's state, on the UI thread (results from the network thread find it here).
    static UI_STATE: RefCell<Option<Rc<UiState>>> = const { RefCell::new(None) };
}

/// Runs `f` on the UI thread with the window and the adapter's state.
fn post(
    window: &slint::Weak<CounterWindow>,
    f: impl FnOnce(&CounterWindow, &UiState) + Send + 'static,
) {
    let posted = window.upgrade_in_event_loop(move |w| {
        UI_STATE.with(|s| {
            if let Some(state) = s.borrow().as_ref() {
                f(&w, state);
            }
        });
    });
    if let Err(e) = posted {
        tracing::debug!("counter: window gone, update dropped: {e}");
    }
}

/// Who is logged in, for the queue refresher.
type StaffLink = Option<(String, HubClient, Vec<ServiceType>)>;

/// How often the queue panel is refreshed without a change of our own.
const QUEUE_EVERY: Duration = Duration::from_secs(3);
/// How often kept print jobs and unrecorded card payments are retried.
const TICK_EVERY: Duration = Duration::from_secs(5);

/// Runs the counter station until its window is closed or `shutdown` resolves
/// (conventions habit 4): blocking, on the calling thread, which becomes Slint's event
/// loop; the hub and the devices are driven from a small tokio runtime on its own thread.
/// Without a display it returns an error saying so.
pub fn run(
    opts: CounterOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let window = CounterWindow::new().map_err(|e| {
        anyhow::anyhow!(
            "the counter station needs a screen and none is available ({e}); \
             set DISPLAY for X11, or build with `--features kms` and run on the console"
        )
    })?;
    if let Err(e) = slint::select_bundled_translation(opts.lang.slint_locale()) {
        tracing::warn!("counter: no {} translation: {e}", opts.lang);
    }
    if opts.fullscreen {
        window.window().set_fullscreen(true);
    } else {
        window
            .window()
            .set_size(slint::PhysicalSize::new(opts.size.width, opts.size.height));
    }

    let printer = match &opts.printer {
        PrinterTarget::None => None,
        target => Some(DeskPrinter::new(
            target.clone(),
            devices::counter_profile(&format!("counter-{}", opts.counter)),
        )),
    };
    let terminal =
        devices::open_terminal(&opts.terminal, &opts.terminal_journal).with_context(|| {
            format!(
                "opening the payment terminal with its journal {}",
                opts.terminal_journal.display()
            )
        })?;
    let hub = HubClient::for_device(opts.hub_url.clone(), opts.identity.as_deref())
        .with_context(|| format!("the counter cannot talk to the hub at {}", opts.hub_url))?;
    let desk = Desk::with_hub(
        DeskConfig::new(opts.hub_url.clone(), opts.counter, opts.lang),
        Devices { printer, terminal },
        hub.clone(),
    );

    let state = UiState::new(opts.lang, opts.lock_after_minutes);
    UI_STATE.with(|s| *s.borrow_mut() = Some(state.clone()));
    let view = desk.view();
    adapter::fill_names(&window, &view, opts.lang);
    adapter::fill(&window, &view, &state);

    let (tx, rx) = mpsc::unbounded_channel::<Command>();
    let bridge = Rc::new(adapter::AsyncBridge::new(
        tx.clone(),
        window.as_weak(),
        state.clone(),
    ));
    adapter::install(&window, bridge.clone(), state.clone());

    // The clock, and the lock after inactivity (UI thread).
    let clock = slint::Timer::default();
    {
        let weak = window.as_weak();
        let st = state.clone();
        let bridge = bridge.clone();
        clock.start(
            slint::TimerMode::Repeated,
            Duration::from_secs(1),
            move || {
                let Some(w) = weak.upgrade() else { return };
                let zone = st.zone();
                w.global::<slint_ui::Desk>()
                    .set_clock(text::clock_text(chrono::Utc::now(), zone).into());
                if st.idle_too_long() {
                    st.touch();
                    adapter::Bridge::send(&*bridge, Command::Lock);
                }
            },
        );
    }

    // The network side.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the counter's network runtime")?;
    let weak = window.as_weak();
    let counter = opts.counter;
    let net = std::thread::Builder::new()
        .name("counter-net".into())
        .spawn(move || {
            rt.block_on(async move {
                let (staff_tx, staff_rx) = watch::channel::<StaffLink>(None);
                let nudge = Arc::new(Notify::new());
                let tick_pending = Arc::new(AtomicBool::new(false));
                let desk_task = tokio::spawn(desk_loop(
                    desk,
                    rx,
                    weak.clone(),
                    staff_tx,
                    nudge.clone(),
                    tick_pending.clone(),
                ));
                let refresher = tokio::spawn(refresh_loop(
                    weak,
                    hub,
                    counter,
                    staff_rx,
                    nudge,
                    tx,
                    tick_pending,
                ));
                tokio::select! {
                    _ = stop_rx => {}
                    () = shutdown => {
                        let quit = slint::invoke_from_event_loop(|| {
                            let _ = slint::quit_event_loop();
                        });
                        if let Err(e) = quit {
                            tracing::debug!("counter: event loop already gone: {e}");
                        }
                    }
                }
                refresher.abort();
                desk_task.abort();
            });
        })
        .context("starting the counter's network thread")?;

    let shown = window.run().context("running the counter window");
    let _ = stop_tx.send(());
    let _ = net.join();
    UI_STATE.with(|s| *s.borrow_mut() = None);
    shown
}

/// Runs the screen's commands on the desk, one at a time, and sends each result back.
async fn desk_loop(
    mut desk: Desk,
    mut rx: mpsc::UnboundedReceiver<Command>,
    weak: slint::Weak<CounterWindow>,
    staff_tx: watch::Sender<StaffLink>,
    nudge: Arc<Notify>,
    tick_pending: Arc<AtomicBool>,
) {
    // The centre's catalogue at once, for the login screen.
    if desk.tick().await {
        let view = desk.view();
        post(&weak, move |w, st| {
            adapter::show(w, &view, &command::Reply::default(), st, false);
        });
    }
    while let Some(cmd) = rx.recv().await {
        if cmd == Command::Tick {
            tick_pending.store(false, Ordering::SeqCst);
            if desk.tick().await {
                let view = desk.view();
                // A refusal found by the upkeep (an approved card payment the hub would
                // not record) is shown to staff.
                let reply = command::Reply {
                    notice: view.notice.clone().map(|text| command::Notice {
                        level: command::Level::Error,
                        text,
                    }),
                    ..command::Reply::default()
                };
                post(&weak, move |w, st| {
                    adapter::show(w, &view, &reply, st, false);
                });
            }
            continue;
        }
        let refocus = cmd.refocus();
        let reply = command::handle(&mut desk, cmd).await;
        let view = desk.view();
        let link: StaffLink = desk
            .session()
            .zip(desk.staff_client())
            .map(|(s, c)| (s.token.clone(), c, s.services.clone()));
        staff_tx.send_if_modified(|cur| {
            let changed = cur.as_ref().map(|l| &l.0) != link.as_ref().map(|l| &l.0);
            if changed {
                *cur = link;
            }
            changed
        });
        nudge.notify_one();
        let busy = !rx.is_empty();
        post(&weak, move |w, st| {
            adapter::show(w, &view, &reply, st, refocus);
            w.global::<slint_ui::Desk>().set_busy(busy);
        });
    }
}

/// Keeps the queue panel current (every few seconds, and at once after our own actions)
/// and shows whether the hub answers; asks the desk for its upkeep now and then.
async fn refresh_loop(
    weak: slint::Weak<CounterWindow>,
    hub: HubClient,
    counter: u32,
    staff: watch::Receiver<StaffLink>,
    nudge: Arc<Notify>,
    tx: mpsc::UnboundedSender<Command>,
    tick_pending: Arc<AtomicBool>,
) {
    let mut last_tick = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = nudge.notified() => {}
            () = tokio::time::sleep(QUEUE_EVERY) => {}
        }
        let link = staff.borrow().clone();
        let ok = match link {
            Some((_, client, services)) => {
                match tokio::time::timeout(
                    Duration::from_secs(10),
                    queue::fetch(&client, counter, &services),
                )
                .await
                {
                    Ok(Ok(q)) => {
                        post(&weak, move |w, st| adapter::fill_queue(w, &q, st));
                        true
                    }
                    Ok(Err(e)) => {
                        tracing::info!("counter: queue not refreshed: {e}");
                        e.code().is_some()
                    }
                    Err(_) => false,
                }
            }
            None => match tokio::time::timeout(Duration::from_secs(10), hub.health()).await {
                Ok(Ok(h)) => {
                    post(&weak, move |w, st| adapter::set_sync(w, h.sync, st));
                    true
                }
                _ => false,
            },
        };
        post(&weak, move |w, _| adapter::set_hub_ok(w, ok));
        if last_tick.elapsed() >= TICK_EVERY && !tick_pending.swap(true, Ordering::SeqCst) {
            last_tick = tokio::time::Instant::now();
            if tx.send(Command::Tick).is_err() {
                return;
            }
        }
    }
}
