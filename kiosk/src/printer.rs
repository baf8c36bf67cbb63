//! The kiosk's printouts: where they go ([`PrinterTarget`]: a network printer, a device
//! node, a serial port, or none), the [`TicketPrinter`] role the controller prints
//! through, and the two documents it prints, built from what the hub recorded: the queue
//! ticket and the intake slip (GB/T 6.1.2).
//!
//! The layout and every byte of ESC/POS belong to `hardware`; this module never talks to
//! the hub and never prints personal data unmasked (the slip masks the phone, GB/T 5.4.2).

use std::fmt;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Utc};
use domain::{Channel, TicketNumber};
use hardware::printer::document::{
    self as doc, Centre, Document, DocumentError, IntakeSlip, Localized, QueueTicket, ServiceName,
};
use hardware::printer::{PaperWidth, PrintError, PrinterProfile, QrMode};
use protocol::{Catalogue, IntakeReceipt, IssuedTicket};
use ui::Lang;

pub use hardware::printer::{BadPrinterTarget, PrinterTarget};

/// The kiosk's printer role: prints whole documents, blocking (call it off the UI thread
/// and off the async workers).
pub trait TicketPrinter: Send + Sync + fmt::Debug {
    /// The paper documents are laid out for.
    fn paper(&self) -> PaperWidth;
    /// Prints each document as its own job, in order; stops at the first failure (the
    /// caller still holds the documents).
    fn print(&self, docs: &[Document]) -> Result<(), PrintError>;
}

/// An ESC/POS printer behind one of the transports, opened afresh for each job (as a
/// spooler does: a printer switched off and on is found again, and each job is whole).
#[derive(Debug)]
pub struct EscPos {
    target: PrinterTarget,
    profile: PrinterProfile,
    /// One job at a time.
    busy: Mutex<()>,
}

impl EscPos {
    /// A printer at `target` (which must not be [`PrinterTarget::None`]).
    pub fn new(target: PrinterTarget, width: PaperWidth) -> EscPos {
        EscPos {
            profile: PrinterProfile {
                name: format!("kiosk printer {target}"),
                width,
                qr: QrMode::Native,
            },
            target,
            busy: Mutex::new(()),
        }
    }

    fn print_one(&self, d: &Document) -> Result<(), PrintError> {
        // Opened afresh for each job, as a spooler does.
        self.target
            .open(self.profile.clone(), std::time::Duration::from_secs(3))?
            .print(d)
    }
}

impl TicketPrinter for EscPos {
    fn paper(&self) -> PaperWidth {
        self.profile.width
    }

    fn print(&self, docs: &[Document]) -> Result<(), PrintError> {
        let _one_at_a_time = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        docs.iter().try_for_each(|d| self.print_one(d))
    }
}

/// The printed language for a screen language.
pub fn paper_lang(lang: Lang) -> doc::Lang {
    match lang {
        Lang::ZhCn => doc::Lang::ZhCn,
        Lang::En => doc::Lang::En,
    }
}

fn centre(cat: &Catalogue) -> Centre {
    Centre {
        name: Localized::new(&cat.centre.name_zh, &cat.centre.name_en),
        address: cat.centre.address.clone(),
        phone: cat.centre.phone.clone(),
    }
}

fn zone(cat: &Catalogue) -> FixedOffset {
    FixedOffset::east_opt(cat.centre.utc_offset_minutes * 60)
        .unwrap_or_else(|| chrono::Offset::fix(&Utc))
}

fn local(t: DateTime<Utc>, zone: FixedOffset) -> NaiveDateTime {
    t.with_timezone(&zone).naive_local()
}

fn service_name(cat: &Catalogue, s: domain::ServiceType) -> ServiceName {
    cat.services
        .iter()
        .find(|c| c.service == s)
        .map(|c| ServiceName {
            kind: s,
            name: Localized::new(&c.name_zh, &c.name_en),
        })
        .unwrap_or_else(|| ServiceName::standard(s))
}

/// `A012` → prefix `A`, sequence 12.
pub fn ticket_number(number: &str) -> Option<TicketNumber> {
    let mut chars = number.chars();
    let prefix = chars.next()?;
    let seq = chars.as_str().parse().ok()?;
    Some(TicketNumber { prefix, seq })
}

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("the hub gave the ticket number `{0}`, which is not a ticket number")]
    BadNumber(String),
    #[error(transparent)]
    Layout(#[from] DocumentError),
}

/// The queue ticket (no personal data, GB/T 5.4.2), its QR the ticket's status page
/// (GB/T 4.1.3).
pub fn queue_ticket(
    cat: &Catalogue,
    issued: &IssuedTicket,
    status_url: &str,
    lang: Lang,
    width: PaperWidth,
) -> Result<Document, DocError> {
    let t = &issued.ticket;
    let number = ticket_number(&t.number).ok_or_else(|| DocError::BadNumber(t.number.clone()))?;
    let ticket = QueueTicket {
        centre: centre(cat),
        number,
        service: service_name(cat, t.service),
        issued_at: local(t.issued_at, zone(cat)),
        people_ahead: issued.people_ahead,
        estimated_wait: Duration::seconds(i64::from(issued.estimated_wait_secs)),
        status_url: status_url.to_owned(),
    };
    Ok(ticket.document(paper_lang(lang), width)?)
}

/// GB/T 6.1.2: the slip repeating the request the customer confirmed, with the reply
/// and resolution deadlines (GB/T 5.5.2, 4.1.2). `phone` is what the customer typed; the
/// slip prints it masked.
pub fn intake_slip(
    cat: &Catalogue,
    receipt: &IntakeReceipt,
    phone: Option<&str>,
    status_url: &str,
    lang: Lang,
    width: PaperWidth,
) -> Result<Document, DocError> {
    let r = &receipt.request;
    let z = zone(cat);
    let problem = match (&r.intake.problem, &r.intake.details) {
        (Some(p), Some(d)) => Some(format!("{p}\n{d}")),
        (p, d) => p.clone().or_else(|| d.clone()),
    };
    let slip = IntakeSlip {
        centre: centre(cat),
        request_no: r.number(z),
        service: service_name(cat, r.service),
        channel: Channel::OnSite,
        accepted_at: local(r.created_at, z),
        customer_name: None,
        customer_phone: phone.map(str::to_owned),
        product: r.intake.product.clone(),
        model: r.intake.model.clone(),
        serial_number: r.intake.serial_number.clone(),
        purchase_date: r.intake.purchase_date,
        problem,
        reply_due: r.reply_due.map(|t| local(t, z)),
        resolve_due: r.resolve_due.map(|t| local(t, z)),
        status_url: Some(status_url.to_owned()),
    };
    Ok(slip.document(paper_lang(lang), width)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_in_their_written_forms() {
        assert_eq!("none".parse(), Ok(PrinterTarget::None));
        assert_eq!(
            "tcp:127.0.0.1:9100".parse(),
            Ok(PrinterTarget::Tcp("127.0.0.1:9100".into()))
        );
        assert_eq!(
            "/dev/usb/lp0".parse(),
            Ok(PrinterTarget::Device("/dev/usb/lp0".into()))
        );
        assert_eq!(
            "serial:/dev/ttyUSB0:9600".parse(),
            Ok(PrinterTarget::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 9600
            })
        );
        assert_eq!(
            "serial:/dev/ttyS1"
                .parse::<PrinterTarget>()
                .map(|t| t.to_string()),
            Ok("serial:/dev/ttyS1:115200".into())
        );
        assert!("tcp:printer".parse::<PrinterTarget>().is_err());
        assert!("lp0".parse::<PrinterTarget>().is_err());
    }

    #[test]
    fn ticket_numbers_split_into_prefix_and_sequence() {
        assert_eq!(
            ticket_number("D017"),
            Some(TicketNumber {
                prefix: 'D',
                seq: 17
            })
        );
        assert_eq!(ticket_number("D"), None);
    }
}
