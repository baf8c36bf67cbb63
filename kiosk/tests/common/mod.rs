//! A kiosk's model and controller against a real hub on 127.0.0.1:0 and the printer
//! simulator: inputs are applied and their effects carried out to the end, results fed
//! back, as the app does between its two threads.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use domain::ServiceType;
use hardware::printer::PaperWidth;
use hardware::printer::sim::{SimConfig, SimPrinter, SimPrinterHandle};
use hub::testkit::{TestHub, config};
use kiosk::controller::{Controller, Sink};
use kiosk::model::{Effect, Input, KioskModel, ModelConfig, Outcome};
use kiosk::printer::{EscPos, PrinterTarget};
use protocol::{HubClient, SlotView};

/// A test centre open around the clock with a counter for every service, where an
/// appointment can be checked in up to a day early.
pub(crate) fn centre() -> hub::Config {
    config(
        r#"
[[counters]]
number = 1
services = ["consultation", "complaint", "installation", "repair", "return_exchange"]

[appointments]
slot_minutes = 60
early_minutes = 1440
"#,
    )
}

pub(crate) fn printer_sim() -> (SimPrinterHandle, tempfile::TempDir) {
    let jobs = tempfile::tempdir().unwrap();
    let sim = SimPrinter::start_with(
        jobs.path(),
        "127.0.0.1:0",
        SimConfig {
            width: PaperWidth::Mm80,
            idle_timeout: Duration::from_millis(300),
        },
    )
    .unwrap();
    (sim, jobs)
}

pub(crate) fn escpos(sim: &SimPrinterHandle) -> Arc<EscPos> {
    Arc::new(EscPos::new(
        PrinterTarget::Tcp(sim.local_addr().to_string()),
        PaperWidth::Mm80,
    ))
}

pub(crate) struct Rig {
    pub(crate) hub: TestHub,
    pub(crate) printer: SimPrinterHandle,
    pub(crate) controller: Arc<Controller>,
    pub(crate) model: KioskModel,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    sink: Sink,
    _jobs: tempfile::TempDir,
}

impl Rig {
    pub(crate) async fn start(model: ModelConfig) -> Rig {
        Rig::start_with(centre(), model).await
    }

    pub(crate) async fn start_with(cfg: hub::Config, model: ModelConfig) -> Rig {
        let hub = TestHub::start(cfg).await;
        let (printer, jobs) = printer_sim();
        let controller = Arc::new(
            Controller::new(hub.client.clone(), "kiosk-test", Some(escpos(&printer)))
                .with_timeout(Duration::from_secs(5)),
        );
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let o = outcomes.clone();
        let sink: Sink = Arc::new(move |x| o.lock().unwrap().push(x));
        let mut rig = Rig {
            hub,
            printer,
            controller,
            model: KioskModel::new(model),
            outcomes,
            sink,
            _jobs: jobs,
        };
        rig.tick(Duration::ZERO);
        rig.run(vec![Effect::Refresh]).await;
        assert!(rig.model.can_issue(), "the kiosk is ready");
        rig
    }

    /// Time passes by `after` from now.
    pub(crate) fn tick(&mut self, after: Duration) {
        self.model.apply(Input::Tick {
            now: Instant::now() + after,
            utc: Utc::now() + ChronoDuration::from_std(after).unwrap(),
        });
    }

    /// Applies `input` and carries out everything it leads to.
    pub(crate) async fn act(&mut self, input: Input) {
        let fx = self.model.apply(input);
        self.run(fx).await;
    }

    /// Types `text` (keys of the on-screen keyboard or a scanner).
    pub(crate) async fn typed(&mut self, text: &str) {
        self.act(Input::Key(text.into())).await;
    }

    pub(crate) async fn run(&mut self, mut fx: Vec<Effect>) {
        while !fx.is_empty() {
            let e = fx.remove(0);
            self.controller.run(e, &self.sink).await;
            let outs = std::mem::take(&mut *self.outcomes.lock().unwrap());
            for o in outs {
                fx.extend(self.model.apply(Input::Hub(o)));
            }
        }
    }

    /// The simulator's stored jobs, waiting up to 5 s for `n` of them.
    pub(crate) async fn jobs(&self, n: usize) -> Vec<Vec<u8>> {
        wait_jobs(&self.printer, n).await
    }

    pub(crate) async fn staff(&self) -> HubClient {
        self.hub.login("sup", Some(1)).await.0
    }
}

pub(crate) async fn wait_jobs(printer: &SimPrinterHandle, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let jobs: Vec<PathBuf> = printer.jobs();
        if jobs.len() >= n || Instant::now() > deadline {
            return jobs.iter().map(|p| std::fs::read(p).unwrap()).collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `needle` occurs in `hay`.
pub(crate) fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The first slot of `service` with room, starting at or after `after`.
pub(crate) async fn slot_after(
    client: &HubClient,
    service: ServiceType,
    after: chrono::DateTime<Utc>,
) -> SlotView {
    let first = after.date_naive() - ChronoDuration::days(1);
    for n in 0..4 {
        let slots = client
            .slots(service, first + ChronoDuration::days(n))
            .await
            .unwrap();
        if let Some(s) = slots
            .into_iter()
            .find(|s| s.start >= after && s.booked < s.capacity)
        {
            return s;
        }
    }
    panic!("no free slot in three days");
}

/// Calls, starts and finishes ticket `id` at counter 1.
pub(crate) async fn serve(staff: &HubClient, id: i64) {
    for action in ["call", "start", "finish"] {
        staff.ticket_action(id, action).await.unwrap();
    }
}
