//! Tap → printed ticket, against a real hub on 127.0.0.1:0 and the printer simulator:
//! the time from the tap (the model's input, then the controller's effect) to the
//! ticket's last byte handed to the simulated printer, p50/p99 over TAPS taps (100);
//! then the first frame of the kiosk rendered headless, and the resident memory. Prints
//! figures; asserts nothing about timing.
//!
//!     cargo bench -p servicehall-kiosk --bench tap_to_print

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::ServiceType;
use hardware::printer::document::Document;
use hardware::printer::sim::{SimConfig, SimEvent, SimPrinter};
use hardware::printer::{PaperWidth, PrintError};
use hub::testkit::{TestHub, config};
use kiosk::controller::{Controller, Sink};
use kiosk::model::{Input, KioskModel, ModelConfig, Outcome, Screen};
use kiosk::printer::{EscPos, PrinterTarget, TicketPrinter};

/// The real printer, noting when each job's bytes were all handed over.
#[derive(Debug)]
struct Timed {
    inner: EscPos,
    done: Mutex<Vec<Instant>>,
}

impl TicketPrinter for Timed {
    fn paper(&self) -> PaperWidth {
        self.inner.paper()
    }
    fn print(&self, docs: &[Document]) -> Result<(), PrintError> {
        let r = self.inner.print(docs);
        self.done.lock().unwrap().push(Instant::now());
        r
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn main() {
    let taps: usize = std::env::var("TAPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
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
    let stored = sim.subscribe();
    let printer = Arc::new(Timed {
        inner: EscPos::new(
            PrinterTarget::Tcp(sim.local_addr().to_string()),
            PaperWidth::Mm80,
        ),
        done: Mutex::new(Vec::new()),
    });
    let (to_print, to_stored) = rt.block_on(async {
        let hub = TestHub::start(config("")).await;
        let controller = Controller::new(hub.client.clone(), "kiosk-bench", Some(printer.clone()));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let o = outcomes.clone();
        let sink: Sink = Arc::new(move |x| o.lock().unwrap().push(x));
        let mut model = KioskModel::new(ModelConfig::default());
        model.apply(Input::Tick {
            now: Instant::now(),
            utc: chrono::Utc::now(),
        });
        controller.run(kiosk::model::Effect::Refresh, &sink).await;
        for x in outcomes.lock().unwrap().drain(..) {
            model.apply(Input::Hub(x));
        }
        let mut to_print = Vec::with_capacity(taps);
        let mut to_stored = Vec::with_capacity(taps);
        for _ in 0..taps {
            model.apply(Input::Go(Screen::Home));
            let tap = Instant::now();
            let fx = model.apply(Input::TakeTicket(ServiceType::Consultation));
            for e in fx {
                controller.run(e, &sink).await;
            }
            let handed_over = *printer.done.lock().unwrap().last().unwrap();
            to_print.push(handed_over - tap);
            // The simulator has stored (and rendered) the job.
            loop {
                match stored.recv_timeout(Duration::from_secs(5)).unwrap() {
                    SimEvent::JobStored { .. } => break,
                    _ => continue,
                }
            }
            to_stored.push(tap.elapsed());
            for x in outcomes.lock().unwrap().drain(..) {
                if let Outcome::Printed { state, .. } = &x {
                    assert_eq!(*state, kiosk::model::PrintState::Printed);
                }
                model.apply(Input::Hub(x));
            }
        }
        hub.stop().await;
        (to_print, to_stored)
    });
    let mut a = to_print;
    a.sort();
    let mut b = to_stored;
    b.sort();
    println!("tap → ticket bytes at the simulated printer ({taps} taps, real hub, TCP printer):");
    println!(
        "  p50 {:?}  p99 {:?}  max {:?}",
        percentile(&a, 0.5),
        percentile(&a, 0.99),
        a[a.len() - 1]
    );
    println!("tap → job stored by the simulator (includes its PNG rendering):");
    println!(
        "  p50 {:?}  p99 {:?}",
        percentile(&b, 0.5),
        percentile(&b, 0.99)
    );

    // First frame at start, headless (software renderer), portrait 1080×1920.
    let start = Instant::now();
    let k = kiosk::headless::HeadlessKiosk::new(
        ModelConfig::default(),
        kiosk::ScreenSize::PORTRAIT.into(),
    )
    .unwrap();
    k.app().with_model(|m| {
        for i in kiosk::demo::scenes(ui::Lang::ZhCn).remove(0).inputs {
            m.apply(i);
        }
    });
    let frame = k.render();
    let first = start.elapsed();
    let t = Instant::now();
    for _ in 0..3 {
        k.render();
    }
    println!(
        "first frame (create the UI, fill it, render {}x{}): {first:?}; a full redraw after: {:?}",
        frame.width,
        frame.height,
        t.elapsed() / 3
    );
    match rss_kib() {
        Some(kib) => println!("resident memory (VmRSS): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("resident memory: /proc/self/status not readable"),
    }
}
