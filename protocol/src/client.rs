//! A typed HTTP client for the hub, used by the apps, the tests and the benchmarks, and
//! the event stream's socket. Errors keep the hub's problem body so callers can show its
//! sentence to a person. An enrolled device talks to the hub over mutual TLS only.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream, tungstenite};

use crate::API_PREFIX;
use crate::api::*;
use crate::identity::{DeviceIdentity, IdentityError};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub answered with a problem body.
    #[error("hub refused ({}): {}", .0.status, .0.detail)]
    Refused(Problem),
    #[error("hub unreachable: {0}")]
    Unreachable(#[from] reqwest::Error),
    #[error("hub answered {status} with an unreadable body: {body}")]
    BadAnswer { status: u16, body: String },
    /// An `https://` hub and no device identity to present to it.
    #[error(
        "the hub at {url} needs an enrolled device and this one is not: run `servicehall enrol`"
    )]
    NotEnrolled { url: String },
    /// An enrolled device pointed at a plain `http://` hub: it would send in clear.
    #[error("this device is enrolled, so the hub's address must start with https://, not `{url}`")]
    NotSecure { url: String },
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl ClientError {
    /// The problem's machine code, if the hub answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused(p) => Some(&p.code),
            _ => None,
        }
    }
}

/// An HTTPS-only client with `tls` and the hub client's timeouts, for callers to finish.
pub(crate) fn https_builder(tls: &rustls::ClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls.clone())
        .https_only(true)
        .connect_timeout(HubClient::CONNECT_TIMEOUT)
        .timeout(HubClient::TIMEOUT)
}

/// Whether `url` is an `https://` address (any case).
pub(crate) fn is_https(url: &str) -> bool {
    url.split_once("://")
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("https"))
}

/// A client bound to one hub base URL (e.g. `http://127.0.0.1:8470`), optionally
/// carrying a staff session token.
#[derive(Debug, Clone)]
pub struct HubClient {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
    /// The device's mutual TLS, for the event stream's socket (`http` has its own copy).
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl HubClient {
    /// A client whose every call gives up after [`HubClient::TIMEOUT`] (a hub that takes
    /// the connection and never answers must not hang a station).
    pub fn new(base: impl Into<String>) -> HubClient {
        let http = reqwest::Client::builder()
            .connect_timeout(HubClient::CONNECT_TIMEOUT)
            .timeout(HubClient::TIMEOUT)
            .tcp_keepalive(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        HubClient {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
            token: None,
            tls: None,
        }
    }

    /// The client a device uses (GB/T 5.4): for an `https://` hub, mutual TLS with the
    /// device's `identity` (only the hub's CA trusted, the device's certificate presented);
    /// for a plain `http://` hub (a single-machine demo, the tests), no identity. A
    /// mismatch is refused rather than silently sending in clear or failing later.
    pub fn for_device(
        base: impl Into<String>,
        identity: Option<&DeviceIdentity>,
    ) -> Result<HubClient, ClientError> {
        let base = base.into().trim_end_matches('/').to_owned();
        let secure = is_https(&base);
        match (secure, identity) {
            (false, None) => Ok(HubClient::new(base)),
            (true, None) => Err(ClientError::NotEnrolled { url: base }),
            (false, Some(_)) => Err(ClientError::NotSecure { url: base }),
            (true, Some(identity)) => {
                let tls = identity.client_config()?;
                let http = https_builder(&tls)
                    .tcp_keepalive(std::time::Duration::from_secs(30))
                    .build()?;
                Ok(HubClient {
                    base,
                    http,
                    token: None,
                    tls: Some(tls),
                })
            }
        }
    }

    /// A client of an `https://` hub that trusts only the CA in `ca_pem` and presents no
    /// certificate: the hub answers it only its health, its CA and enrolment (a watchdog
    /// on the hub's own box, a technician's check).
    pub fn unenrolled(base: impl Into<String>, ca_pem: &str) -> Result<HubClient, ClientError> {
        let tls = DeviceIdentity::anonymous_config(ca_pem)?;
        let http = https_builder(&tls).build()?;
        Ok(HubClient {
            base: base.into().trim_end_matches('/').to_owned(),
            http,
            token: None,
            tls: Some(tls),
        })
    }

    /// Opens the WebSocket at `path_and_query` under the API prefix (e.g.
    /// `/events?since=42`): `ws://` for a plain hub, `wss://` with the device's mutual
    /// TLS for a secure one. A refused upgrade comes back as `tungstenite::Error::Http`
    /// with the hub's status (409 when the hub is behind the caller).
    pub async fn events_socket(
        &self,
        path_and_query: &str,
    ) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, tungstenite::Error> {
        let url = self.url(path_and_query);
        let url = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => format!("wss://{rest}"),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => format!("ws://{rest}"),
            _ => url,
        };
        let connector = self.tls.clone().map(Connector::Rustls);
        let (ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, connector).await?;
        Ok(ws)
    }

    /// How long connecting to the hub may take.
    pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
    /// How long one whole call may take.
    pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The same hub, acting as the staff member of `session`.
    pub fn with_token(&self, token: impl Into<String>) -> HubClient {
        HubClient {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.base, API_PREFIX, path)
    }

    async fn send<R: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<R, ClientError> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|_| ClientError::BadAnswer {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            })
        } else {
            match serde_json::from_slice::<Problem>(&bytes) {
                Ok(p) => Err(ClientError::Refused(p)),
                Err(_) => Err(ClientError::BadAnswer {
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                }),
            }
        }
    }

    pub async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, ClientError> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<R, ClientError> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/health").await
    }

    pub async fn catalogue(&self) -> Result<Catalogue, ClientError> {
        self.get("/catalogue").await
    }

    pub async fn queue(&self) -> Result<QueueSnapshot, ClientError> {
        self.get("/queue").await
    }

    pub async fn issue_ticket(&self, req: &IssueTicket) -> Result<IssuedTicket, ClientError> {
        self.post("/tickets", req).await
    }

    pub async fn ticket(&self, id: i64) -> Result<TicketView, ClientError> {
        self.get(&format!("/tickets/{id}")).await
    }

    pub async fn login(&self, req: &Login) -> Result<SessionView, ClientError> {
        self.post("/sessions", req).await
    }

    pub async fn logout(&self) -> Result<serde_json::Value, ClientError> {
        self.send(self.http.delete(self.url("/sessions/current")))
            .await
    }

    pub async fn open_day(&self, req: &OpenDay) -> Result<BusinessDayView, ClientError> {
        self.post("/day/open", req).await
    }

    pub async fn close_day(&self) -> Result<BusinessDayView, ClientError> {
        self.post("/day/close", &serde_json::json!({})).await
    }

    /// Calls the next ticket for the logged-in staff member's counter; `None` when
    /// nobody they may serve is waiting.
    pub async fn call_next(&self) -> Result<Option<TicketView>, ClientError> {
        self.post("/call-next", &CallTicket::default()).await
    }

    /// One of `call`, `recall`, `start`, `finish`, `no-show`, `hold`, `resume`, `cancel`,
    /// `printed`, `void` on ticket `id`.
    pub async fn ticket_action(&self, id: i64, action: &str) -> Result<TicketView, ClientError> {
        self.post(&format!("/tickets/{id}/{action}"), &serde_json::json!({}))
            .await
    }

    pub async fn transfer(&self, id: i64, req: &TransferTicket) -> Result<TicketView, ClientError> {
        self.post(&format!("/tickets/{id}/transfer"), req).await
    }

    pub async fn create_request(&self, req: &CreateRequest) -> Result<RequestView, ClientError> {
        self.post("/requests", req).await
    }

    pub async fn request(&self, id: i64) -> Result<RequestView, ClientError> {
        self.get(&format!("/requests/{id}")).await
    }

    pub async fn advance_request(
        &self,
        id: i64,
        to: domain::RequestStage,
    ) -> Result<RequestView, ClientError> {
        self.post(&format!("/requests/{id}/advance"), &AdvanceRequest { to })
            .await
    }

    pub async fn make_quote(&self, id: i64, req: &MakeQuote) -> Result<QuoteView, ClientError> {
        self.post(&format!("/requests/{id}/quote"), req).await
    }

    pub async fn acknowledge_quote(
        &self,
        id: i64,
        req: &AcknowledgeQuote,
    ) -> Result<QuoteView, ClientError> {
        self.post(&format!("/requests/{id}/quote/acknowledge"), req)
            .await
    }

    pub async fn record_payment(
        &self,
        id: i64,
        req: &RecordPayment,
    ) -> Result<PaymentView, ClientError> {
        self.post(&format!("/requests/{id}/payments"), req).await
    }

    pub async fn record_refund(
        &self,
        id: i64,
        req: &RecordRefund,
    ) -> Result<RefundView, ClientError> {
        self.post(&format!("/requests/{id}/refunds"), req).await
    }

    pub async fn refunds(&self) -> Result<Vec<RefundView>, ClientError> {
        self.get("/refunds").await
    }

    pub async fn verify_audit(&self) -> Result<AuditVerification, ClientError> {
        self.get("/audit/verify").await
    }

    /// The knowledge base; with `query`, only entries matching every word.
    pub async fn knowledge(&self, query: Option<&str>) -> Result<KnowledgeBase, ClientError> {
        let mut req = self.http.get(self.url("/knowledge"));
        if let Some(q) = query {
            req = req.query(&[("q", q)]);
        }
        self.send(req).await
    }

    /// A kiosk intake: the request and its ticket, created together.
    pub async fn intake(&self, req: &KioskIntake) -> Result<IntakeReceipt, ClientError> {
        self.post("/intake", req).await
    }

    pub async fn alert(&self, req: &DeviceAlert) -> Result<serde_json::Value, ClientError> {
        self.post("/alerts", req).await
    }

    pub async fn alerts(&self) -> Result<Vec<AlertView>, ClientError> {
        self.get("/alerts").await
    }

    pub async fn create_appointment(
        &self,
        req: &CreateAppointment,
    ) -> Result<AppointmentView, ClientError> {
        self.post("/appointments", req).await
    }

    pub async fn appointment(&self, code: &str) -> Result<AppointmentView, ClientError> {
        self.get(&format!("/appointments/{code}")).await
    }

    pub async fn check_in(&self, req: &CheckIn) -> Result<CheckedIn, ClientError> {
        self.post("/appointments/check-in", req).await
    }

    pub async fn rate(&self, ticket_id: i64, req: &Rate) -> Result<RatingView, ClientError> {
        self.post(&format!("/tickets/{ticket_id}/rating"), req)
            .await
    }

    pub async fn waiting(&self) -> Result<WaitingList, ClientError> {
        self.get("/queue/waiting").await
    }

    pub async fn counter_today(&self, counter: u32) -> Result<CounterToday, ClientError> {
        self.get(&format!("/counters/{counter}/today")).await
    }

    /// The requests made for ticket `ticket_id` (normally one).
    pub async fn requests_for_ticket(
        &self,
        ticket_id: i64,
    ) -> Result<Vec<RequestView>, ClientError> {
        self.get(&format!("/tickets/{ticket_id}/requests")).await
    }

    /// The customer's contact in clear: an audited action of the logged-in staff member.
    pub async fn reveal_contact(&self, request_id: i64) -> Result<ContactView, ClientError> {
        self.post(
            &format!("/requests/{request_id}/contact/reveal"),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn write_agreement(
        &self,
        request_id: i64,
        req: &DraftAgreement,
    ) -> Result<AgreementView, ClientError> {
        self.post(&format!("/requests/{request_id}/agreements"), req)
            .await
    }

    /// Every version of the request's service agreement, oldest first.
    pub async fn agreements(&self, request_id: i64) -> Result<Vec<AgreementView>, ClientError> {
        self.get(&format!("/requests/{request_id}/agreements"))
            .await
    }

    pub async fn follow_ups(&self) -> Result<Vec<FollowUpDue>, ClientError> {
        self.get("/follow-ups").await
    }

    pub async fn record_follow_up(
        &self,
        request_id: i64,
        req: &RecordFollowUp,
    ) -> Result<FollowUpView, ClientError> {
        self.post(&format!("/requests/{request_id}/follow-up"), req)
            .await
    }

    pub async fn slots(
        &self,
        service: domain::ServiceType,
        date: chrono::NaiveDate,
    ) -> Result<Vec<SlotView>, ClientError> {
        let req = self.http.get(self.url("/appointments/slots")).query(&[
            ("service", service.code().to_owned()),
            ("date", date.to_string()),
        ]);
        self.send(req).await
    }

    pub async fn reschedule(
        &self,
        code: &str,
        req: &Reschedule,
    ) -> Result<AppointmentView, ClientError> {
        self.post(&format!("/appointments/{code}/reschedule"), req)
            .await
    }

    pub async fn cancel_appointment(
        &self,
        code: &str,
        reason: Option<String>,
    ) -> Result<AppointmentView, ClientError> {
        self.post(&format!("/appointments/{code}/cancel"), &Reason { reason })
            .await
    }

    /// The SMS agent's next message, if one may go now.
    pub async fn lease_sms(&self, device: &str) -> Result<Option<SmsToSend>, ClientError> {
        self.post(
            "/sms/lease",
            &LeaseSms {
                device: device.to_owned(),
            },
        )
        .await
    }

    pub async fn sms_result(&self, id: i64, req: &SmsResult) -> Result<SmsView, ClientError> {
        self.post(&format!("/sms/{id}/result"), req).await
    }

    pub async fn sms_messages(&self) -> Result<Vec<SmsView>, ClientError> {
        self.get("/sms").await
    }

    /// The customer of request `id` wants no more text messages (their number stays hidden).
    pub async fn request_sms_opt_out(&self, id: i64) -> Result<serde_json::Value, ClientError> {
        self.post(
            &format!("/requests/{id}/sms-opt-out"),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn sms_opt_out(&self, phone: &str) -> Result<serde_json::Value, ClientError> {
        self.post(
            "/sms/opt-out",
            &SmsOptOut {
                phone: phone.to_owned(),
            },
        )
        .await
    }

    pub async fn refund_paid(&self, refund_id: i64) -> Result<RefundView, ClientError> {
        self.post(
            &format!("/refunds/{refund_id}/paid"),
            &serde_json::json!({}),
        )
        .await
    }

    /// GB/T 5.4: erases the personal data of the customer with this pseudonym
    /// (idempotent; a supervisor's or an administrator's session).
    pub async fn erase_customer(
        &self,
        pseudonym: &str,
        reason: ErasureReason,
    ) -> Result<ErasureView, ClientError> {
        self.post(
            &format!("/customers/{pseudonym}/erase"),
            &EraseCustomer { reason },
        )
        .await
    }

    /// A one-time pairing code for a new device (an administrator's session, GB/T 5.4).
    pub async fn create_pairing(
        &self,
        req: &crate::devices::NewPairing,
    ) -> Result<crate::devices::Pairing, ClientError> {
        self.post("/devices/pairings", req).await
    }

    /// The enrolled devices (a supervisor's or administrator's session).
    pub async fn devices(&self) -> Result<Vec<crate::devices::DeviceView>, ClientError> {
        self.get("/devices").await
    }

    /// Revokes a device: the hub refuses its next call (an administrator's session).
    pub async fn revoke_device(
        &self,
        device_id: &str,
    ) -> Result<crate::devices::DeviceView, ClientError> {
        self.post(
            &format!("/devices/{device_id}/revoke"),
            &serde_json::json!({}),
        )
        .await
    }

    /// The public status of a ticket from its status page key (no login, GB/T 4.1.3).
    pub async fn ticket_status(
        &self,
        centre_id: &str,
        token: &str,
    ) -> Result<crate::sync::TicketStatus, ClientError> {
        let url = format!("{}.json", status_page_url(&self.base, centre_id, token));
        self.send(self.http.get(url)).await
    }
}
