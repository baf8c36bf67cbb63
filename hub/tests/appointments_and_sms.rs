//! Appointments (GB/T 8.1 预约) and the text-message queue (4.2.2, 4.1.2, 5.4) against a
//! real hub: slot capacity, holiday closure, booking, reschedule and cancel with history,
//! check-in, no-shows recorded once; messages queued, leased, sent, retried, dropped when
//! stale, never duplicated, rate-limited, and stopped by an opt-out.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{PriorityClass, RequestStage, ServiceType};
use hub::testkit::{TestHub, config, refusal_code};
use protocol::*;

fn contact(phone: &str, queue_sms: bool) -> Contact {
    Contact {
        name: None,
        phone: phone.into(),
        address: None,
        consent: ContactConsent {
            service_updates: true,
            queue_sms,
        },
        lang: None,
    }
}

/// The first slot of `service` with room, starting at least a minute from now.
async fn next_slot(client: &HubClient, service: ServiceType) -> SlotView {
    slot_after(client, service, Utc::now() + Duration::minutes(1)).await
}

/// The first slot of `service` with room starting at or after `after`.
async fn slot_after(client: &HubClient, service: ServiceType, after: DateTime<Utc>) -> SlotView {
    let first = after.date_naive() - Duration::days(1);
    for n in 0..4 {
        let slots = client
            .slots(service, first + Duration::days(n))
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

fn booking(service: ServiceType, at: DateTime<Utc>, phone: Option<&str>) -> CreateAppointment {
    CreateAppointment {
        service,
        slot_start: at,
        channel: domain::Channel::Phone,
        intake: Intake::default(),
        contact: phone.map(|p| contact(p, false)),
    }
}

/// Runs store code on the hub's database as if at `now + shift` (time travel for the
/// sweeps; the hub keeps running).
fn at_offset<T>(
    hub: &TestHub,
    shift: Duration,
    f: impl FnOnce(&mut hub::store::WriteCtx<'_>) -> Result<T, hub::store::StoreError>,
) -> T {
    let mut conn = hub::store::open_write_connection(&hub.dir.join(hub::DB_FILE)).unwrap();
    hub::store::with_raw_ctx(&mut conn, &hub::store::Clock::new(true), |ctx| {
        ctx.now += shift;
        f(ctx)
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_follow_counters_and_the_calendar() {
    let holiday: NaiveDate = Utc::now().date_naive() + Duration::days(3);
    let hub = TestHub::start(config(&format!(
        r#"
[calendar]
holidays = ["{holiday}"]

[[counters]]
number = 1
services = ["installation", "repair"]

[[counters]]
number = 2
services = ["repair"]

[appointments]
slot_minutes = 60
early_minutes = 1440
"#
    )))
    .await;
    let (clerk, _) = hub.login("sup", Some(1)).await;
    let day = Utc::now().date_naive() + Duration::days(1);
    let repair = hub.client.slots(ServiceType::Repair, day).await.unwrap();
    // Open around the clock in the test centre: 23 one-hour slots end by 23:59.
    assert_eq!(repair.len(), 23);
    assert!(repair.iter().all(|s| s.capacity == 2 && s.booked == 0));
    assert_eq!(
        hub.client
            .slots(ServiceType::Installation, day)
            .await
            .unwrap()[0]
            .capacity,
        1
    );
    // GB/T 8.1: the calendar's holidays are closed.
    assert!(
        hub.client
            .slots(ServiceType::Repair, holiday)
            .await
            .unwrap()
            .is_empty()
    );

    // One counter installs: the second booking of a slot is refused, a cancel frees it.
    let slot = next_slot(&hub.client, ServiceType::Installation).await;
    let first = clerk
        .create_appointment(&booking(ServiceType::Installation, slot.start, None))
        .await
        .unwrap();
    let full = clerk
        .create_appointment(&booking(ServiceType::Installation, slot.start, None))
        .await;
    assert_eq!(refusal_code(full), "slot_full");
    let off_grid = clerk
        .create_appointment(&booking(
            ServiceType::Installation,
            slot.start + Duration::minutes(7),
            None,
        ))
        .await;
    assert_eq!(refusal_code(off_grid), "invalid_field");
    let cancelled = clerk
        .cancel_appointment(&first.code, Some("客户改期".into()))
        .await
        .unwrap();
    assert_eq!(cancelled.state, AppointmentState::Cancelled);
    assert_eq!(
        cancelled
            .history
            .iter()
            .map(|h| h.kind.as_str())
            .collect::<Vec<_>>(),
        ["booked", "cancelled"]
    );
    assert_eq!(cancelled.history[1].reason.as_deref(), Some("客户改期"));
    let again = clerk
        .create_appointment(&booking(ServiceType::Installation, slot.start, None))
        .await
        .unwrap();
    let r = hub
        .client
        .check_in(&CheckIn {
            code: first.code.clone(),
            device: None,
        })
        .await;
    assert_eq!(refusal_code(r), "appointment_closed");

    // Reschedule keeps the old slot in the history.
    let later = slot_after(
        &hub.client,
        ServiceType::Installation,
        slot.start + Duration::hours(2),
    )
    .await
    .start;
    let moved = clerk
        .reschedule(
            &again.code,
            &Reschedule {
                slot_start: later,
                reason: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.slot_start, later);
    let change = &moved.history[1];
    assert_eq!(
        (change.kind.as_str(), change.from_slot, change.to_slot),
        ("rescheduled", Some(slot.start), Some(later))
    );

    // Checked in within the (wide) early window: an appointment-priority ticket.
    let checked = hub
        .client
        .check_in(&CheckIn {
            code: moved.code.to_lowercase(),
            device: Some("kiosk-1".into()),
        })
        .await
        .unwrap();
    assert_eq!(checked.ticket.ticket.class, PriorityClass::Appointment);
    let req = clerk.request(moved.request_id).await.unwrap();
    assert_eq!(req.stage, RequestStage::Appointment);
    assert_eq!(req.ticket_id, Some(checked.ticket.ticket.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_appointment_becomes_a_no_show_once() {
    let hub = TestHub::start(config("[appointments]\nlate_minutes = 15\n")).await;
    let (clerk, _) = hub.login("sup", Some(1)).await;
    let slot = next_slot(&hub.client, ServiceType::Repair).await;
    let a = clerk
        .create_appointment(&booking(ServiceType::Repair, slot.start, None))
        .await
        .unwrap();
    // Not yet: the window is still open.
    assert_eq!(
        at_offset(&hub, Duration::zero(), |ctx| {
            hub::store::appointments::sweep_no_shows(ctx, &config(""))
        }),
        0
    );
    // Two days later the sweep records it, and a second sweep records nothing more.
    let late = Duration::days(2);
    let cfg = config("[appointments]\nlate_minutes = 15\n");
    assert_eq!(
        at_offset(&hub, late, |ctx| hub::store::appointments::sweep_no_shows(
            ctx, &cfg
        )),
        1
    );
    assert_eq!(
        at_offset(&hub, late, |ctx| hub::store::appointments::sweep_no_shows(
            ctx, &cfg
        )),
        0
    );
    let view = clerk.appointment(&a.code).await.unwrap();
    assert_eq!(view.state, AppointmentState::NoShow);
    assert_eq!(
        view.history.iter().filter(|h| h.kind == "no_show").count(),
        1
    );
    let r = hub
        .client
        .check_in(&CheckIn {
            code: a.code,
            device: None,
        })
        .await;
    assert_eq!(refusal_code(r), "appointment_closed");
}

async fn lease(hub: &TestHub) -> Option<SmsToSend> {
    hub.client.lease_sms("sms-agent").await.unwrap()
}

async fn settle(hub: &TestHub, m: &SmsToSend, outcome: SmsOutcome) -> SmsView {
    hub.client
        .sms_result(
            m.id,
            &SmsResult {
                outcome,
                detail: None,
                device: Some("sms-agent".into()),
            },
        )
        .await
        .unwrap()
}

async fn intake_with_phone(hub: &TestHub, phone: &str) -> IntakeReceipt {
    hub.client
        .intake(&KioskIntake {
            service: ServiceType::Complaint,
            class: PriorityClass::Normal,
            intake: Intake::default(),
            contact: Some(contact(phone, true)),
            fees_acknowledged: None,
            confirmed_by_customer: true,
            device: Some("kiosk-1".into()),
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_near_goes_once_and_never_late() {
    let hub = TestHub::start(config("[sms]\nturn_near_ahead = 1\n")).await;
    let (clerk, _) = hub.login("sup", Some(1)).await;
    let plain = hub
        .client
        .issue_ticket(&IssueTicket {
            service: ServiceType::Complaint,
            class: PriorityClass::Normal,
            channel: domain::Channel::OnSite,
            device: None,
        })
        .await
        .unwrap();
    let second = intake_with_phone(&hub, "13800000002").await;
    let third = intake_with_phone(&hub, "13800000003").await;
    // The second has one ahead: its message goes; the third has two ahead: not yet.
    let m = lease(&hub).await.unwrap();
    assert_eq!(m.phone, "13800000002");
    assert!(m.text.contains(&second.ticket.ticket.number), "{}", m.text);
    assert!(m.text.contains("前面还有 1 位"), "{}", m.text);
    assert!(lease(&hub).await.is_none());
    assert_eq!(settle(&hub, &m, SmsOutcome::Sent).await.state, "sent");

    // The first is called: now the third has one ahead and gets its message queued...
    assert_eq!(
        clerk.call_next().await.unwrap().unwrap().id,
        plain.ticket.id
    );
    // ...but before the agent takes it, the clerk calls the second and the third too.
    clerk
        .ticket_action(plain.ticket.id, "no-show")
        .await
        .unwrap();
    at_offset(&hub, Duration::zero(), |ctx| {
        hub::store::sms::tick(ctx, &config("[sms]\nturn_near_ahead = 1\n"))
    });
    clerk.call_next().await.unwrap().unwrap();
    clerk
        .ticket_action(second.ticket.ticket.id, "no-show")
        .await
        .unwrap();
    clerk.call_next().await.unwrap().unwrap();
    // The third's moment has passed: dropped with a reason, not sent late.
    assert!(lease(&hub).await.is_none());
    let all = clerk.sms_messages().await.unwrap();
    let near_third = all
        .iter()
        .find(|m| m.kind == "turn_near" && m.text.contains(&third.ticket.ticket.number))
        .unwrap();
    assert_eq!(near_third.state, "dropped");
    assert_eq!(
        near_third.reason.as_deref(),
        Some("ticket no longer waiting")
    );
    assert_eq!(near_third.phone_masked, "138****0003");
    // One message per ticket: nothing was queued twice.
    assert_eq!(all.iter().filter(|m| m.kind == "turn_near").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_modem_delays_an_unknown_outcome_is_not_resent_and_opt_out_stops() {
    let hub = TestHub::start(config(
        "[appointments]\nearly_minutes = 1440\n[sms]\nturn_near_ahead = 0\nper_phone_per_hour = 3\n",
    ))
    .await;
    let (clerk, _) = hub.login("sup", Some(1)).await;
    // A slot well ahead: the test moves the clock on by minutes, and a confirmation for a
    // slot that has started by then is (rightly) dropped as stale.
    let slot = slot_after(
        &hub.client,
        ServiceType::Installation,
        Utc::now() + Duration::minutes(30),
    )
    .await;
    let a = clerk
        .create_appointment(&booking(
            ServiceType::Installation,
            slot.start,
            Some("13900000001"),
        ))
        .await
        .unwrap();
    // The confirmation goes now, with the code; the reminder waits for its moment.
    let m = lease(&hub).await.unwrap();
    assert!(
        m.text.contains(&a.code) && m.text.contains("预约成功"),
        "{}",
        m.text
    );
    assert_eq!(m.attempt, 1);
    // The modem has no network: the message waits (backoff), it is not lost.
    let waiting = settle(&hub, &m, SmsOutcome::Retry).await;
    assert_eq!(waiting.state, "pending");
    assert!(waiting.not_before > Utc::now());
    assert!(lease(&hub).await.is_none());
    // After the backoff it is leased again, as attempt 2; this time the modem timed out
    // after taking it: the outcome is unknown and it is never resent automatically.
    let again = at_offset(&hub, Duration::minutes(5), |ctx| {
        hub::store::sms::lease(ctx, &config(""), "sms-agent")
    })
    .unwrap();
    assert_eq!((again.id, again.attempt), (m.id, 2));
    assert_eq!(
        settle(&hub, &again, SmsOutcome::Unknown).await.state,
        "unknown"
    );
    assert_eq!(hub.client.health().await.unwrap().sms_unknown, 1);
    let r = hub
        .client
        .sms_result(
            m.id,
            &SmsResult {
                outcome: SmsOutcome::Sent,
                detail: None,
                device: Some("another-agent".into()),
            },
        )
        .await;
    assert_eq!(refusal_code(r), "not_leased");

    // Checking in drops the reminder that has no point any more.
    hub.client
        .check_in(&CheckIn {
            code: a.code.clone(),
            device: None,
        })
        .await
        .unwrap();
    // GB/T 4.1.2: the result is reported when the request is resolved...
    let req = clerk.request(a.request_id).await.unwrap();
    assert_eq!(req.stage, RequestStage::Appointment);
    let quote = clerk
        .make_quote(
            a.request_id,
            &MakeQuote {
                items: vec![QuoteItem {
                    code: "install_standard".into(),
                    quantity: 1,
                }],
            },
        )
        .await
        .unwrap();
    clerk
        .acknowledge_quote(
            a.request_id,
            &AcknowledgeQuote {
                version: quote.version,
                digest: quote.digest,
                via: "counter".into(),
            },
        )
        .await
        .unwrap();
    for stage in [
        RequestStage::Acceptance,
        RequestStage::Processing,
        RequestStage::Reply,
        RequestStage::Archiving,
    ] {
        clerk.advance_request(a.request_id, stage).await.unwrap();
    }
    let result = lease(&hub).await.unwrap();
    assert!(result.text.contains("已处理完毕"), "{}", result.text);
    // ...but the customer opts out before it goes: it is dropped, never sent.
    hub.client.sms_opt_out("13900000001").await.unwrap();
    settle(&hub, &result, SmsOutcome::Retry).await;
    let later = at_offset(&hub, Duration::hours(1), |ctx| {
        hub::store::sms::lease(ctx, &config(""), "sms-agent")
    });
    assert!(later.is_none());
    let dropped = clerk
        .sms_messages()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id == result.id)
        .unwrap();
    assert_eq!(
        (dropped.state.as_str(), dropped.reason.as_deref()),
        ("dropped", Some("customer opted out"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_stop_a_customers_messages_without_seeing_the_number() {
    let hub = TestHub::start(config("[sms]\nturn_near_ahead = 1\n")).await;
    let receipt = intake_with_phone(&hub, "13300000002").await;
    at_offset(&hub, Duration::zero(), |ctx| {
        hub::store::sms::tick(ctx, &config("[sms]\nturn_near_ahead = 1\n"))
    });
    let (clerk, _) = hub.login("sup", Some(1)).await;
    assert_eq!(
        refusal_code(hub.client.request_sms_opt_out(receipt.request.id).await),
        "login_required"
    );
    clerk.request_sms_opt_out(receipt.request.id).await.unwrap();
    assert!(lease(&hub).await.is_none());
    let m = &clerk.sms_messages().await.unwrap()[0];
    assert_eq!(m.reason.as_deref(), Some("customer opted out"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_who_reads_english_gets_english_messages() {
    let hub = TestHub::start(config("[sms]\nturn_near_ahead = 1\n")).await;
    let mut c = contact("13300000001", true);
    c.lang = Some("en".into());
    let receipt = hub
        .client
        .intake(&KioskIntake {
            service: ServiceType::Complaint,
            class: PriorityClass::Normal,
            intake: Intake::default(),
            contact: Some(c),
            fees_acknowledged: None,
            confirmed_by_customer: true,
            device: Some("kiosk-1".into()),
        })
        .await
        .unwrap();
    let m = lease(&hub).await.unwrap();
    assert!(
        m.text
            .contains(&format!("Ticket {}", receipt.ticket.ticket.number))
            && m.text.contains("Test Service Centre"),
        "{}",
        m.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_to_one_phone_are_rate_limited() {
    let hub = TestHub::start(config(
        "[sms]\nturn_near_ahead = 5\nper_phone_per_hour = 1\n",
    ))
    .await;
    let first = intake_with_phone(&hub, "13700000009").await;
    // Written another way: still the same phone.
    let second = intake_with_phone(&hub, "+86 137-0000-0009").await;
    let m = lease(&hub).await.unwrap();
    assert!(m.text.contains(&first.ticket.ticket.number));
    settle(&hub, &m, SmsOutcome::Sent).await;
    // The second ticket's message waits: one per hour to this phone. Another phone's
    // message is not held up behind it.
    let other = intake_with_phone(&hub, "13600000001").await;
    let m = lease(&hub).await.unwrap();
    assert!(m.text.contains(&other.ticket.ticket.number), "{}", m.text);
    settle(&hub, &m, SmsOutcome::Sent).await;
    assert!(lease(&hub).await.is_none());
    // An hour later the limit would allow it, but "turn is near" cannot wait that long:
    // its count is out of date, so it is dropped rather than sent late.
    let next = at_offset(&hub, Duration::minutes(61), |ctx| {
        hub::store::sms::lease(
            ctx,
            &config("[sms]\nturn_near_ahead = 5\nper_phone_per_hour = 1\n"),
            "sms-agent",
        )
    });
    assert!(next.is_none());
    let (clerk, _) = hub.login("sup", Some(1)).await;
    let stale = clerk
        .sms_messages()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.text.contains(&second.ticket.ticket.number))
        .unwrap();
    assert_eq!(stale.state, "dropped");
    assert!(stale.reason.unwrap().starts_with("too late"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_appointment_is_confirmed_again_and_never_with_the_old_time() {
    let hub = TestHub::start(config(
        "[sms]\nturn_near_ahead = 0\nreminder_minutes = 60\n",
    ))
    .await;
    let (clerk, _) = hub.login("sup", Some(1)).await;
    // Far enough ahead for a reminder.
    let first = slot_after(
        &hub.client,
        ServiceType::Repair,
        Utc::now() + Duration::hours(3),
    )
    .await;
    let a = clerk
        .create_appointment(&booking(
            ServiceType::Repair,
            first.start,
            Some("13500000001"),
        ))
        .await
        .unwrap();
    let queued = clerk.sms_messages().await.unwrap();
    let reminder = queued
        .iter()
        .find(|m| m.kind == "appointment_reminder")
        .expect("a reminder is queued");
    assert_eq!(reminder.state, "pending");
    assert_eq!(reminder.not_before, first.start - Duration::minutes(60));

    // The confirmation is with the modem when the customer moves the appointment.
    let out = lease(&hub).await.unwrap();
    assert!(out.text.contains("预约成功"));
    let second = slot_after(
        &hub.client,
        ServiceType::Repair,
        first.end + Duration::hours(1),
    )
    .await;
    let reschedule = |at| Reschedule {
        slot_start: at,
        reason: Some("客户要求".into()),
    };
    clerk
        .reschedule(&a.code, &reschedule(second.start))
        .await
        .unwrap();
    // The modem had no network: the old text comes back, and is dropped, not sent late.
    settle(&hub, &out, SmsOutcome::Retry).await;
    let later = at_offset(&hub, Duration::minutes(10), |ctx| {
        hub::store::sms::lease(ctx, &config(""), "sms-agent")
    })
    .unwrap();
    let when_second = second
        .start
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%H:%M")
        .to_string();
    assert!(
        later.text.contains(&when_second),
        "{} vs {when_second}",
        later.text
    );
    assert_ne!(later.id, out.id);
    settle(&hub, &later, SmsOutcome::Sent).await;
    // The old text is looked at next, and dropped rather than sent.
    let nothing = at_offset(&hub, Duration::minutes(10), |ctx| {
        hub::store::sms::lease(ctx, &config(""), "sms-agent")
    });
    assert!(nothing.is_none());
    let all = clerk.sms_messages().await.unwrap();
    let old = all.iter().find(|m| m.id == out.id).unwrap();
    assert_eq!(
        (old.state.as_str(), old.reason.as_deref()),
        ("dropped", Some("appointment moved to another slot"))
    );

    // Back to the first slot: a new change, so a new confirmation for it.
    clerk
        .reschedule(&a.code, &reschedule(first.start))
        .await
        .unwrap();
    let all = clerk.sms_messages().await.unwrap();
    let pending: Vec<_> = all
        .iter()
        .filter(|m| m.state == "pending" && m.kind == "appointment_confirmation")
        .collect();
    assert_eq!(pending.len(), 1, "{all:?}");
    let reminders: Vec<_> = all
        .iter()
        .filter(|m| m.state == "pending" && m.kind == "appointment_reminder")
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].not_before, first.start - Duration::minutes(60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_runs_out_is_unknown_until_its_agent_reports() {
    let hub = TestHub::start(config("[sms]\nturn_near_ahead = 1\n")).await;
    intake_with_phone(&hub, "13400000001").await;
    let m = lease(&hub).await.unwrap();
    // The agent goes quiet past its lease: the hub cannot know, so: unknown.
    at_offset(&hub, Duration::minutes(3), |ctx| {
        hub::store::sms::tick(ctx, &config(""))
    });
    let (clerk, _) = hub.login("sup", Some(1)).await;
    assert_eq!(clerk.sms_messages().await.unwrap()[0].state, "unknown");
    // Another agent cannot settle it; the one that held it can, late.
    let foreign = hub
        .client
        .sms_result(
            m.id,
            &SmsResult {
                outcome: SmsOutcome::Sent,
                detail: None,
                device: Some("rogue".into()),
            },
        )
        .await;
    assert_eq!(refusal_code(foreign), "not_leased");
    assert_eq!(settle(&hub, &m, SmsOutcome::Sent).await.state, "sent");
    assert_eq!(hub.client.health().await.unwrap().sms_unknown, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_in_international_form_stops_the_number_typed_at_the_kiosk() {
    // GB/T 5.4
    let hub = TestHub::start(config("[sms]\nturn_near_ahead = 1\n")).await;
    intake_with_phone(&hub, "138 0000 0005").await;
    // Its "turn is near" is queued...
    at_offset(&hub, Duration::zero(), |ctx| {
        hub::store::sms::tick(ctx, &config("[sms]\nturn_near_ahead = 1\n"))
    });
    // ...and the customer opts out with the number written the international way.
    hub.client.sms_opt_out("+86 13800000005").await.unwrap();
    assert!(lease(&hub).await.is_none());
    let (clerk, _) = hub.login("sup", Some(1)).await;
    let m = &clerk.sms_messages().await.unwrap()[0];
    assert_eq!(
        (m.state.as_str(), m.reason.as_deref()),
        ("dropped", Some("customer opted out"))
    );
    assert_eq!(m.phone_masked, "138****0005");
}
