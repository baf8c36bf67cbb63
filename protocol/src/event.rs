//! The hub's event family: one enum for every business change. Each event is written to
//! the hub's outbox in the same transaction as the change, numbered by a per-hub sequence
//! that is never reused, pushed to WebSocket subscribers and (later) shipped to
//! headquarters. Events carry no personal data.

use chrono::{DateTime, NaiveDate, Utc};
use domain::request::Deadlines;
use domain::{Channel, Fen, PriorityClass, RequestStage, ServiceType};
use serde::{Deserialize, Serialize};

/// One outbox row as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Per-hub sequence number: strictly increasing, never reused, no holes.
    pub seq: i64,
    /// Wall-clock time when the change committed.
    pub at: DateTime<Utc>,
    /// Whether the wall clock was known to be synchronised at that moment.
    pub clock_synced: bool,
    /// Which run of the hub process wrote it.
    pub boot: i64,
    /// Milliseconds since that run started (monotonic, immune to clock steps).
    pub mono_ms: i64,
    pub event: HubEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubEvent {
    DayOpened {
        day_id: i64,
        date: NaiveDate,
    },
    DayClosed {
        day_id: i64,
        date: NaiveDate,
        /// Tickets still open at closing, cancelled by it.
        cancelled: u32,
    },
    TicketIssued {
        ticket_id: i64,
        number: String,
        service: ServiceType,
        class: PriorityClass,
        channel: Channel,
        /// The unguessable key of the ticket's public status page (its QR code).
        #[serde(default)]
        token: String,
    },
    TicketPrinted {
        ticket_id: i64,
        number: String,
    },
    TicketCalled {
        ticket_id: i64,
        number: String,
        service: ServiceType,
        counter: u32,
        /// True when this is a recall (re-announcement) of a ticket already called.
        recall: bool,
        /// The staff member logged in at that counter (reports per staff, GB/T 9.1.3).
        #[serde(default)]
        staff_id: Option<String>,
    },
    TicketStarted {
        ticket_id: i64,
        number: String,
        counter: u32,
    },
    TicketFinished {
        ticket_id: i64,
        number: String,
        counter: u32,
        service_secs: u32,
        #[serde(default)]
        staff_id: Option<String>,
    },
    TicketNoShow {
        ticket_id: i64,
        number: String,
        counter: u32,
    },
    TicketOnHold {
        ticket_id: i64,
        number: String,
        counter: u32,
    },
    TicketTransferred {
        ticket_id: i64,
        number: String,
        from: ServiceType,
        to: ServiceType,
        to_front: bool,
    },
    TicketCancelled {
        ticket_id: i64,
        number: String,
        /// True when an unprinted ticket was voided by staff at start-up review.
        voided: bool,
    },
    RequestCreated {
        request_id: i64,
        service: ServiceType,
        channel: Channel,
        stage: RequestStage,
        ticket_id: Option<i64>,
        /// The customer's pseudonym (never a name or number, GB/T 5.4.2), if one was given.
        #[serde(default)]
        customer: Option<String>,
        /// The promised reply and resolution times, set when the request is accepted.
        #[serde(default)]
        deadlines: Option<Deadlines>,
    },
    RequestAdvanced {
        request_id: i64,
        from: RequestStage,
        to: RequestStage,
        /// Set on the move to acceptance (an appointment becoming a request in hand).
        #[serde(default)]
        deadlines: Option<Deadlines>,
    },
    QuoteIssued {
        request_id: i64,
        version: u32,
        total: Fen,
    },
    QuoteAcknowledged {
        request_id: i64,
        version: u32,
    },
    PaymentRecorded {
        request_id: i64,
        payment_id: i64,
        amount: Fen,
        method: PaymentMethod,
    },
    RefundRecorded {
        request_id: i64,
        refund_id: i64,
        amount: Fen,
        due_date: NaiveDate,
    },
    RefundPaid {
        request_id: i64,
        refund_id: i64,
    },
    StaffLoggedIn {
        staff_id: String,
        counter: Option<u32>,
    },
    StaffLoggedOut {
        staff_id: String,
        counter: Option<u32>,
    },
    DeviceAlert {
        device: String,
        kind: crate::api::AlertKind,
        active: bool,
    },
    RatingGiven {
        rating_id: i64,
        ticket_id: Option<i64>,
        request_id: Option<i64>,
        service: ServiceType,
        score: u8,
        via: String,
        counter: Option<u32>,
        staff_id: Option<String>,
    },
    AgreementWritten {
        request_id: i64,
        version: u32,
    },
    FollowUpRecorded {
        request_id: i64,
        reached: bool,
    },
    AppointmentBooked {
        appointment_id: i64,
        request_id: i64,
        service: ServiceType,
        slot_start: DateTime<Utc>,
    },
    AppointmentCheckedIn {
        appointment_id: i64,
        ticket_id: i64,
    },
    AppointmentChanged {
        appointment_id: i64,
        /// `rescheduled`, `cancelled` or `no_show`.
        change: String,
        slot_start: DateTime<Utc>,
    },
    SmsSettled {
        sms_id: i64,
        kind: String,
        /// `sent`, `dropped`, `failed` or `unknown`.
        state: String,
    },
    /// Tombstone: the customer's personal data was erased on the hub (GB/T 5.4, 5.6.2.2);
    /// headquarters forgets every link to the pseudonym.
    CustomerErased {
        customer: String,
        /// `request` (asked by the customer) or `retention` (kept long enough).
        reason: String,
    },
    /// Only in the public event stream (see [`HubEvent::public_view`]): stands in for an
    /// event a waiting-area screen may not see, keeping its sequence number's place so
    /// the stream stays gap-free. Never written to the outbox.
    Withheld,
}

impl HubEvent {
    /// The `type` tag, also stored in the outbox's `kind` column.
    pub fn kind(&self) -> &'static str {
        match self {
            HubEvent::DayOpened { .. } => "day_opened",
            HubEvent::DayClosed { .. } => "day_closed",
            HubEvent::TicketIssued { .. } => "ticket_issued",
            HubEvent::TicketPrinted { .. } => "ticket_printed",
            HubEvent::TicketCalled { .. } => "ticket_called",
            HubEvent::TicketStarted { .. } => "ticket_started",
            HubEvent::TicketFinished { .. } => "ticket_finished",
            HubEvent::TicketNoShow { .. } => "ticket_no_show",
            HubEvent::TicketOnHold { .. } => "ticket_on_hold",
            HubEvent::TicketTransferred { .. } => "ticket_transferred",
            HubEvent::TicketCancelled { .. } => "ticket_cancelled",
            HubEvent::RequestCreated { .. } => "request_created",
            HubEvent::RequestAdvanced { .. } => "request_advanced",
            HubEvent::QuoteIssued { .. } => "quote_issued",
            HubEvent::QuoteAcknowledged { .. } => "quote_acknowledged",
            HubEvent::PaymentRecorded { .. } => "payment_recorded",
            HubEvent::RefundRecorded { .. } => "refund_recorded",
            HubEvent::RefundPaid { .. } => "refund_paid",
            HubEvent::StaffLoggedIn { .. } => "staff_logged_in",
            HubEvent::StaffLoggedOut { .. } => "staff_logged_out",
            HubEvent::DeviceAlert { .. } => "device_alert",
            HubEvent::RatingGiven { .. } => "rating_given",
            HubEvent::AgreementWritten { .. } => "agreement_written",
            HubEvent::FollowUpRecorded { .. } => "follow_up_recorded",
            HubEvent::AppointmentBooked { .. } => "appointment_booked",
            HubEvent::AppointmentCheckedIn { .. } => "appointment_checked_in",
            HubEvent::AppointmentChanged { .. } => "appointment_changed",
            HubEvent::SmsSettled { .. } => "sms_settled",
            HubEvent::CustomerErased { .. } => "customer_erased",
            HubEvent::Withheld => "withheld",
        }
    }

    /// GB/T 5.4: the event as a screen in the waiting area (display board, customer kiosk)
    /// may see it: ticket numbers, services, counters and states, but no status-page
    /// token, staff id or customer pseudonym, and no priority class (it tells that the
    /// holder is elderly, disabled or pregnant: shown as normal). Events about requests,
    /// money, ratings, appointments and customers become [`HubEvent::Withheld`].
    pub fn public_view(&self) -> HubEvent {
        use HubEvent as E;
        match self {
            E::TicketIssued {
                ticket_id,
                number,
                service,
                class,
                channel,
                token: _,
            } => E::TicketIssued {
                ticket_id: *ticket_id,
                number: number.clone(),
                service: *service,
                class: match class {
                    PriorityClass::Priority => PriorityClass::Normal,
                    other => *other,
                },
                channel: *channel,
                token: String::new(),
            },
            E::TicketCalled {
                ticket_id,
                number,
                service,
                counter,
                recall,
                staff_id: _,
            } => E::TicketCalled {
                ticket_id: *ticket_id,
                number: number.clone(),
                service: *service,
                counter: *counter,
                recall: *recall,
                staff_id: None,
            },
            E::TicketFinished {
                ticket_id,
                number,
                counter,
                service_secs,
                staff_id: _,
            } => E::TicketFinished {
                ticket_id: *ticket_id,
                number: number.clone(),
                counter: *counter,
                service_secs: *service_secs,
                staff_id: None,
            },
            // A board shows which counters are open, not who works there.
            E::StaffLoggedIn {
                staff_id: _,
                counter,
            } => E::StaffLoggedIn {
                staff_id: String::new(),
                counter: *counter,
            },
            E::StaffLoggedOut {
                staff_id: _,
                counter,
            } => E::StaffLoggedOut {
                staff_id: String::new(),
                counter: *counter,
            },
            E::DayOpened { .. }
            | E::DayClosed { .. }
            | E::TicketPrinted { .. }
            | E::TicketStarted { .. }
            | E::TicketNoShow { .. }
            | E::TicketOnHold { .. }
            | E::TicketTransferred { .. }
            | E::TicketCancelled { .. }
            | E::DeviceAlert { .. }
            | E::AppointmentCheckedIn { .. }
            | E::Withheld => self.clone(),
            E::RequestCreated { .. }
            | E::RequestAdvanced { .. }
            | E::QuoteIssued { .. }
            | E::QuoteAcknowledged { .. }
            | E::PaymentRecorded { .. }
            | E::RefundRecorded { .. }
            | E::RefundPaid { .. }
            | E::RatingGiven { .. }
            | E::AgreementWritten { .. }
            | E::FollowUpRecorded { .. }
            | E::AppointmentBooked { .. }
            | E::AppointmentChanged { .. }
            | E::SmsSettled { .. }
            | E::CustomerErased { .. } => E::Withheld,
        }
    }
}

impl EventEnvelope {
    /// The envelope with its event as [`HubEvent::public_view`] shows it.
    pub fn public_view(&self) -> EventEnvelope {
        EventEnvelope {
            event: self.event.public_view(),
            ..self.clone()
        }
    }
}

/// GB/T 8.4.2: the ways a customer can pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    BankCard,
    Cheque,
    /// QR code / online payment.
    Online,
}

impl PaymentMethod {
    pub fn code(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::BankCard => "bank_card",
            PaymentMethod::Cheque => "cheque",
            PaymentMethod::Online => "online",
        }
    }

    pub fn from_code(s: &str) -> Option<PaymentMethod> {
        [
            PaymentMethod::Cash,
            PaymentMethod::BankCard,
            PaymentMethod::Cheque,
            PaymentMethod::Online,
        ]
        .into_iter()
        .find(|m| m.code() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_the_serde_tag() {
        let e = HubEvent::TicketCalled {
            ticket_id: 1,
            number: "A001".into(),
            service: ServiceType::Consultation,
            counter: 3,
            recall: false,
            staff_id: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], e.kind());
        let back: HubEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn the_public_view_carries_no_token_staff_or_customer() {
        // GB/T 5.4
        let issued = HubEvent::TicketIssued {
            ticket_id: 7,
            number: "A007".into(),
            service: ServiceType::Repair,
            class: PriorityClass::Priority,
            channel: Channel::OnSite,
            token: "s3cret-status-token".into(),
        };
        let called = HubEvent::TicketCalled {
            ticket_id: 7,
            number: "A007".into(),
            service: ServiceType::Repair,
            counter: 2,
            recall: false,
            staff_id: Some("alice".into()),
        };
        let login = HubEvent::StaffLoggedIn {
            staff_id: "alice".into(),
            counter: Some(2),
        };
        let created = HubEvent::RequestCreated {
            request_id: 1,
            service: ServiceType::Repair,
            channel: Channel::OnSite,
            stage: RequestStage::Acceptance,
            ticket_id: Some(7),
            customer: Some("pseudo-123".into()),
            deadlines: None,
        };
        for e in [&issued, &called, &login, &created] {
            let text = serde_json::to_string(&e.public_view()).unwrap();
            for secret in ["s3cret", "alice", "pseudo-123"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
        assert_eq!(created.public_view(), HubEvent::Withheld);
        assert!(matches!(
            issued.public_view(),
            HubEvent::TicketIssued { class: PriorityClass::Normal, ref token, .. } if token.is_empty()
        ));
        match called.public_view() {
            HubEvent::TicketCalled {
                number, counter, ..
            } => assert_eq!((number.as_str(), counter), ("A007", 2)),
            other => panic!("{other:?}"),
        }
        let v = serde_json::to_value(HubEvent::Withheld).unwrap();
        assert_eq!(v["type"], "withheld");
        assert_eq!(
            serde_json::from_value::<HubEvent>(v).unwrap(),
            HubEvent::Withheld
        );
    }

    #[test]
    fn unknown_event_type_is_an_error_not_a_panic() {
        assert!(serde_json::from_str::<HubEvent>(r#"{"type":"ticket_eaten"}"#).is_err());
    }
}
