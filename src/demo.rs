//! The simulated devices of the all-in-one installation: a network receipt printer, a
//! payment terminal on a virtual serial cable, and a "take ticket" button driven from the
//! keyboard (press Enter) that issues a ticket at the hub and prints it, as a push-button
//! ticket dispenser would.
//!
//! Glue only: the devices live in `hardware`, the rules in the hub.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hardware::gpio::{Gpio, GpioEvent, SimGpio, SimInput};
use hardware::printer::document::{Centre, Lang, Localized, QueueTicket, ServiceName};
use hardware::printer::sim::{SimPrinter, SimPrinterHandle};
use hardware::printer::transport::{EscPosPrinter, Tcp, TcpTimeouts};
use hardware::printer::{PaperWidth, PrinterProfile, QrMode, ReceiptPrinter};
use hardware::terminal::sim::PtySim;
use hardware::terminal::{LineFormat, SimTiming};
use protocol::{DeviceIdentity, HubClient, IssueTicket};

/// Everything simulated; held while the installation runs, dropping it stops the
/// simulators.
#[derive(Debug)]
pub(crate) struct Devices {
    _printer: SimPrinterHandle,
    _terminal: Option<PtySim>,
    /// Where the simulated printer listens (the kiosk and counter print there).
    pub(crate) printer_addr: std::net::SocketAddr,
    /// The cash-register end of the simulated terminal's cable (for the counter).
    pub(crate) terminal_register: Option<PathBuf>,
}

/// Starts the printer and terminal simulators and the keyboard ticket button (which
/// talks to the hub as the device `identity` when there is one).
pub(crate) fn start(
    data_dir: &Path,
    hub_url: String,
    utc_offset: chrono::FixedOffset,
    rt: tokio::runtime::Handle,
    identity: Option<Arc<DeviceIdentity>>,
) -> Result<Devices> {
    let hub = HubClient::for_device(hub_url.clone(), identity.as_deref())
        .with_context(|| format!("the ticket button cannot talk to the hub at {hub_url}"))?;
    let jobs = data_dir.join("printer-jobs");
    // The usual raw printing port, or any free one when 9100 is taken.
    let printer = SimPrinter::start(&jobs, "127.0.0.1:9100")
        .or_else(|_| SimPrinter::start(&jobs, "127.0.0.1:0"))
        .context("starting the printer simulator")?;
    eprintln!(
        "  printer: simulated 80 mm printer on {} (jobs as .bin and .png in {})",
        printer.local_addr(),
        jobs.display()
    );

    let (terminal, terminal_register) = match start_terminal(data_dir) {
        Ok(sim) => {
            let register = sim.register_end().to_path_buf();
            eprintln!(
                "  terminal: simulated Telium terminal (protocol E, 8N1); cash register side at {}",
                register.display()
            );
            (Some(sim), Some(register))
        }
        Err(e) => {
            eprintln!("  terminal: not started: {e:#}");
            (None, None)
        }
    };

    let (gpio, button) = SimGpio::new(Duration::from_millis(20));
    let printer_addr = printer.local_addr();
    std::thread::Builder::new()
        .name("ticket-button".into())
        .spawn(move || dispenser(gpio, hub, printer_addr, utc_offset, rt))
        .context("starting the ticket button")?;
    let keys = button.clone();
    std::thread::Builder::new()
        .name("keyboard".into())
        .spawn(move || {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
                if keys.send(SimInput::Press).is_err() {
                    return;
                }
            }
        })
        .context("starting the keyboard reader")?;
    eprintln!(
        "  button:  press Enter to take a consultation ticket (it prints on the simulated printer)"
    );
    Ok(Devices {
        printer_addr: printer.local_addr(),
        _printer: printer,
        _terminal: terminal,
        terminal_register,
    })
}

fn start_terminal(data_dir: &Path) -> Result<PtySim> {
    let dir = data_dir.join("terminal");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(PtySim::start(
        &dir,
        LineFormat::EightN1,
        SimTiming::default(),
    )?)
}

/// A push-button dispenser: each press issues a consultation ticket and prints it. If the
/// printer fails, the ticket stays valid and unprinted at the hub, where staff see it.
fn dispenser(
    mut gpio: SimGpio,
    hub: HubClient,
    printer: std::net::SocketAddr,
    utc_offset: chrono::FixedOffset,
    rt: tokio::runtime::Handle,
) {
    let profile = PrinterProfile {
        name: "simulated".into(),
        width: PaperWidth::Mm80,
        qr: QrMode::Native,
    };
    loop {
        match gpio.next_event(Duration::from_secs(3600)) {
            Ok(Some(GpioEvent::ButtonPressed)) => {
                // One connection per ticket, as a print spooler does: each is its own job.
                let result = Tcp::connect(printer, TcpTimeouts::default())
                    .map_err(anyhow::Error::from)
                    .and_then(|tcp| {
                        let mut p = EscPosPrinter::new(tcp, profile.clone());
                        rt.block_on(take_ticket(&hub, &mut p, utc_offset))
                    });
                if let Err(e) = result {
                    eprintln!("ticket button: {e:#}");
                }
            }
            Ok(Some(GpioEvent::PaperLow(_)) | None) => {}
            Err(_) => return,
        }
    }
}

async fn take_ticket(
    hub: &HubClient,
    printer: &mut EscPosPrinter<Tcp>,
    utc_offset: chrono::FixedOffset,
) -> Result<()> {
    let issued = hub
        .issue_ticket(&IssueTicket {
            service: domain::ServiceType::Consultation,
            class: domain::PriorityClass::Normal,
            channel: domain::Channel::OnSite,
            device: Some("ticket-button".into()),
        })
        .await?;
    let catalogue = hub.catalogue().await?;
    let t = &issued.ticket;
    let service = catalogue
        .services
        .iter()
        .find(|s| s.service == t.service)
        .map(|s| ServiceName {
            kind: t.service,
            name: Localized {
                zh: s.name_zh.clone(),
                en: s.name_en.clone(),
            },
        })
        .unwrap_or_else(|| ServiceName::standard(t.service));
    let mut chars = t.number.chars();
    let prefix = chars.next().context("empty ticket number")?;
    let seq = chars.as_str().parse::<u32>().context("ticket number")?;
    let ticket = QueueTicket {
        centre: Centre {
            name: Localized {
                zh: catalogue.centre.name_zh.clone(),
                en: catalogue.centre.name_en.clone(),
            },
            address: catalogue.centre.address.clone(),
            phone: catalogue.centre.phone.clone(),
        },
        number: domain::TicketNumber { prefix, seq },
        service,
        issued_at: t.issued_at.with_timezone(&utc_offset).naive_local(),
        people_ahead: issued.people_ahead,
        estimated_wait: chrono::Duration::seconds(i64::from(issued.estimated_wait_secs)),
        // GB/T 4.1.3: the ticket's public status page, at headquarters when it has one.
        status_url: protocol::status_page_url(
            catalogue
                .status_base_url
                .as_deref()
                .unwrap_or_else(|| hub.base()),
            &catalogue.centre.id,
            &t.status_token,
        ),
    };
    let doc = ticket.document(Lang::ZhCn, PaperWidth::Mm80)?;
    // This is the button's own thread: blocking on the printer here stalls nobody.
    match printer.print(&doc) {
        Ok(()) => {
            hub.ticket_action(t.id, "printed").await?;
            eprintln!(
                "ticket {} issued and printed ({} ahead, about {} min)",
                t.number,
                issued.people_ahead,
                issued.estimated_wait_secs.div_ceil(60)
            );
        }
        Err(e) => eprintln!(
            "ticket {} issued but not printed ({e}); it stays valid and staff can reprint it",
            t.number
        ),
    }
    Ok(())
}
