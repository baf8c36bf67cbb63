//! Puts the parts together: the model and the window on the UI thread ([`KioskApp`]),
//! the controller and the hub follower on a tokio runtime ([`Backend`]), joined by two
//! queues: effects go out to the runtime, results (and button presses) come back and
//! are applied on the UI thread when it is woken (`Shell.pump`).
//!
//! Nothing here decides anything: the model does. Tests drive a `KioskApp` directly and
//! call [`KioskApp::pump`] themselves.

use std::cell::{Ref, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use slint::ComponentHandle;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::adapter::{self, UiCache};
use crate::controller::{Controller, Sink};
use crate::feed::{self, FeedOptions};
use crate::model::{Effect, Input, KioskModel, ModelConfig};
use crate::slint_ui::{KioskWindow, Shell};

/// Wakes the UI thread to apply what arrived.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The UI side's ends of the queues.
#[derive(Debug)]
pub struct BackendLink {
    effects: UnboundedSender<Effect>,
    inputs: mpsc::Receiver<Input>,
    /// For results that do not come from the runtime (the GPIO button).
    pub input_tx: mpsc::Sender<Input>,
    /// The hub's address (without the API prefix): tickets' status pages are there unless
    /// the catalogue names headquarters' public address.
    hub_base: String,
}

impl BackendLink {
    /// Queues that lead nowhere: effects are dropped (screenshots, first-frame timing).
    pub fn detached(hub_base: impl Into<String>) -> BackendLink {
        let (effects, _) = unbounded_channel();
        let (input_tx, inputs) = mpsc::channel();
        BackendLink {
            effects,
            inputs,
            input_tx,
            hub_base: hub_base.into(),
        }
    }
}

/// The runtime side: runs each effect on the controller and follows the hub.
#[derive(Debug)]
pub struct Backend;

impl Backend {
    /// Starts the effect runner (and the hub follower when `follow` is given) on `rt`;
    /// both stop when `shutdown` resolves. `wake` is called after each result is queued.
    pub fn start(
        rt: &tokio::runtime::Handle,
        controller: Arc<Controller>,
        follow: Option<FeedOptions>,
        wake: Waker,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> BackendLink {
        let (effects, mut effect_rx) = unbounded_channel::<Effect>();
        let (input_tx, inputs) = mpsc::channel::<Input>();
        let hub_base = controller.hub().base().to_owned();
        let tx = input_tx.clone();
        let sink: Sink = Arc::new(move |o| {
            if tx.send(Input::Hub(o)).is_ok() {
                wake();
            }
        });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        {
            let controller = controller.clone();
            let sink = sink.clone();
            let mut stop = stop_rx.clone();
            rt.spawn(async move {
                loop {
                    tokio::select! {
                        e = effect_rx.recv() => {
                            let Some(effect) = e else { return };
                            let c = controller.clone();
                            let s = sink.clone();
                            tokio::spawn(async move { c.run(effect, &s).await });
                        }
                        _ = stop.changed() => return,
                    }
                }
            });
        }
        if let Some(opts) = follow {
            let mut stop = stop_rx;
            rt.spawn(feed::follow(controller, sink, opts, async move {
                let _ = stop.changed().await;
            }));
        }
        rt.spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        BackendLink {
            effects,
            inputs,
            input_tx,
            hub_base,
        }
    }
}

struct Inner {
    window: KioskWindow,
    model: RefCell<KioskModel>,
    link: BackendLink,
    cache: RefCell<UiCache>,
}

/// The kiosk on the UI thread.
#[derive(Clone)]
pub struct KioskApp {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for KioskApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KioskApp")
            .field("screen", &self.inner.model.borrow().screen)
            .finish()
    }
}

impl KioskApp {
    /// Shows a new model in `window` and wires the window's callbacks to it.
    pub fn new(
        window: KioskWindow,
        config: ModelConfig,
        link: BackendLink,
        landscape: bool,
    ) -> KioskApp {
        window.global::<Shell>().set_landscape(landscape);
        let app = KioskApp {
            inner: Rc::new(Inner {
                window,
                model: RefCell::new(KioskModel::new(config)),
                link,
                cache: RefCell::new(UiCache::default()),
            }),
        };
        let weak = Rc::downgrade(&app.inner);
        adapter::wire(
            &app.inner.window,
            Rc::new(move |i| {
                if let Some(inner) = weak.upgrade() {
                    (KioskApp { inner }).input(i);
                }
            }),
        );
        let weak = Rc::downgrade(&app.inner);
        app.inner.window.global::<Shell>().on_pump(move || {
            if let Some(inner) = weak.upgrade() {
                (KioskApp { inner }).pump();
            }
        });
        app.refresh();
        app
    }

    pub fn window(&self) -> &KioskWindow {
        &self.inner.window
    }

    pub fn model(&self) -> Ref<'_, KioskModel> {
        self.inner.model.borrow()
    }

    /// A sender for inputs from other threads (call [`KioskApp::pump`], or wake the UI,
    /// after sending).
    pub fn input_sender(&self) -> mpsc::Sender<Input> {
        self.inner.link.input_tx.clone()
    }

    /// Applies one input, sends its effects, and shows the result.
    pub fn input(&self, input: Input) {
        let tick = matches!(input, Input::Tick { .. });
        let (effects, changed) = {
            let mut m = self.inner.model.borrow_mut();
            let before = tick.then(|| (m.screen, m.idle_warning()));
            let fx = m.apply(input);
            let changed = !tick || before != Some((m.screen, m.idle_warning()));
            (fx, changed)
        };
        for e in effects {
            if self.inner.link.effects.send(e).is_err() {
                tracing::debug!("kiosk: no controller: effect dropped");
            }
        }
        if changed {
            self.refresh();
        }
    }

    /// Time passes (the UI thread's timer).
    pub fn tick(&self) {
        // The layout follows the real window: a fullscreen kiosk on a landscape panel (or
        // one rotated by the display) gets the landscape layout whatever `--size` said.
        let size = self.inner.window.window().size();
        if size.width > 0 && size.height > 0 {
            let shell = self.inner.window.global::<Shell>();
            let landscape = size.width > size.height;
            if shell.get_landscape() != landscape {
                shell.set_landscape(landscape);
            }
        }
        self.input(Input::Tick {
            now: Instant::now(),
            utc: chrono::Utc::now(),
        });
    }

    /// Applies every result that arrived; returns how many.
    pub fn pump(&self) -> usize {
        let mut n = 0;
        loop {
            let next = self.inner.link.inputs.try_recv();
            match next {
                Ok(i) => {
                    n += 1;
                    let fx = self.inner.model.borrow_mut().apply(i);
                    for e in fx {
                        let _ = self.inner.link.effects.send(e);
                    }
                }
                Err(_) => break,
            }
        }
        if n > 0 {
            self.refresh();
        }
        n
    }

    /// Shows the model as it is.
    pub fn refresh(&self) {
        let base = self.inner.link.hub_base.clone();
        adapter::fill(
            &self.inner.window,
            &self.inner.model.borrow(),
            &mut self.inner.cache.borrow_mut(),
            &move |cat, ticket| crate::controller::status_url(&base, cat, ticket),
        );
    }

    /// Runs `f` on the model, then shows it (demo data for screenshots).
    pub fn with_model(&self, f: impl FnOnce(&mut KioskModel)) {
        f(&mut self.inner.model.borrow_mut());
        self.refresh();
    }
}
