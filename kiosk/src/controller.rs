//! Carries out the model's [`Effect`]s against the hub and the printer, and reports each
//! result as an [`Outcome`]: issue and print tickets (GB/T 4.1.1), submit intakes with
//! their fee acknowledgement (GB/T 6.1.2, 4.2.3), check appointments in (GB/T 8.1), send
//! ratings (GB/T 9.1.2), and tell the hub when the printer fails or recovers.
//!
//! A printer failure never loses a ticket: the ticket stays valid at the hub (unprinted,
//! where staff see it), the screen shows its QR, and the hub gets a device alert. Every
//! hub call has a timeout, so a hub that went silent is reported, not waited on for ever.
//! It holds no screen state and never touches Slint.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hardware::printer::PrintError;
use hardware::printer::document::Document;
use protocol::{
    AlertKind, Catalogue, ClientError, DeviceAlert, HubClient, IntakeReceipt, IssueTicket,
    IssuedTicket, TicketView,
};
use ui::Lang;

use crate::model::{Action, Effect, HubState, Outcome, PrintState};
use crate::printer::{self, TicketPrinter};

/// Where outcomes go (the UI thread's queue, or a test's).
pub type Sink = Arc<dyn Fn(Outcome) + Send + Sync>;

/// Why a hub call gave no answer to use.
#[derive(Debug)]
enum Failed {
    Refused(protocol::Problem),
    Unreachable(String),
}

impl From<ClientError> for Failed {
    fn from(e: ClientError) -> Failed {
        match e {
            ClientError::Refused(p) => Failed::Refused(p),
            other => Failed::Unreachable(other.to_string()),
        }
    }
}

/// The kiosk's hands: a hub client, the printer, the device's name.
#[derive(Debug)]
pub struct Controller {
    hub: HubClient,
    device: String,
    printer: Option<Arc<dyn TicketPrinter>>,
    /// The catalogue last fetched, for printing (centre name, service names, time zone).
    catalogue: Mutex<Option<Catalogue>>,
    /// The printer alert raised and not yet cleared.
    alert: Mutex<Option<AlertKind>>,
    timeout: Duration,
}

impl Controller {
    /// `device` names this kiosk at the hub (tickets, alerts); `printer` is `None` for
    /// a kiosk without one.
    pub fn new(
        hub: HubClient,
        device: impl Into<String>,
        printer: Option<Arc<dyn TicketPrinter>>,
    ) -> Controller {
        Controller {
            hub,
            device: device.into(),
            printer,
            catalogue: Mutex::new(None),
            alert: Mutex::new(None),
            timeout: Duration::from_secs(10),
        }
    }

    /// How long one hub call may take (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Controller {
        self.timeout = timeout;
        self
    }

    pub fn hub(&self) -> &HubClient {
        &self.hub
    }

    pub fn device(&self) -> &str {
        &self.device
    }

    /// The link in a ticket's QR code: its public status page (GB/T 4.1.3).
    pub fn status_url(&self, cat: &Catalogue, ticket: &TicketView) -> String {
        status_url(self.hub.base(), cat, ticket)
    }

    async fn call<T>(
        &self,
        fut: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, Failed> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(Failed::Unreachable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    fn report(&self, action: Action, e: Failed, out: &Sink) {
        match e {
            Failed::Refused(problem) => {
                tracing::info!("kiosk: hub refused {action:?}: {}", problem.detail);
                out(Outcome::Refused { action, problem });
            }
            Failed::Unreachable(why) => {
                tracing::warn!("kiosk: hub unreachable for {action:?}: {why}");
                out(Outcome::Unreachable { action });
            }
        }
    }

    /// Carries out one effect, reporting as it goes (a ticket is reported as soon as the
    /// hub issued it; its printout after).
    pub async fn run(&self, effect: Effect, out: &Sink) {
        match effect {
            Effect::IssueTicket {
                service,
                class,
                origin,
                lang,
            } => {
                let req = IssueTicket {
                    service,
                    class,
                    channel: domain::Channel::OnSite,
                    device: Some(self.device.clone()),
                };
                match self.call(self.hub.issue_ticket(&req)).await {
                    Ok(issued) => {
                        out(Outcome::TicketIssued {
                            issued: issued.clone(),
                            origin,
                        });
                        self.print_ticket(&issued, lang, out).await;
                    }
                    Err(e) => self.report(Action::Ticket, e, out),
                }
            }
            Effect::SubmitIntake { mut intake, lang } => {
                intake.device = Some(self.device.clone());
                let phone = intake.contact.as_ref().map(|c| c.phone.clone());
                match self.call(self.hub.intake(&intake)).await {
                    Ok(receipt) => {
                        out(Outcome::IntakeAccepted(receipt.clone()));
                        self.print_intake(&receipt, phone.as_deref(), lang, out)
                            .await;
                    }
                    Err(e) => self.report(Action::Intake, e, out),
                }
            }
            Effect::CheckIn { mut check_in, lang } => {
                check_in.device = Some(self.device.clone());
                match self.call(self.hub.check_in(&check_in)).await {
                    Ok(c) => {
                        let issued = c.ticket.clone();
                        out(Outcome::CheckedIn(c));
                        self.print_ticket(&issued, lang, out).await;
                    }
                    Err(e) => self.report(Action::CheckIn, e, out),
                }
            }
            Effect::Rate { ticket_id, rate } => {
                match self.call(self.hub.rate(ticket_id, &rate)).await {
                    Ok(v) => out(Outcome::Rated(v)),
                    Err(e) => self.report(Action::Rate, e, out),
                }
            }
            Effect::Refresh => {
                if let Err(e) = self.refresh(out).await {
                    self.report(Action::Refresh, e, out);
                }
            }
        }
    }

    /// Fetches the catalogue, knowledge base and queue and reports each.
    async fn refresh(&self, out: &Sink) -> Result<i64, Failed> {
        let cat = self.call(self.hub.catalogue()).await?;
        *self
            .catalogue
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cat.clone());
        out(Outcome::Catalogue(cat));
        let kb = self.call(self.hub.knowledge(None)).await?;
        out(Outcome::Knowledge(kb));
        let q = self.call(self.hub.queue()).await?;
        let seq = q.last_seq;
        out(Outcome::Queue(q));
        out(Outcome::Connection(HubState::Live));
        Ok(seq)
    }

    /// The catalogue, reports and all (for the hub follower); returns the queue's
    /// sequence number. An error is a sentence for the log.
    pub async fn refresh_all(&self, out: &Sink) -> Result<i64, String> {
        self.refresh(out).await.map_err(|e| format!("{e:?}"))
    }

    /// The queue alone (waits change often; the catalogue seldom).
    pub async fn refresh_queue(&self, out: &Sink) -> Result<(), String> {
        match self.call(self.hub.queue()).await {
            Ok(q) => {
                out(Outcome::Queue(q));
                out(Outcome::Connection(HubState::Live));
                Ok(())
            }
            Err(e) => Err(format!("{e:?}")),
        }
    }

    async fn catalogue(&self) -> Result<Catalogue, Failed> {
        let cached = self
            .catalogue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match cached {
            Some(c) => Ok(c),
            None => {
                let c = self.call(self.hub.catalogue()).await?;
                *self
                    .catalogue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(c.clone());
                Ok(c)
            }
        }
    }

    async fn print_ticket(&self, issued: &IssuedTicket, lang: Lang, out: &Sink) {
        let id = issued.ticket.id;
        let state = match &self.printer {
            None => PrintState::NoPrinter,
            Some(p) => match self.catalogue().await {
                Err(_) => failed("the centre's details could not be fetched for the printout"),
                Ok(cat) => {
                    let url = self.status_url(&cat, &issued.ticket);
                    match printer::queue_ticket(&cat, issued, &url, lang, p.paper()) {
                        Ok(doc) => self.print_docs(p.clone(), vec![doc], id).await,
                        Err(e) => failed(&e.to_string()),
                    }
                }
            },
        };
        self.printed(id, state, out).await;
    }

    async fn print_intake(
        &self,
        receipt: &IntakeReceipt,
        phone: Option<&str>,
        lang: Lang,
        out: &Sink,
    ) {
        let id = receipt.ticket.ticket.id;
        let state = match &self.printer {
            None => PrintState::NoPrinter,
            Some(p) => match self.catalogue().await {
                Err(_) => failed("the centre's details could not be fetched for the printout"),
                Ok(cat) => {
                    let url = self.status_url(&cat, &receipt.ticket.ticket);
                    let docs = printer::queue_ticket(&cat, &receipt.ticket, &url, lang, p.paper())
                        .and_then(|t| {
                            printer::intake_slip(&cat, receipt, phone, &url, lang, p.paper())
                                .map(|s| vec![t, s])
                        });
                    match docs {
                        Ok(docs) => self.print_docs(p.clone(), docs, id).await,
                        Err(e) => failed(&e.to_string()),
                    }
                }
            },
        };
        self.printed(id, state, out).await;
    }

    /// Confirms a printed ticket at the hub, then reports the printout.
    async fn printed(&self, ticket_id: i64, state: PrintState, out: &Sink) {
        if state == PrintState::Printed
            && let Err(e) = self
                .call(self.hub.ticket_action(ticket_id, "printed"))
                .await
        {
            // The ticket is in the customer's hand either way; staff see it as unprinted.
            tracing::warn!("kiosk: ticket {ticket_id} printed but not confirmed: {e:?}");
        }
        out(Outcome::Printed { ticket_id, state });
    }

    async fn print_docs(
        &self,
        p: Arc<dyn TicketPrinter>,
        docs: Vec<Document>,
        ticket_id: i64,
    ) -> PrintState {
        let result = tokio::task::spawn_blocking(move || p.print(&docs)).await;
        let result = match result {
            Ok(r) => r,
            Err(e) => Err(PrintError::Fault(format!("the print job stopped: {e}"))),
        };
        match result {
            Ok(()) => {
                self.clear_alert().await;
                PrintState::Printed
            }
            Err(e) => {
                let paper_out = matches!(e, PrintError::PaperOut);
                tracing::warn!("kiosk: ticket {ticket_id} not printed: {e}");
                let kind = if paper_out {
                    AlertKind::PrinterPaperOut
                } else {
                    AlertKind::PrinterFault
                };
                self.raise_alert(kind, &e.to_string(), ticket_id).await;
                PrintState::Failed {
                    paper_out,
                    reason: e.to_string(),
                }
            }
        }
    }

    /// Tells staff the printer failed (each failed ticket is reported with its id).
    async fn raise_alert(&self, kind: AlertKind, detail: &str, ticket_id: i64) {
        let previous = self
            .alert
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(kind);
        if let Some(old) = previous.filter(|o| *o != kind) {
            self.post_alert(old, false, None, None).await;
        }
        self.post_alert(kind, true, Some(detail.to_owned()), Some(ticket_id))
            .await;
    }

    /// The printer works again: the alert is cleared.
    async fn clear_alert(&self) {
        let active = self
            .alert
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(kind) = active {
            self.post_alert(kind, false, None, None).await;
        }
    }

    async fn post_alert(
        &self,
        kind: AlertKind,
        active: bool,
        detail: Option<String>,
        ticket_id: Option<i64>,
    ) {
        let alert = DeviceAlert {
            device: self.device.clone(),
            kind,
            active,
            detail,
            ticket_id,
        };
        if let Err(e) = self.call(self.hub.alert(&alert)).await {
            tracing::warn!("kiosk: could not tell the hub about the printer: {e:?}");
        }
    }
}

/// The link in a ticket's QR code: the ticket's public status page (GB/T 4.1.3), reached
/// by its unguessable token, at headquarters when the catalogue names a public address
/// (the page follows the customer outside the centre), else at the hub (`hub_base`, the
/// hub's address without the API prefix).
pub fn status_url(hub_base: &str, cat: &Catalogue, ticket: &TicketView) -> String {
    let base = cat
        .status_base_url
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or(hub_base);
    protocol::status_page_url(base, &cat.centre.id, &ticket.status_token)
}

fn failed(reason: &str) -> PrintState {
    PrintState::Failed {
        paper_out: false,
        reason: reason.to_owned(),
    }
}
