//! The documents the counter prints, built from what the hub recorded: the service
//! agreement (GB/T 8.2), the payment receipt (8.3, 8.4.2) and the refund slip (8.4.3),
//! with their numbers. The layout itself belongs to `hardware::printer::document`.
//!
//! Pure: it never prints, never talks to the hub, and prints customer contact only in
//! the masked form the hub gives (the document masks it again, GB/T 5.4.2).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use domain::{Fen, Quote, QuoteLine, ServiceType};
use hardware::printer::PaperWidth;
use hardware::printer::document::{
    self as doc, AgreementRef, Centre, Document, DocumentError, Localized, PaymentReceipt,
    RefundSlip, ServiceAgreement, ServiceName, Technician, Tender,
};
use protocol::{AgreementView, Catalogue, PaymentMethod, PaymentView, RefundView, RequestView};
use ui::Lang;

use crate::text::{centre_zone, local, parse_local_time};

/// The printed language for the desk's language.
pub fn paper_lang(lang: Lang) -> doc::Lang {
    match lang {
        Lang::ZhCn => doc::Lang::ZhCn,
        Lang::En => doc::Lang::En,
    }
}

fn date_tag(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// The request id in a request number as staff type it: `R20260302-0012`, or just `12`.
pub fn parse_request_no(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.rsplit('-').next().unwrap_or(t);
    let digits = digits.trim_start_matches(['R', 'r']);
    digits.parse().ok().filter(|id| *id > 0)
}

/// `A20260302-0012`: the agreement of request 12 (its versions share the number).
pub fn agreement_no(r: &RequestView, zone: FixedOffset) -> String {
    format!(
        "A{}-{:04}",
        date_tag(local(r.created_at, zone).date()),
        r.id
    )
}

/// `P20260302-0031`: payment 31's receipt.
pub fn receipt_no(p: &PaymentView, zone: FixedOffset) -> String {
    format!("P{}-{:04}", date_tag(local(p.at, zone).date()), p.id)
}

/// `F20260302-0004`: refund 4's slip.
pub fn refund_no(r: &RefundView) -> String {
    format!("F{}-{:04}", date_tag(r.requested_on), r.id)
}

/// What a document needs to know about the centre.
#[derive(Debug, Clone)]
pub struct Letterhead {
    pub centre: Centre,
    pub zone: FixedOffset,
    /// The configured names of the services (GB/T 5.3.1), by type.
    pub services: Vec<(ServiceType, Localized)>,
}

impl Letterhead {
    pub fn from_catalogue(c: &Catalogue) -> Letterhead {
        Letterhead {
            centre: Centre {
                name: Localized::new(&c.centre.name_zh, &c.centre.name_en),
                address: c.centre.address.clone(),
                phone: c.centre.phone.clone(),
            },
            zone: centre_zone(c.centre.utc_offset_minutes),
            services: c
                .services
                .iter()
                .map(|s| (s.service, Localized::new(&s.name_zh, &s.name_en)))
                .collect(),
        }
    }

    pub fn service(&self, kind: ServiceType) -> ServiceName {
        self.services.iter().find(|(k, _)| *k == kind).map_or_else(
            || ServiceName::standard(kind),
            |(_, name)| ServiceName {
                kind,
                name: name.clone(),
            },
        )
    }
}

fn hw_method(m: PaymentMethod) -> doc::PaymentMethod {
    match m {
        PaymentMethod::Cash => doc::PaymentMethod::Cash,
        PaymentMethod::BankCard => doc::PaymentMethod::BankCard,
        PaymentMethod::Cheque => doc::PaymentMethod::Cheque,
        PaymentMethod::Online => doc::PaymentMethod::Online,
    }
}

/// GB/T 6.2: the technician named on the agreement; the staff number is the writer's
/// when the technician is the staff member who wrote it.
pub fn technician(a: &AgreementView, writer_name: Option<&str>) -> Technician {
    let is_writer = writer_name.is_some_and(|n| n.trim() == a.technician.trim());
    Technician {
        name: a.technician.clone(),
        staff_no: if is_writer {
            a.staff_id.clone()
        } else {
            "-".to_owned()
        },
        certificate: None,
    }
}

/// GB/T 8.2.1: one version of the service agreement as printed. The agreed time is the
/// start when it reads `YYYY-MM-DD HH:MM` (the counter's form enforces that), otherwise the
/// moment the version was written; the completion limit is the request's promised
/// resolution time (GB/T 4.1.2).
pub fn agreement(
    head: &Letterhead,
    request: &RequestView,
    a: &AgreementView,
    writer_name: Option<&str>,
) -> ServiceAgreement {
    let issued_at = local(a.created_at, head.zone);
    let starts_at = parse_local_time(&a.time).unwrap_or(issued_at);
    let finish_by = request
        .resolve_due
        .map_or(starts_at, |d| local(d, head.zone))
        .max(starts_at);
    let contact = request.contact.as_ref();
    ServiceAgreement {
        centre: head.centre.clone(),
        agreement_no: agreement_no(request, head.zone),
        version: a.version,
        request_no: request.number(head.zone),
        service: head.service(request.service),
        content: a.content.clone(),
        starts_at,
        finish_by,
        place: a.place.clone(),
        fees: Quote {
            lines: a.lines.clone(),
        },
        change_procedure: Localized::new(&a.change_procedure, &a.change_procedure),
        technician: technician(a, writer_name),
        customer_name: contact.and_then(|c| c.name.clone()),
        customer_phone: contact.map(|c| c.phone.clone()),
        issued_at,
    }
}

/// How a payment was tendered, as the receipt shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tendered {
    Cash { tendered: Fen },
    Other,
}

/// The fee lines a payment settles: the quote's lines when it pays the whole quote,
/// otherwise one line for the amount (a part payment).
pub fn paid_lines(request: &RequestView, amount: Fen) -> Vec<QuoteLine> {
    match &request.quote {
        Some(q) if q.total == amount => q.lines.clone(),
        _ => vec![QuoteLine {
            code: "payment".into(),
            name_zh: "服务费用".into(),
            name_en: "Service fees".into(),
            quantity: 1,
            unit_price: amount,
        }],
    }
}

/// GB/T 8.3 and 8.4.2: the receipt of one payment.
pub fn receipt(
    head: &Letterhead,
    request: &RequestView,
    payment: &PaymentView,
    tendered: &Tendered,
    agreement: Option<&AgreementView>,
    technician: Option<Technician>,
) -> PaymentReceipt {
    let reference = payment.reference.clone().unwrap_or_else(|| "-".into());
    let tender = match (payment.method, tendered) {
        (PaymentMethod::Cash, Tendered::Cash { tendered }) => Tender::Cash {
            tendered: *tendered,
        },
        (PaymentMethod::Cash, Tendered::Other) => Tender::Cash {
            tendered: payment.amount,
        },
        (PaymentMethod::BankCard, _) => Tender::BankCard {
            terminal_ref: reference,
        },
        (PaymentMethod::Cheque, _) => Tender::Cheque { number: reference },
        (PaymentMethod::Online, _) => Tender::Online { reference },
    };
    let work_done = agreement.map_or_else(
        || {
            request
                .intake
                .problem
                .clone()
                .unwrap_or_else(|| head.service(request.service).name.zh)
        },
        |a| a.content.clone(),
    );
    PaymentReceipt {
        centre: head.centre.clone(),
        receipt_no: receipt_no(payment, head.zone),
        request_no: request.number(head.zone),
        agreement: agreement.map(|a| AgreementRef {
            agreement_no: agreement_no(request, head.zone),
            version: a.version,
        }),
        service: head.service(request.service),
        work_done,
        technician,
        fees: Quote {
            lines: paid_lines(request, payment.amount),
        },
        tender,
        paid_at: local(payment.at, head.zone),
        survey_url: None,
    }
}

/// GB/T 8.4.3: the slip of one refund, with its due date.
pub fn refund_slip(
    head: &Letterhead,
    request: &RequestView,
    refund: &RefundView,
    payment: Option<&PaymentView>,
) -> RefundSlip {
    RefundSlip {
        centre: head.centre.clone(),
        refund_no: refund_no(refund),
        request_no: request.number(head.zone),
        receipt_no: payment.map(|p| receipt_no(p, head.zone)),
        amount: refund.amount,
        method: hw_method(refund.method),
        reason: refund.reason.clone(),
        requested_on: refund.requested_on,
        due_on: refund.due_date,
    }
}

/// Which document a print job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Agreement,
    Receipt,
    RefundSlip,
}

impl std::fmt::Display for DocKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DocKind::Agreement => "service agreement",
            DocKind::Receipt => "receipt",
            DocKind::RefundSlip => "refund slip",
        })
    }
}

/// A laid-out document waiting to be printed (or kept for a reprint).
#[derive(Debug, Clone)]
pub struct PrintJob {
    pub kind: DocKind,
    /// `A20260302-0012 v2`, `P20260302-0031`...
    pub title: String,
    pub doc: Document,
}

/// Lays out a document for the counter's paper.
pub fn layout<F>(kind: DocKind, title: String, f: F) -> Result<PrintJob, DocumentError>
where
    F: FnOnce(PaperWidth) -> Result<Document, DocumentError>,
{
    Ok(PrintJob {
        kind,
        title,
        doc: f(PaperWidth::Mm80)?,
    })
}

/// Now, for documents issued at the counter.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn request_numbers_are_read_back_as_typed() {
        assert_eq!(parse_request_no("R20260302-0012"), Some(12));
        assert_eq!(parse_request_no(" 12 "), Some(12));
        assert_eq!(parse_request_no("r7"), Some(7));
        assert_eq!(parse_request_no("A20260302-x"), None);
        assert_eq!(parse_request_no(""), None);
    }

    #[test]
    fn numbers_carry_the_centres_date() {
        let zone = crate::text::centre_zone(480);
        // 2026-03-01 20:30 UTC is 2 March in China.
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 20, 30, 0).unwrap();
        let p = PaymentView {
            id: 31,
            request_id: 12,
            amount: Fen(100),
            method: PaymentMethod::Cash,
            reference: None,
            at,
            staff_id: "tech".into(),
        };
        assert_eq!(receipt_no(&p, zone), "P20260302-0031");
    }

    #[test]
    fn a_part_payment_is_one_line_for_its_amount() {
        let line = QuoteLine {
            code: "inspection".into(),
            name_zh: "检测费".into(),
            name_en: "Inspection".into(),
            quantity: 1,
            unit_price: Fen(3000),
        };
        let r: RequestView = serde_json::from_value(serde_json::json!({
            "id": 1, "service": "repair", "channel": "on_site", "ticket_id": null,
            "stage": "processing", "intake": {}, "paid": true,
            "created_at": "2026-03-02T01:00:00Z", "reply_due": null, "resolve_due": null,
            "answered_at": null, "resolved_at": null, "overdue": false, "history": [],
            "quote": {"version": 1, "lines": [line.clone()], "total": 3000, "digest": "d",
                      "created_at": "2026-03-02T01:00:00Z", "acknowledged_at": null,
                      "acknowledged_via": null},
            "contact": null, "fees_acknowledged": null, "payments": [], "refunds": [],
            "agreement_version": null
        }))
        .unwrap();
        assert_eq!(paid_lines(&r, Fen(3000)), vec![line]);
        let part = paid_lines(&r, Fen(1000));
        assert_eq!(part.len(), 1);
        assert_eq!(part[0].unit_price, Fen(1000));
    }
}
