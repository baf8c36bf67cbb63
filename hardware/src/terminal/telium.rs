//! The cash-register side of Ingenico Telium "protocol E" (the Concert-style serial link):
//! the ENQ/ACK handshake, the request frame with NAK-and-repeat, the wait for the
//! terminal's answer, and reconciliation after a fault, all bounded by explicit timeouts.
//!
//! Must never: send a request before its idempotency key is journalled; send anything
//! while an earlier outcome is unknown and unreconciled; resend a request frame the
//! terminal may already have taken (only a NAK allows a resend); turn an unknown outcome
//! into approved or declined without the terminal's answer.
//!
//! # Exchange
//!
//! ```text
//! register                      terminal
//! ENQ  ───────────────────────▶
//!      ◀─────────────────────── ACK          (else ENQ again, up to max_retries)
//! STX request ETX LRC ────────▶
//!      ◀─────────────────────── ACK | NAK    (NAK: resend, up to max_retries)
//! EOT  ───────────────────────▶
//!                 … the customer pays …
//!      ◀─────────────────────── ENQ          (within `answer`)
//! ACK  ───────────────────────▶
//!      ◀─────────────────────── STX answer ETX LRC
//! ACK | NAK ──────────────────▶              (NAK on bad LRC/garbage/truncation)
//!      ◀─────────────────────── EOT
//! ```
//!
//! # Reconciliation
//!
//! Protocol E has no query for the last transaction that all terminals support, so
//! reconciliation is honest about what it can learn: when the terminal may have taken a
//! request but its answer never arrived (timeout, lost connection, an answer that stayed
//! unreadable), the register listens for a late answer for `Timeouts::reconcile` before
//! doing anything else. A late answer decides the outcome; otherwise the transaction is
//! [`Outcome::UnknownNeedsStaff`] and its key is blocked until staff
//! [`resolve`](PaymentTerminal::resolve) it. Transactions left in flight by a crash are
//! reconciled the same way at first use.

use super::frame::{ACK, ENQ, EOT, FrameDecoder, LineCode, NAK, Received, encode_frame};
use super::link::{LineFormat, Link, LinkError, SerialLink, receive};
use super::message::{
    AnswerDelay, AnswerDetail, Authorization, Currency, MAX_AMOUNT, Message, PaymentMode, Request,
    TransactionResult, TransactionType,
};
use super::{
    Approval, DeclineReason, IdempotencyKey, Journal, Outcome, PaymentTerminal, StaffReason,
    StaffResolution, TerminalError, TransactionKind, TransactionRecord, TransactionRequest,
    TransactionState, message::Answer,
};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long each step may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For an ACK/NAK after ENQ or after a frame, and for the closing EOT.
    pub ack: Duration,
    /// For a whole frame after its ENQ was acknowledged.
    pub frame: Duration,
    /// For the terminal's answer after the request was taken (the customer is paying).
    pub answer: Duration,
    /// How long reconciliation listens for a late answer.
    pub reconcile: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            ack: Duration::from_millis(500),
            frame: Duration::from_secs(1),
            answer: Duration::from_secs(60),
            reconcile: Duration::from_secs(5),
        }
    }
}

/// Protocol E settings for one terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeliumConfig {
    /// This cash register's number on the terminal, 1–99.
    pub pos_number: u8,
    pub currency: Currency,
    pub payment_mode: PaymentMode,
    /// Full answers report the card (only its last four digits are kept).
    pub answer_detail: AnswerDetail,
    pub line: LineFormat,
    pub baud_rate: u32,
    pub timeouts: Timeouts,
    /// Repeats allowed after a NAK or a missing ACK (the frame is sent at most
    /// `1 + max_retries` times).
    pub max_retries: u32,
}

impl Default for TeliumConfig {
    fn default() -> TeliumConfig {
        TeliumConfig {
            pos_number: 1,
            currency: Currency::CNY,
            payment_mode: PaymentMode::Card,
            answer_detail: AnswerDetail::Full,
            line: LineFormat::EightN1,
            baud_rate: 9600,
            timeouts: Timeouts::default(),
            max_retries: 3,
        }
    }
}

/// How a send or receive step failed.
#[derive(Debug)]
enum Failure {
    /// The terminal never took the request: nothing was charged.
    NotCharged(TerminalError),
    /// The request may be under way at the terminal.
    Unknown(StaffReason),
}

/// One attempt at reading a frame.
enum FrameAttempt {
    Answer(Answer),
    /// Something arrived that must be refused with NAK.
    Refused(String),
    Silent,
    /// The terminal sent ENQ again (it missed our ACK).
    Enq,
    /// The terminal closed the transmission.
    Eot,
}

/// An Ingenico Telium terminal driven over protocol E.
pub struct TeliumTerminal<L: Link> {
    link: L,
    code: LineCode,
    config: TeliumConfig,
    journal: Journal,
    /// Why an in-flight transaction's outcome is unknown, when it happened in this process.
    unknown_reason: HashMap<IdempotencyKey, StaffReason>,
    /// Outcomes known but not yet journalled (the journal write failed).
    known: HashMap<IdempotencyKey, Outcome>,
}

impl<L: Link> std::fmt::Debug for TeliumTerminal<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeliumTerminal")
            .field("config", &self.config)
            .field("journal", &self.journal.path())
            .finish_non_exhaustive()
    }
}

impl TeliumTerminal<SerialLink> {
    /// A terminal on the serial device at `device` (opened on first use), journalling to
    /// `journal_path`.
    pub fn open_serial(
        device: &str,
        config: TeliumConfig,
        journal_path: &Path,
    ) -> Result<TeliumTerminal<SerialLink>, TerminalError> {
        let link = SerialLink::new(device, config.baud_rate, config.line);
        TeliumTerminal::new(link, config, Journal::open(journal_path)?)
    }
}

impl<L: Link> TeliumTerminal<L> {
    pub fn new(
        link: L,
        config: TeliumConfig,
        journal: Journal,
    ) -> Result<TeliumTerminal<L>, TerminalError> {
        if !(1..=99).contains(&config.pos_number) {
            return Err(TerminalError::Config(format!(
                "the POS number must be 1 to 99, not {}",
                config.pos_number
            )));
        }
        if config.currency.0 > 999 {
            return Err(TerminalError::Config(format!(
                "currency code {} is not a three-digit ISO 4217 number",
                config.currency.0
            )));
        }
        if config.max_retries > 10 {
            return Err(TerminalError::Config("at most 10 retries".into()));
        }
        Ok(TeliumTerminal {
            link,
            code: config.line.line_code(),
            config,
            journal,
            unknown_reason: HashMap::new(),
            known: HashMap::new(),
        })
    }

    pub fn config(&self) -> &TeliumConfig {
        &self.config
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let wire = self.code.encode(bytes);
        self.link.write_all(&wire)
    }

    /// The next complete item before `deadline` (`None` on timeout).
    fn next(
        &mut self,
        decoder: &mut FrameDecoder,
        deadline: Instant,
    ) -> Result<Option<Received>, LinkError> {
        receive(&mut self.link, decoder, deadline)
    }

    /// Waits for a control character, skipping noise.
    fn wait_control(&mut self, deadline: Instant) -> Result<Option<Received>, LinkError> {
        let mut decoder = FrameDecoder::new(self.code);
        loop {
            match self.next(&mut decoder, deadline)? {
                None => return Ok(None),
                Some(r @ (Received::Ack | Received::Nak | Received::Enq | Received::Eot)) => {
                    return Ok(Some(r));
                }
                Some(other) => tracing::debug!(%other, "ignored while waiting for ACK"),
            }
        }
    }

    fn after(&self, d: Duration) -> Instant {
        Instant::now() + d
    }

    fn send_request(&mut self, request: &Request) -> Result<(), Failure> {
        let bad_request = |e: String| Failure::NotCharged(TerminalError::Config(e));
        let payload = Message::Request(request.clone())
            .encode()
            .map_err(|e| bad_request(e.to_string()))?;
        let frame = encode_frame(&payload).map_err(|e| bad_request(e.to_string()))?;
        let retries = self.config.max_retries;
        let ack = self.config.timeouts.ack;
        let not_charged = |e: LinkError| Failure::NotCharged(e.into());

        // An ACK carries no sequence number: a late ACK for an earlier ENQ (or anything
        // left on the line) would be taken as the answer to the next thing we send. So
        // the input is discarded before every ENQ and before every request frame.
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.link.discard_input().map_err(not_charged)?;
            self.send(&[ENQ]).map_err(not_charged)?;
            let deadline = self.after(ack);
            match self.wait_control(deadline).map_err(not_charged)? {
                Some(Received::Ack) => break,
                other => {
                    tracing::debug!(?other, attempts, "ENQ not acknowledged");
                    if attempts > retries {
                        return Err(Failure::NotCharged(match other {
                            Some(Received::Nak) => TerminalError::Busy,
                            _ => TerminalError::NoAnswer,
                        }));
                    }
                }
            }
        }

        // From here on the terminal may hold the request.
        let mut naks = 0;
        loop {
            // A second ACK (for a repeated ENQ) must not pass for the frame's ACK. Nothing
            // of the request has been sent yet (or the terminal refused it with NAK).
            self.link.discard_input().map_err(not_charged)?;
            self.send(&frame)
                .map_err(|_| Failure::Unknown(StaffReason::ConnectionLost))?;
            let deadline = self.after(ack);
            match self.wait_control(deadline) {
                Err(_) => return Err(Failure::Unknown(StaffReason::ConnectionLost)),
                Ok(Some(Received::Ack)) => break,
                Ok(Some(Received::Nak)) => {
                    naks += 1;
                    tracing::info!(naks, "the terminal asked for the request again");
                    if naks > retries {
                        let _ = self.send(&[EOT]);
                        return Err(Failure::NotCharged(TerminalError::RequestRejected {
                            attempts: naks,
                        }));
                    }
                }
                Ok(other) => {
                    tracing::warn!(?other, "the request frame was not acknowledged");
                    return Err(Failure::Unknown(StaffReason::NoAnswer));
                }
            }
        }
        self.send(&[EOT])
            .map_err(|_| Failure::Unknown(StaffReason::ConnectionLost))?;
        Ok(())
    }

    fn read_frame(
        &mut self,
        decoder: &mut FrameDecoder,
        deadline: Instant,
    ) -> Result<FrameAttempt, LinkError> {
        decoder.reset();
        let mut noise = 0usize;
        loop {
            match self.next(decoder, deadline)? {
                Some(Received::Frame(payload)) => {
                    return Ok(match Message::parse(&payload) {
                        Ok(Message::Answer(a)) => FrameAttempt::Answer(a),
                        Ok(Message::Request(_)) => {
                            FrameAttempt::Refused("a request where an answer belongs".into())
                        }
                        Err(e) => FrameAttempt::Refused(e.to_string()),
                    });
                }
                Some(Received::BadFrame(e)) => return Ok(FrameAttempt::Refused(e.to_string())),
                Some(Received::Enq) => return Ok(FrameAttempt::Enq),
                Some(Received::Eot) => return Ok(FrameAttempt::Eot),
                Some(Received::Noise(_) | Received::Ack | Received::Nak) => noise += 1,
                None if decoder.in_frame() => {
                    return Ok(FrameAttempt::Refused("truncated frame".into()));
                }
                None if noise > 0 => {
                    return Ok(FrameAttempt::Refused(format!("{noise} garbage byte(s)")));
                }
                None => return Ok(FrameAttempt::Silent),
            }
        }
    }

    /// Waits until `deadline` for the terminal to send an answer and takes it.
    fn receive_answer(&mut self, deadline: Instant) -> Result<Answer, StaffReason> {
        let lost = |_| StaffReason::ConnectionLost;
        let mut decoder = FrameDecoder::new(self.code);
        let mut deadline = deadline;
        let mut restarts = 0u32;
        loop {
            // Wait for the terminal's ENQ.
            loop {
                match self.next(&mut decoder, deadline).map_err(lost)? {
                    None => return Err(StaffReason::NoAnswer),
                    Some(Received::Enq) => break,
                    Some(other) => tracing::debug!(%other, "ignored while waiting for ENQ"),
                }
            }
            self.send(&[ACK]).map_err(lost)?;
            let mut refused = 0u32;
            let mut garbled = false;
            let restart = loop {
                let frame_deadline = self.after(self.config.timeouts.frame);
                let problem = match self
                    .read_frame(&mut decoder, frame_deadline)
                    .map_err(lost)?
                {
                    FrameAttempt::Answer(answer) => {
                        if self.send(&[ACK]).is_ok() {
                            let eot_deadline = self.after(self.config.timeouts.ack);
                            match self.wait_control(eot_deadline) {
                                Ok(Some(Received::Eot)) => {}
                                other => tracing::debug!(?other, "no EOT after the answer"),
                            }
                        }
                        return Ok(answer);
                    }
                    FrameAttempt::Enq => {
                        // It missed our ACK: acknowledge again (counts as an attempt).
                        self.send(&[ACK]).map_err(lost)?;
                        refused += 1;
                        if refused > self.config.max_retries {
                            break false;
                        }
                        continue;
                    }
                    FrameAttempt::Eot => break true,
                    FrameAttempt::Silent => "nothing".to_owned(),
                    FrameAttempt::Refused(why) => {
                        garbled = true;
                        why
                    }
                };
                refused += 1;
                tracing::warn!(%problem, refused, "refusing the terminal's answer frame");
                if refused > self.config.max_retries {
                    let _ = self.send(&[NAK]);
                    break false;
                }
                self.send(&[NAK]).map_err(lost)?;
            };
            if !restart {
                return Err(if garbled {
                    StaffReason::GarbledAnswer
                } else {
                    StaffReason::NoAnswer
                });
            }
            // The terminal gave up this transmission; it may start again (a bounded
            // number of times).
            restarts += 1;
            if restarts > self.config.max_retries {
                return Err(StaffReason::GarbledAnswer);
            }
            deadline = deadline.max(self.after(self.config.timeouts.frame));
        }
    }

    fn request_for(&self, req: &TransactionRequest) -> Request {
        Request {
            pos: self.config.pos_number,
            amount: req.amount,
            answer_detail: self.config.answer_detail,
            payment_mode: self.config.payment_mode,
            transaction: match req.kind {
                TransactionKind::Sale => TransactionType::Debit,
                TransactionKind::Refund => TransactionType::Credit,
                TransactionKind::Cancel => TransactionType::Cancel,
            },
            currency: self.config.currency,
            private: " ".repeat(10),
            delay: AnswerDelay::EndOfTransaction,
            authorization: Authorization::TerminalDecides,
        }
    }

    /// What an answer means for the transaction it should belong to.
    fn judge(&self, rec: &TransactionRecord, answer: &Answer) -> Outcome {
        if answer.pos != self.config.pos_number || answer.currency != self.config.currency {
            tracing::warn!(pos = answer.pos, currency = %answer.currency, "answer for another POS or currency");
            return Outcome::UnknownNeedsStaff(StaffReason::UnexpectedAnswer);
        }
        match answer.result {
            TransactionResult::Success if answer.amount == rec.amount => {
                let reference = answer.private.trim();
                Outcome::Approved(Approval {
                    amount: answer.amount,
                    card_tail: answer.card_tail(),
                    terminal_reference: (!reference.is_empty()).then(|| reference.to_owned()),
                    confirmed_by_staff: false,
                })
            }
            TransactionResult::Success => Outcome::UnknownNeedsStaff(StaffReason::AmountMismatch {
                charged: answer.amount,
            }),
            TransactionResult::Refused => Outcome::Declined(DeclineReason::Refused),
            TransactionResult::NotVerified => Outcome::Declined(DeclineReason::NotVerified),
            // Protocol E defines only 0, 7 and 9. Any other code may come from a terminal
            // that charged the card (a firmware's own code, a corrupted digit that still
            // passed the LRC): never tell the customer "nothing was charged" on a guess.
            TransactionResult::Other(c) => {
                tracing::warn!(code = %char::from(c), "unknown result code from the terminal");
                Outcome::UnknownNeedsStaff(StaffReason::UnknownResult(char::from(c)))
            }
        }
    }

    /// Journals an outcome. When the journal cannot be written the outcome is still
    /// returned (it is true) and kept in memory; the on-disk record stays in flight, so
    /// after a restart it is reconciled conservatively.
    fn record(&mut self, key: &IdempotencyKey, outcome: Outcome) -> Outcome {
        if let Err(e) = self.journal.finish(key, &outcome) {
            tracing::error!(%key, error = %e, "transaction outcome could not be journalled");
            self.known.insert(key.clone(), outcome.clone());
        }
        outcome
    }

    /// Settles every in-flight transaction before anything else is sent.
    fn reconcile(&mut self) -> Result<(), TerminalError> {
        let pending = self.journal.in_flight();
        let Some(latest) = pending.last().cloned() else {
            return Ok(());
        };
        let late = if self.known.contains_key(&latest.key) {
            None
        } else {
            tracing::info!(key = %latest.key, "reconciling: listening for a late answer");
            let deadline = self.after(self.config.timeouts.reconcile);
            match self.receive_answer(deadline) {
                Ok(answer) => Some(answer),
                Err(why) => {
                    tracing::info!(%why, "no late answer");
                    None
                }
            }
        };
        for rec in &pending {
            let outcome = if let Some(o) = self.known.get(&rec.key) {
                o.clone()
            } else if let (true, Some(answer)) = (rec.key == latest.key, &late) {
                self.judge(rec, answer)
            } else {
                Outcome::UnknownNeedsStaff(
                    self.unknown_reason
                        .get(&rec.key)
                        .copied()
                        .unwrap_or(StaffReason::InterruptedByRestart),
                )
            };
            tracing::info!(key = %rec.key, %outcome, "reconciled");
            self.journal.finish(&rec.key, &outcome)?;
            self.known.remove(&rec.key);
            self.unknown_reason.remove(&rec.key);
        }
        Ok(())
    }
}

impl<L: Link> PaymentTerminal for TeliumTerminal<L> {
    fn transact(&mut self, req: &TransactionRequest) -> Result<Outcome, TerminalError> {
        if !(1..=MAX_AMOUNT).contains(&req.amount.0) {
            return Err(TerminalError::InvalidAmount(req.amount));
        }
        self.reconcile()?;
        if let Some(rec) = self.journal.get(&req.key) {
            if rec.kind != req.kind || rec.amount != req.amount {
                return Err(TerminalError::KeyReused(req.key.clone()));
            }
            match &rec.state {
                TransactionState::NotCharged { .. }
                | TransactionState::ResolvedByStaff(StaffResolution::NotCharged) => {}
                TransactionState::InFlight => {
                    // Only if reconciling could not write it; never send again.
                    return Ok(Outcome::UnknownNeedsStaff(
                        StaffReason::InterruptedByRestart,
                    ));
                }
                _ => {
                    if let Some(o) = rec.outcome() {
                        tracing::info!(key = %req.key, %o, "repeated request: returning the journalled outcome");
                        return Ok(o);
                    }
                }
            }
        }
        let rec = self.journal.begin(&req.key, req.kind, req.amount)?;
        let request = self.request_for(req);
        tracing::info!(key = %req.key, kind = %req.kind, amount = %req.amount, "sending to the terminal");
        let result = self.send_request(&request).and_then(|()| {
            let deadline = self.after(self.config.timeouts.answer);
            self.receive_answer(deadline).map_err(Failure::Unknown)
        });
        match result {
            Ok(answer) => {
                let outcome = self.judge(&rec, &answer);
                tracing::info!(key = %req.key, %outcome, "terminal answered");
                Ok(self.record(&req.key, outcome))
            }
            Err(Failure::NotCharged(e)) => {
                tracing::warn!(key = %req.key, error = %e, "transaction not started");
                self.journal.set_state(
                    &req.key,
                    TransactionState::NotCharged {
                        reason: e.to_string(),
                    },
                )?;
                Err(e)
            }
            Err(Failure::Unknown(reason)) => {
                tracing::warn!(key = %req.key, %reason, "transaction outcome unknown");
                self.unknown_reason.insert(req.key.clone(), reason);
                if let Err(e) = self.reconcile() {
                    // Never an `Err` here: that would say nothing was charged. The record
                    // stays in flight on disk and is reconciled again at next use.
                    tracing::error!(key = %req.key, error = %e, "could not journal the reconciliation");
                    return Ok(Outcome::UnknownNeedsStaff(reason));
                }
                Ok(self
                    .journal
                    .get(&req.key)
                    .and_then(TransactionRecord::outcome)
                    .unwrap_or(Outcome::UnknownNeedsStaff(reason)))
            }
        }
    }

    fn last_transaction(&mut self) -> Result<Option<TransactionRecord>, TerminalError> {
        self.reconcile()?;
        Ok(self.journal.last().cloned())
    }

    fn transaction(
        &mut self,
        key: &IdempotencyKey,
    ) -> Result<Option<TransactionRecord>, TerminalError> {
        self.reconcile()?;
        Ok(self.journal.get(key).cloned())
    }

    fn resolve(
        &mut self,
        key: &IdempotencyKey,
        resolution: StaffResolution,
    ) -> Result<TransactionRecord, TerminalError> {
        self.reconcile()?;
        let rec = self
            .journal
            .get(key)
            .ok_or_else(|| TerminalError::UnknownKey(key.clone()))?;
        if !matches!(
            rec.state,
            TransactionState::Finished(Outcome::UnknownNeedsStaff(_))
        ) {
            return Err(TerminalError::NothingToResolve(key.clone()));
        }
        tracing::info!(%key, ?resolution, "resolved by staff");
        Ok(self
            .journal
            .set_state(key, TransactionState::ResolvedByStaff(resolution))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::frame::{ETX, STX};
    use crate::terminal::link::MemoryLink;
    use crate::terminal::message::PaymentMode;
    use domain::Fen;

    const SOON: Duration = Duration::from_secs(3);

    fn key(s: &str) -> IdempotencyKey {
        IdempotencyKey::new(s).unwrap()
    }

    fn terminal(
        dir: &tempfile::TempDir,
        link: MemoryLink,
        answer: Duration,
    ) -> TeliumTerminal<MemoryLink> {
        let config = TeliumConfig {
            timeouts: Timeouts {
                ack: Duration::from_millis(200),
                frame: Duration::from_millis(500),
                answer,
                reconcile: Duration::from_millis(300),
            },
            ..TeliumConfig::default()
        };
        let journal = Journal::open(dir.path().join("payments.journal")).unwrap();
        TeliumTerminal::new(link, config, journal).unwrap()
    }

    /// The next byte, or `None` after `SOON`.
    fn byte(link: &mut MemoryLink) -> Option<u8> {
        link.read_byte(Instant::now() + SOON).ok().flatten()
    }

    fn expect(link: &mut MemoryLink, want: u8) {
        loop {
            match byte(link) {
                Some(b) if b == want => return,
                Some(_) => {}
                None => panic!("the register never sent {want:#04x}"),
            }
        }
    }

    /// A request frame's payload, or `None` if EOT (or nothing) came first.
    fn request_frame(link: &mut MemoryLink) -> Option<Vec<u8>> {
        loop {
            match byte(link)? {
                STX => break,
                EOT => return None,
                _ => {}
            }
        }
        let mut payload = Vec::new();
        loop {
            match byte(link)? {
                ETX => break,
                b => payload.push(b),
            }
        }
        byte(link)?; // LRC
        Some(payload)
    }

    /// The terminal's side of delivering `answer`.
    fn deliver(link: &mut MemoryLink, answer: Answer) {
        let payload = Message::Answer(answer).encode().unwrap();
        link.write_all(&[ENQ]).unwrap();
        expect(link, ACK);
        link.write_all(&encode_frame(&payload).unwrap()).unwrap();
        expect(link, ACK);
        link.write_all(&[EOT]).unwrap();
    }

    fn answer(result: TransactionResult, amount: Fen) -> Answer {
        Answer {
            pos: 1,
            result,
            amount,
            payment_mode: PaymentMode::Card,
            report: None,
            currency: Currency::CNY,
            private: "0000000042".into(),
        }
    }

    #[test]
    fn an_unknown_result_code_needs_staff_and_never_says_nothing_was_charged() {
        // Protocol E result codes: 0 success, 7 refused, 9 not verified. Anything else
        // cannot be read as "declined".
        let dir = tempfile::tempdir().unwrap();
        let (register_end, mut terminal_end) = MemoryLink::pair();
        let fake = std::thread::spawn(move || {
            expect(&mut terminal_end, ENQ);
            terminal_end.write_all(&[ACK]).unwrap();
            assert!(request_frame(&mut terminal_end).is_some());
            terminal_end.write_all(&[ACK]).unwrap();
            expect(&mut terminal_end, EOT);
            deliver(
                &mut terminal_end,
                answer(TransactionResult::Other(b'5'), Fen(100)),
            );
            terminal_end
        });
        let mut t = terminal(&dir, register_end, Duration::from_secs(3));
        let o = t.sale(&key("odd"), Fen(100)).unwrap();
        let _end = fake.join().unwrap();
        assert_eq!(
            o,
            Outcome::UnknownNeedsStaff(StaffReason::UnknownResult('5'))
        );
        assert!(!o.to_string().contains("nothing was charged"), "{o}");
        assert!(o.to_string().contains("staff must check"), "{o}");
        // The key is blocked until staff look at the terminal.
        assert_eq!(t.sale(&key("odd"), Fen(100)).unwrap(), o);
        assert!(
            t.journal()
                .get(&key("odd"))
                .unwrap()
                .state
                .needs_attention()
        );
    }

    #[test]
    fn a_late_ack_for_an_earlier_enq_is_not_taken_for_the_frames_ack() {
        let dir = tempfile::tempdir().unwrap();
        let (register_end, mut terminal_end) = MemoryLink::pair();
        let fake = std::thread::spawn(move || {
            // The terminal is slow: it sees both ENQs before it answers, then
            // acknowledges both at once (the first ACK is late).
            expect(&mut terminal_end, ENQ);
            expect(&mut terminal_end, ENQ);
            terminal_end.write_all(&[ACK, ACK]).unwrap();
            // The first request frame arrives spoiled (as far as the terminal knows).
            let mut frames = 0;
            if request_frame(&mut terminal_end).is_some() {
                frames += 1;
                terminal_end.write_all(&[NAK]).unwrap();
            }
            // Only a register that waited for this answer sends the frame again.
            if request_frame(&mut terminal_end).is_some() {
                frames += 1;
                terminal_end.write_all(&[ACK]).unwrap();
                expect(&mut terminal_end, EOT);
                deliver(
                    &mut terminal_end,
                    answer(TransactionResult::Success, Fen(700)),
                );
            }
            (frames, terminal_end)
        });
        let mut t = terminal(&dir, register_end, Duration::from_secs(2));
        let o = t.sale(&key("late-ack"), Fen(700)).unwrap();
        let (frames, _end) = fake.join().unwrap();
        assert_eq!(frames, 2, "the NAKed request frame must be sent again");
        assert!(
            matches!(o, Outcome::Approved(ref a) if a.amount == Fen(700)),
            "{o:?}"
        );
    }
}
