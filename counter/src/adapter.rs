//! Wires the Slint globals to the desk (conventions habit 9): every callback becomes a
//! [`Command`] handed to a [`Bridge`], and every desk snapshot is copied into the globals.
//! Two bridges: [`AsyncBridge`] (the station: commands run on the network runtime and
//! results come back with `upgrade_in_event_loop`) and [`BlockingBridge`] (UI tests and
//! headless screenshots: commands run to completion inside the callback).
//!
//! The UI owns what staff type (`in-out` properties); the adapter reads it when an action
//! is asked for and clears it only after the desk reports success. It holds no business
//! rules and never talks to the hub itself.

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{FixedOffset, Utc};
use domain::{Channel, Fen, RequestStage, ServiceType, TicketState};
use hardware::printer::render::Rendered;
use protocol::devices::DeviceRole;
use protocol::sync::SyncStatus;
use protocol::{
    AlertKind, AppointmentState, AppointmentView, Catalogue, Contact, ContactConsent,
    CreateAppointment, DraftAgreement, Intake, RatingReason, RecordFollowUp,
};
use slint::{
    ComponentHandle, Image, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel, Weak,
};
use ui::Lang;

use crate::command::{self, CardPanel, Clear, Command, Level, Reply};
use crate::desk::{Desk, DeskView, OtherPayment, RefundDraft, RequestDraft, Transfer};
use crate::documents;
use crate::enrolment::{self, Access};
use crate::queue::QueueView;
use crate::slint_ui::Desk as DeskPage;
use crate::slint_ui::{
    AgreementPage, CategoryRow, CounterWindow, DeviceRow, DevicesPage, DraftRow, FaqRow, FeeRow,
    FeesPage, FollowRow, FollowUpPage, HoldRow, KV, LoginPage, PaymentRow, QueuePanel, ReasonRow,
    RefundRow, RefundsPage, RequestForm, ServePage, ServiceRow, StageRow, VersionRow, WaitingRow,
};
use crate::text::{self, centre_zone, clock_text, local_text, wait_text};

fn model<T: Clone + 'static>(rows: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(rows))
}

fn s(text: impl AsRef<str>) -> SharedString {
    SharedString::from(text.as_ref())
}

fn t(lang: Lang, zh: &str, en: &str) -> SharedString {
    s(lang.pick(zh, en))
}

/// A QR code as a picture: black modules on white, with the quiet zone (the appointment
/// code, for the customer to photograph and scan at the kiosk).
pub fn qr_image(data: &str) -> Option<Image> {
    qr_picture(data, qrcode::EcLevel::M, 4, 4)
}

/// A QR code of `data` at error correction `ec`, `scale` pixels a module, with a white
/// border of `quiet` modules (shown at its own size: whole pixels a module stay sharp).
pub fn qr_picture(data: &str, ec: qrcode::EcLevel, scale: usize, quiet: usize) -> Option<Image> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), ec).ok()?;
    let modules = code.width();
    let side = (modules + 2 * quiet) * scale;
    let colors = code.to_colors();
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(side as u32, side as u32);
    for (i, p) in buf.make_mut_slice().iter_mut().enumerate() {
        let (x, y) = (i % side / scale, i / side / scale);
        let dark = x >= quiet
            && y >= quiet
            && x < quiet + modules
            && y < quiet + modules
            && colors.get((y - quiet) * modules + (x - quiet)) == Some(&qrcode::Color::Dark);
        let v = if dark { 0 } else { 255 };
        *p = Rgb8Pixel::new(v, v, v);
    }
    Some(Image::from_rgb8(buf))
}

/// What the adapter remembers on the UI thread.
#[derive(Debug)]
pub struct UiState {
    lang: Cell<Lang>,
    view: RefCell<DeskView>,
    queue: RefCell<QueueView>,
    reasons: RefCell<Vec<bool>>,
    card_panel: RefCell<Option<CardPanel>>,
    /// The request whose agreement form was prefilled last.
    form_request: Cell<Option<i64>>,
    preview_of: Cell<usize>,
    /// The appointment code whose QR is shown, and its picture.
    appointment_qr: RefCell<Option<(String, Image)>>,
    /// The enrolment command whose QR is shown, and its picture.
    command_qr: RefCell<Option<(String, Image)>>,
    last_activity: Cell<Instant>,
    lock_after: Option<Duration>,
}

impl UiState {
    pub fn new(lang: Lang, lock_after_minutes: u32) -> Rc<UiState> {
        Rc::new(UiState {
            lang: Cell::new(lang),
            view: RefCell::new(DeskView::default()),
            queue: RefCell::new(QueueView::default()),
            reasons: RefCell::new(vec![false; RatingReason::ALL.len()]),
            card_panel: RefCell::new(None),
            form_request: Cell::new(None),
            preview_of: Cell::new(0),
            appointment_qr: RefCell::new(None),
            command_qr: RefCell::new(None),
            last_activity: Cell::new(Instant::now()),
            lock_after: (lock_after_minutes > 0)
                .then(|| Duration::from_secs(u64::from(lock_after_minutes) * 60)),
        })
    }

    pub fn lang(&self) -> Lang {
        self.lang.get()
    }

    /// Staff did something: the inactivity lock starts counting again.
    pub fn touch(&self) {
        self.last_activity.set(Instant::now());
    }

    /// Whether the screen should lock now for inactivity.
    pub fn idle_too_long(&self) -> bool {
        let v = self.view.borrow();
        v.staff.is_some()
            && !v.locked
            && self
                .lock_after
                .is_some_and(|d| self.last_activity.get().elapsed() >= d)
    }

    /// The centre's time zone (from the catalogue; China's until it is loaded).
    pub fn zone(&self) -> FixedOffset {
        self.view.borrow().catalogue.as_ref().map_or_else(
            || centre_zone(480),
            |c| centre_zone(c.centre.utc_offset_minutes),
        )
    }
}

/// Where the screen's commands go.
pub trait Bridge {
    fn send(&self, cmd: Command);
}

// ---------------------------------------------------------------- names

fn service_label(cat: Option<&Catalogue>, service: ServiceType, lang: Lang) -> String {
    cat.and_then(|c| c.services.iter().find(|s| s.service == service))
        .map_or_else(
            || text::service_name(service, lang).to_owned(),
            |s| lang.pick(&s.name_zh, &s.name_en).to_owned(),
        )
}

fn catalogue_services(cat: Option<&Catalogue>) -> Vec<ServiceType> {
    cat.map_or_else(
        || ServiceType::ALL.to_vec(),
        |c| c.services.iter().map(|s| s.service).collect(),
    )
}

fn reason_name(r: RatingReason, lang: Lang) -> &'static str {
    let (zh, en) = match r {
        RatingReason::ShortWait => ("等候时间短", "Short wait"),
        RatingReason::Friendly => ("态度友好", "Friendly"),
        RatingReason::Professional => ("专业", "Professional"),
        RatingReason::Resolved => ("问题已解决", "Problem solved"),
        RatingReason::LongWait => ("等候太久", "Long wait"),
        RatingReason::Unfriendly => ("态度不好", "Unfriendly"),
        RatingReason::NotResolved => ("问题未解决", "Not solved"),
        RatingReason::FeesUnclear => ("收费不清楚", "Fees unclear"),
        RatingReason::Environment => ("环境", "Surroundings"),
    };
    lang.pick(zh, en)
}

fn alert_name(kind: AlertKind, lang: Lang) -> &'static str {
    let (zh, en) = match kind {
        AlertKind::PrinterPaperOut => ("打印机缺纸", "printer out of paper"),
        AlertKind::PrinterFault => ("打印机故障", "printer fault"),
        AlertKind::TerminalFault => ("支付终端故障", "payment terminal fault"),
        AlertKind::ScannerFault => ("扫描器故障", "scanner fault"),
    };
    lang.pick(zh, en)
}

fn or_dash(text: Option<String>) -> String {
    text.filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "—".to_owned())
}

/// GB/T 6.1.2: the key parts of a request to repeat back to the customer.
pub fn summary_rows(
    service: &str,
    channel: Channel,
    intake: &Intake,
    contact: Option<(&str, &str, &str)>,
    lang: Lang,
) -> Vec<KV> {
    let mut rows = vec![
        KV {
            label: t(lang, "服务", "Service"),
            value: s(service),
        },
        KV {
            label: t(lang, "渠道", "Channel"),
            value: s(text::channel_name(channel, lang)),
        },
        KV {
            label: t(lang, "产品", "Product"),
            value: s(or_dash(intake.product.clone())),
        },
        KV {
            label: t(lang, "型号", "Model"),
            value: s(or_dash(intake.model.clone())),
        },
        KV {
            label: t(lang, "序列号", "Serial no."),
            value: s(or_dash(intake.serial_number.clone())),
        },
        KV {
            label: t(lang, "购买日期", "Purchased"),
            value: s(or_dash(intake.purchase_date.map(|d| d.to_string()))),
        },
        KV {
            label: t(lang, "问题", "Problem"),
            value: s(or_dash(intake.problem.clone())),
        },
    ];
    if let Some(d) = intake.details.as_ref().filter(|d| !d.trim().is_empty()) {
        rows.push(KV {
            label: t(lang, "补充说明", "Details"),
            value: s(d),
        });
    }
    if let Some((name, phone, address)) = contact {
        let who = [name, phone, address]
            .into_iter()
            .filter(|x| !x.trim().is_empty())
            .collect::<Vec<_>>()
            .join("  ");
        rows.push(KV {
            label: t(lang, "联系方式", "Contact"),
            value: s(who),
        });
    }
    rows
}

// ---------------------------------------------------------------- view → globals

/// Names that depend only on the language and the catalogue.
pub fn fill_names(w: &CounterWindow, view: &DeskView, lang: Lang) {
    let cat = view.catalogue.as_deref();
    let names: Vec<SharedString> = catalogue_services(cat)
        .into_iter()
        .map(|sv| s(service_label(cat, sv, lang)))
        .collect();
    w.global::<DeskPage>()
        .set_service_names(model(names.clone()));
    let form = w.global::<RequestForm>();
    form.set_services(model(names));
    form.set_channels(model(
        Channel::ALL
            .iter()
            .map(|c| s(text::channel_name(*c, lang)))
            .collect(),
    ));
    w.global::<RefundsPage>().set_methods(model(
        text::METHODS
            .iter()
            .map(|m| s(text::method_name(*m, lang)))
            .collect(),
    ));
    w.global::<LoginPage>()
        .set_other_language(s(lang.other().pick("中文", "English")));
    w.global::<DevicesPage>().set_roles(model(
        DeviceRole::ALL
            .iter()
            .map(|r| {
                let (zh, en) = enrolment::role_names(*r);
                s(format!("{} ({})", lang.pick(zh, en), r.as_str()))
            })
            .collect(),
    ));
    fill_form_service(w, view, lang);
}

/// The new-request form's fee disclosure for the chosen service (GB/T 4.2.3).
fn fill_form_service(w: &CounterWindow, view: &DeskView, lang: Lang) {
    let form = w.global::<RequestForm>();
    let cat = view.catalogue.as_deref();
    let services = catalogue_services(cat);
    let chosen = services.get(form.get_service().max(0) as usize).copied();
    let entry = cat.and_then(|c| c.services.iter().find(|s| Some(s.service) == chosen));
    form.set_paid(entry.is_some_and(|e| e.paid));
    form.set_fee_list(s(entry.map_or_else(String::new, |e| {
        e.fees
            .iter()
            .map(|f| format!("{}  {}", lang.pick(&f.name_zh, &f.name_en), f.unit_price))
            .collect::<Vec<_>>()
            .join("\n")
    })));
}

fn fill_reasons(w: &CounterWindow, state: &UiState) {
    let lang = state.lang();
    let on = state.reasons.borrow();
    let rows: Vec<ReasonRow> = RatingReason::ALL
        .iter()
        .zip(on.iter())
        .map(|(r, on)| ReasonRow {
            name: s(reason_name(*r, lang)),
            on: *on,
        })
        .collect();
    let (a, b) = rows.split_at(rows.len().div_ceil(2));
    let page = w.global::<FollowUpPage>();
    page.set_reasons_a(model(a.to_vec()));
    page.set_reasons_b(model(b.to_vec()));
}

/// How wide the agreement preview is drawn: two thirds of 80 mm paper (576 dots), so
/// the printed picture fits the preview panel.
pub const PREVIEW_WIDTH: u32 = 384;

/// The overlap of the source span `[a, a + 1)` with `[lo, hi)`.
fn overlap(a: u32, lo: f32, hi: f32) -> f32 {
    let (a0, a1) = (a as f32, a as f32 + 1.0);
    (a1.min(hi) - a0.max(lo)).max(0.0)
}

/// The printed picture scaled to `width` pixels by area averaging, so thin strokes of
/// Chinese characters stay legible as grey instead of breaking up.
pub fn preview_image(r: &Rendered, width: u32) -> Image {
    let scale = r.width as f32 / width.max(1) as f32;
    let height = ((r.height.max(1) as f32) / scale).ceil().max(1.0) as u32;
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(width, height);
    let stride = width as usize;
    for (i, px) in buf.make_mut_slice().iter_mut().enumerate() {
        let (ox, oy) = ((i % stride) as f32, (i / stride) as f32);
        let (x0, x1) = (ox * scale, (ox + 1.0) * scale);
        let (y0, y1) = (oy * scale, (oy + 1.0) * scale);
        let mut black = 0.0;
        for sy in (y0.floor() as u32)..(y1.ceil() as u32).min(r.height) {
            let wy = overlap(sy, y0, y1);
            for sx in (x0.floor() as u32)..(x1.ceil() as u32).min(r.width) {
                if r.is_black(sx, sy) {
                    black += wy * overlap(sx, x0, x1);
                }
            }
        }
        let ink = (black / (scale * scale)).clamp(0.0, 1.0);
        let v = (255.0 * (1.0 - ink)).round() as u8;
        *px = Rgb8Pixel::new(v, v, v);
    }
    Image::from_rgb8(buf)
}

/// Copies a desk snapshot into every page's global.
pub fn fill(w: &CounterWindow, view: &DeskView, state: &UiState) {
    let lang = state.lang();
    let request_changed =
        state.view.borrow().request.as_ref().map(|r| r.id) != view.request.as_ref().map(|r| r.id);
    *state.view.borrow_mut() = view.clone();
    if request_changed {
        *state.card_panel.borrow_mut() = None;
    }
    let zone = state.zone();
    let cat = view.catalogue.as_deref();

    // The station.
    let d = w.global::<DeskPage>();
    d.set_centre(s(
        cat.map_or("", |c| lang.pick(&c.centre.name_zh, &c.centre.name_en))
    ));
    d.set_counter(view.counter as i32);
    d.set_logged_in(view.staff.is_some());
    d.set_locked(view.locked);
    if let Some(st) = &view.staff {
        d.set_staff_name(s(&st.name));
        d.set_staff_id(s(&st.staff_id));
        d.set_services(s(st
            .services
            .iter()
            .map(|sv| service_label(cat, *sv, lang))
            .collect::<Vec<_>>()
            .join(" · ")));
    }
    d.set_clock(s(clock_text(Utc::now(), zone)));
    d.set_has_ticket(view.ticket.is_some());
    if let Some(tk) = &view.ticket {
        d.set_ticket_number(s(&tk.number));
        d.set_ticket_service(s(service_label(cat, tk.service, lang)));
        let (code, state_text) = match tk.state {
            TicketState::Serving => (1, t(lang, "办理中", "Being served")),
            TicketState::OnHold => (2, t(lang, "暂停", "On hold")),
            _ => (0, t(lang, "已呼叫", "Called")),
        };
        d.set_ticket_state_code(code);
        d.set_ticket_state(state_text);
        let class = match tk.class {
            domain::PriorityClass::Appointment => lang.pick("预约", "appointment"),
            domain::PriorityClass::Priority => lang.pick("优先", "priority"),
            domain::PriorityClass::Normal => "",
        };
        let waited = tk
            .called_at
            .map(|c| wait_text((c - tk.issued_at).num_seconds().max(0) as u32, lang))
            .map(|w| format!("{}{w}", lang.pick("等候 ", "waited ")))
            .unwrap_or_default();
        d.set_ticket_info(s([class, waited.as_str()]
            .into_iter()
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
            .join(" · ")));
    }
    d.set_kept_print(s(view
        .pending_print
        .as_ref()
        .map_or_else(String::new, |(_, title)| title.clone())));
    d.set_refunds_overdue(view.refunds.iter().filter(|r| r.overdue).count() as i32);
    d.set_follow_ups_due(view.follow_ups.len() as i32);

    fill_serve(w, view, state, zone);
    fill_fees(w, view, state, zone);
    fill_agreement(w, view, state, zone);
    fill_aftercare(w, view, state, zone);
    fill_devices(w, view, state, zone);

    let form = w.global::<RequestForm>();
    form.set_slots(model(
        view.slots
            .iter()
            .map(|sl| {
                s(format!(
                    "{}–{}",
                    text::local(sl.start, zone).format("%m-%d %H:%M"),
                    text::local(sl.end, zone).format("%H:%M")
                ))
            })
            .collect(),
    ));
    if form.get_slot() >= view.slots.len() as i32 {
        form.set_slot(0);
    }
    form.set_appointment(s(view.appointment.as_ref().map_or_else(String::new, |a| {
        format!(
            "{} {}  {}",
            lang.pick("预约码", "Appointment code"),
            a.code,
            local_text(a.slot_start, zone)
        )
    })));
    fill_appointment(w, view.appointment.as_ref(), state, zone);
}

fn appointment_state_name(st: AppointmentState, lang: Lang) -> &'static str {
    match st {
        AppointmentState::Booked => lang.pick("已预约", "booked"),
        AppointmentState::CheckedIn => lang.pick("已签到", "checked in"),
        AppointmentState::NoShow => lang.pick("爽约", "no-show"),
        AppointmentState::Cancelled => lang.pick("已取消", "cancelled"),
    }
}

fn change_kind_name(kind: &str, lang: Lang) -> String {
    match kind {
        "booked" => lang.pick("预约", "booked"),
        "rescheduled" => lang.pick("改期", "rescheduled"),
        "cancelled" => lang.pick("取消", "cancelled"),
        "checked_in" => lang.pick("签到", "checked in"),
        "no_show" => lang.pick("爽约", "no-show"),
        other => other,
    }
    .to_owned()
}

/// The appointment panel: the code large with its QR, the facts and the history.
fn fill_appointment(
    w: &CounterWindow,
    a: Option<&AppointmentView>,
    state: &UiState,
    zone: FixedOffset,
) {
    let lang = state.lang();
    let form = w.global::<RequestForm>();
    let Some(a) = a else {
        form.set_appointment_code(s(""));
        form.set_appointment_qr(Image::default());
        form.set_appointment_facts(model(Vec::new()));
        form.set_appointment_history(model(Vec::new()));
        form.set_appointment_open(false);
        return;
    };
    form.set_appointment_code(s(&a.code));
    {
        let mut cache = state.appointment_qr.borrow_mut();
        if cache.as_ref().map(|(c, _)| c.as_str()) != Some(a.code.as_str()) {
            *cache = qr_image(&a.code).map(|img| (a.code.clone(), img));
        }
        form.set_appointment_qr(cache.as_ref().map(|(_, i)| i.clone()).unwrap_or_default());
    }
    let service = text::service_name(a.service, lang);
    form.set_appointment_facts(model(vec![
        KV {
            label: s(lang.pick("服务", "Service")),
            value: s(service),
        },
        KV {
            label: s(lang.pick("时段", "Time")),
            value: s(format!(
                "{}–{}",
                text::local(a.slot_start, zone).format("%Y-%m-%d %H:%M"),
                text::local(a.slot_end, zone).format("%H:%M")
            )),
        },
        KV {
            label: s(lang.pick("状态", "State")),
            value: s(appointment_state_name(a.state, lang)),
        },
    ]));
    form.set_appointment_history(model(
        a.history
            .iter()
            .map(|c| {
                let mut line = format!(
                    "{}  {}",
                    text::local(c.at, zone).format("%m-%d %H:%M"),
                    change_kind_name(&c.kind, lang)
                );
                if let (Some(from), Some(to)) = (c.from_slot, c.to_slot) {
                    line.push_str(&format!(
                        "  {} → {}",
                        text::local(from, zone).format("%m-%d %H:%M"),
                        text::local(to, zone).format("%m-%d %H:%M")
                    ));
                }
                if let Some(by) = &c.staff_id {
                    line.push_str(&format!("  ({by})"));
                }
                if let Some(r) = c.reason.as_deref().filter(|r| !r.is_empty()) {
                    line.push_str(&format!("  {}{r}", lang.pick("原因：", "reason: ")));
                }
                s(line)
            })
            .collect(),
    ));
    form.set_appointment_open(a.state == AppointmentState::Booked);
}

fn fill_serve(w: &CounterWindow, view: &DeskView, state: &UiState, zone: FixedOffset) {
    let lang = state.lang();
    let cat = view.catalogue.as_deref();
    let page = w.global::<ServePage>();
    page.set_has_request(view.request.is_some());
    if let Some(kb) = &view.knowledge {
        page.set_faqs(model(
            kb.faqs
                .iter()
                .map(|f| FaqRow {
                    question: s(lang.pick(&f.question_zh, &f.question_en)),
                    answer: s(lang.pick(&f.answer_zh, &f.answer_en)),
                    service: s(f
                        .service
                        .map(|sv| service_label(cat, sv, lang))
                        .unwrap_or_default()),
                })
                .collect(),
        ));
        page.set_categories(model(
            kb.categories
                .iter()
                .map(|c| CategoryRow {
                    name: s(lang.pick(&c.name_zh, &c.name_en)),
                    problems: s(c
                        .problems
                        .iter()
                        .map(|p| lang.pick(&p.text_zh, &p.text_en))
                        .collect::<Vec<_>>()
                        .join(lang.pick("；", "; "))),
                })
                .collect(),
        ));
    }
    let Some(r) = &view.request else {
        return;
    };
    page.set_request_no(s(r.number(zone)));
    page.set_service(s(service_label(cat, r.service, lang)));
    page.set_channel(s(text::channel_name(r.channel, lang)));
    let mut rows = summary_rows("", r.channel, &r.intake, None, lang);
    rows.drain(..2);
    if r.paid {
        rows.push(KV {
            label: t(lang, "收费告知", "Fees shown"),
            value: match &r.fees_acknowledged {
                Some(a) => s(format!(
                    "{} {}",
                    local_text(a.at, zone),
                    lang.pick(
                        if a.via == "kiosk" {
                            "（自助机确认）"
                        } else {
                            "（窗口确认）"
                        },
                        if a.via == "kiosk" {
                            "(acknowledged at the kiosk)"
                        } else {
                            "(acknowledged at the counter)"
                        }
                    )
                )),
                None => t(lang, "尚未确认", "not acknowledged yet"),
            },
        });
    }
    page.set_summary(model(rows));
    match &view.contact {
        Some(c) => {
            page.set_has_contact(true);
            page.set_contact_name(s(c.name.clone().unwrap_or_default()));
            page.set_contact_phone(s(&c.phone));
            page.set_contact_address(s(c.address.clone().unwrap_or_default()));
            page.set_contact_revealed(c.revealed);
            page.set_contact_erased(c.erased);
        }
        None => {
            page.set_has_contact(false);
            page.set_contact_erased(false);
            page.set_contact_name(s(""));
            page.set_contact_phone(s(""));
            page.set_contact_address(s(""));
            page.set_contact_revealed(false);
        }
    }
    // GB/T 8.1: the stages, with the time each was reached.
    let stages: Vec<StageRow> = RequestStage::ALL
        .iter()
        .filter(|st| **st != RequestStage::Appointment || r.history.iter().any(|h| h.stage == **st))
        .map(|st| {
            let at = r.history.iter().find(|h| h.stage == *st).map(|h| h.at);
            StageRow {
                name: s(text::stage_name(*st, lang)),
                at: s(at.map_or_else(String::new, |a| {
                    crate::text::local(a, zone)
                        .format("%m-%d %H:%M")
                        .to_string()
                })),
                done: at.is_some() && *st < r.stage,
                current: *st == r.stage,
            }
        })
        .collect();
    page.set_stages(model(stages));
    page.set_next_stage(s(r.stage.next().map_or("", |n| text::stage_name(n, lang))));
    page.set_reply_due(s(r.reply_due.map_or_else(
        || lang.pick("当场答复", "at once").to_owned(),
        |d| local_text(d, zone),
    )));
    page.set_resolve_due(s(r
        .resolve_due
        .map_or_else(|| "—".to_owned(), |d| local_text(d, zone))));
    page.set_overdue(r.overdue);
    page.set_fees(s(match (&r.quote, r.paid) {
        (_, false) => lang.pick("免费服务", "free service").to_owned(),
        (None, true) => lang
            .pick("收费服务：尚未报价", "paid service: no quote yet")
            .to_owned(),
        (Some(q), true) => {
            let ack = if q.acknowledged_at.is_some() {
                lang.pick("客户已确认", "acknowledged")
            } else {
                lang.pick("待客户确认", "waiting for acknowledgement")
            };
            format!(
                "{} v{} {} · {ack}",
                lang.pick("报价", "quote"),
                q.version,
                q.total
            )
        }
    }));
    page.set_more(s(if view.ticket_requests.len() > 1 {
        format!(
            "{} {}",
            lang.pick("本票号还有其他服务单：", "This ticket has other requests:"),
            view.ticket_requests
                .iter()
                .filter(|id| **id != r.id)
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    }));
}

fn fill_fees(w: &CounterWindow, view: &DeskView, state: &UiState, zone: FixedOffset) {
    let lang = state.lang();
    let page = w.global::<FeesPage>();
    page.set_schedule(model(
        view.schedule
            .iter()
            .map(|f| FeeRow {
                code: s(&f.code),
                name: s(lang.pick(&f.name_zh, &f.name_en)),
                unit: s(f.unit_price.to_string()),
            })
            .collect(),
    ));
    page.set_draft(model(
        view.draft
            .iter()
            .map(|l| DraftRow {
                code: s(&l.item.code),
                name: s(lang.pick(&l.item.name_zh, &l.item.name_en)),
                quantity: l.quantity as i32,
                unit: s(l.item.unit_price.to_string()),
                amount: s(l.amount().to_string()),
            })
            .collect(),
    ));
    page.set_draft_total(s(view.draft_total.to_string()));
    let quote = view.request.as_ref().and_then(|r| r.quote.as_ref());
    page.set_has_quote(quote.is_some());
    if let Some(q) = quote {
        page.set_quote_version(q.version as i32);
        page.set_quote_total(s(q.total.to_string()));
        page.set_acknowledged(q.acknowledged_at.is_some());
        page.set_acknowledged_at(s(q
            .acknowledged_at
            .map_or_else(String::new, |a| clock_text(a, zone))));
        let issued: Vec<(&str, u32)> = q
            .lines
            .iter()
            .map(|l| (l.code.as_str(), l.quantity))
            .collect();
        let drafted: Vec<(&str, u32)> = view
            .draft
            .iter()
            .map(|l| (l.item.code.as_str(), l.quantity))
            .collect();
        page.set_draft_changed(issued != drafted);
    } else {
        page.set_acknowledged(false);
        page.set_draft_changed(!view.draft.is_empty());
    }
    page.set_amount_due(s(view
        .amount_due
        .map_or_else(|| "—".to_owned(), |a| a.to_string())));
    page.set_payable(
        view.amount_due.is_some_and(|a| a > Fen::ZERO)
            && quote.is_some_and(|q| q.acknowledged_at.is_some())
            && view.card.is_none()
            // An approved card sale not recorded yet: nothing more is taken meanwhile.
            && view.unrecorded_here == 0,
    );
    page.set_payments(model(
        view.request
            .as_ref()
            .map(|r| {
                r.payments
                    .iter()
                    .map(|p| PaymentRow {
                        id: p.id as i32,
                        method: s(text::method_name(p.method, lang)),
                        amount: s(p.amount.to_string()),
                        reference: s(p.reference.clone().unwrap_or_default()),
                        at: s(clock_text(p.at, zone)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    ));
    page.set_has_terminal(view.has_terminal);
    let (code, text) = match (&view.card, &*state.card_panel.borrow()) {
        (Some(p), _) => (
            4,
            format!(
                "{} {}: {}",
                p.amount,
                lang.pick(
                    "刷卡结果未知，切勿重新刷卡",
                    "unknown: do not take the card again"
                ),
                p.reason
            ),
        ),
        (None, Some(CardPanel::Approved(r))) => (
            2,
            format!("{} {r}", lang.pick("终端参考号", "Terminal ref.")),
        ),
        (None, Some(CardPanel::Declined(why))) => (3, why.clone()),
        (None, None) => (0, String::new()),
    };
    page.set_card_state(code);
    page.set_card_text(s(text));
    page.set_change(s(command::change_text(
        view.amount_due,
        &page.get_tendered(),
        lang,
    )));
}

fn fill_agreement(w: &CounterWindow, view: &DeskView, state: &UiState, zone: FixedOffset) {
    let lang = state.lang();
    let page = w.global::<AgreementPage>();
    let lines = view
        .request
        .as_ref()
        .and_then(|r| r.quote.as_ref())
        .map(|q| q.lines.clone())
        .unwrap_or_default();
    page.set_fees(model(
        lines
            .iter()
            .map(|l| DraftRow {
                code: s(&l.code),
                name: s(lang.pick(&l.name_zh, &l.name_en)),
                quantity: l.quantity as i32,
                unit: s(l.unit_price.to_string()),
                amount: s(l.amount().unwrap_or_default().to_string()),
            })
            .collect(),
    ));
    page.set_total(s(view
        .request
        .as_ref()
        .and_then(|r| r.quote.as_ref())
        .map_or_else(|| Fen::ZERO.to_string(), |q| q.total.to_string())));
    page.set_versions(model(
        view.agreements
            .iter()
            .rev()
            .map(|a| VersionRow {
                version: a.version as i32,
                at: s(local_text(a.created_at, zone)),
                total: s(a.total.to_string()),
                technician: s(&a.technician),
            })
            .collect(),
    ));
    match &view.preview {
        Some((v, picture)) => {
            page.set_shown_version(*v as i32);
            let key = Arc::as_ptr(picture) as usize;
            if state.preview_of.get() != key {
                state.preview_of.set(key);
                page.set_preview(preview_image(picture, PREVIEW_WIDTH));
            }
            page.set_has_preview(true);
        }
        None => {
            page.set_has_preview(false);
            page.set_shown_version(0);
        }
    }
    // A newly opened request starts its agreement form from what is known.
    let rid = view.request.as_ref().map(|r| r.id);
    if rid != state.form_request.get() {
        state.form_request.set(rid);
        if let Some(r) = &view.request {
            let cat = view.catalogue.as_deref();
            let service = service_label(cat, r.service, lang);
            let latest = view.agreements.last();
            page.set_content(s(latest.map_or_else(
                || match r.intake.problem.as_deref().filter(|p| !p.trim().is_empty()) {
                    Some(p) => format!("{service}：{p}"),
                    None => service.clone(),
                },
                |a| a.content.clone(),
            )));
            page.set_time(s(latest.map_or_else(
                || {
                    crate::text::local(Utc::now(), zone)
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                },
                |a| a.time.clone(),
            )));
            page.set_place(s(latest.map_or_else(
                || {
                    format!(
                        "{} {}",
                        cat.map_or("", |c| lang.pick(&c.centre.name_zh, &c.centre.name_en)),
                        match lang {
                            Lang::ZhCn => format!("{} 号窗口", view.counter),
                            Lang::En => format!("counter {}", view.counter),
                        }
                    )
                },
                |a| a.place.clone(),
            )));
            page.set_technician(s(latest.map_or_else(
                || {
                    view.staff
                        .as_ref()
                        .map(|st| st.name.clone())
                        .unwrap_or_default()
                },
                |a| a.technician.clone(),
            )));
            page.set_change_procedure(s(latest.map_or_else(
                || {
                    cat.map_or_else(String::new, |c| {
                        lang.pick(&c.centre.change_procedure_zh, &c.centre.change_procedure_en)
                            .to_owned()
                    })
                },
                |a| a.change_procedure.clone(),
            )));
        }
    }
}

fn fill_aftercare(w: &CounterWindow, view: &DeskView, state: &UiState, zone: FixedOffset) {
    let lang = state.lang();
    let cat = view.catalogue.as_deref();
    let refunds = w.global::<RefundsPage>();
    let payments = view
        .request
        .as_ref()
        .map(|r| r.payments.clone())
        .unwrap_or_default();
    refunds.set_payment_names(model(
        payments
            .iter()
            .map(|p| {
                s(format!(
                    "{} · {} · {}",
                    documents::receipt_no(p, zone),
                    p.amount,
                    text::method_name(p.method, lang)
                ))
            })
            .collect(),
    ));
    refunds.set_payments(model(
        payments
            .iter()
            .map(|p| PaymentRow {
                id: p.id as i32,
                method: s(text::method_name(p.method, lang)),
                amount: s(p.amount.to_string()),
                reference: s(p.reference.clone().unwrap_or_default()),
                at: s(clock_text(p.at, zone)),
            })
            .collect(),
    ));
    if refunds.get_payment() >= payments.len() as i32 {
        refunds.set_payment(0);
    }
    refunds.set_due(model(
        view.refunds
            .iter()
            .map(|r| RefundRow {
                id: r.id as i32,
                request: s(documents::refund_no(r)),
                amount: s(r.amount.to_string()),
                method: s(text::method_name(r.method, lang)),
                reason: s(&r.reason),
                requested: s(r.requested_on.to_string()),
                due: s(r.due_date.to_string()),
                overdue: r.overdue,
            })
            .collect(),
    ));

    let follow = w.global::<FollowUpPage>();
    follow.set_due(model(
        view.follow_ups
            .iter()
            .map(|f| FollowRow {
                request_id: f.request.id as i32,
                request: s(f.request.number(zone)),
                service: s(service_label(cat, f.request.service, lang)),
                resolved: s(f
                    .request
                    .resolved_at
                    .map_or_else(|| "—".to_owned(), |d| local_text(d, zone))),
                due: s(local_text(f.due, zone)),
                attempts: f.attempts as i32,
                phone: s(f
                    .request
                    .contact
                    .as_ref()
                    .map_or_else(String::new, |c| c.phone.clone())),
                problem: s(f.request.intake.problem.clone().unwrap_or_default()),
            })
            .collect(),
    ));
    let selected = follow.get_selected();
    if selected >= view.follow_ups.len() as i32 {
        follow.set_selected(-1);
    }
    let chosen = usize::try_from(follow.get_selected())
        .ok()
        .and_then(|i| view.follow_ups.get(i));
    match chosen {
        Some(f) => match &view.follow_up_contact {
            Some((id, c)) if *id == f.request.id => {
                follow.set_phone(s(&c.phone));
                follow.set_phone_revealed(true);
            }
            _ => {
                follow.set_phone(s(f.request.contact.as_ref().map_or_else(
                    || lang.pick("未留电话", "no phone given").to_owned(),
                    |c| c.phone.clone(),
                )));
                follow.set_phone_revealed(false);
            }
        },
        None => {
            follow.set_phone(s(""));
            follow.set_phone_revealed(false);
        }
    }
    fill_reasons(w, state);
}

/// The Devices page (GB/T 5.4): the list, the pairing code just made, a revocation to
/// confirm.
fn fill_devices(w: &CounterWindow, view: &DeskView, state: &UiState, zone: FixedOffset) {
    let lang = state.lang();
    let page = w.global::<DevicesPage>();
    page.set_access(match view.device_access {
        Access::None => 0,
        Access::List => 1,
        Access::Manage => 2,
    });
    let role_name = |r: DeviceRole| {
        let (zh, en) = enrolment::role_names(r);
        lang.pick(zh, en)
    };
    page.set_devices(model(
        view.enrolled
            .iter()
            .map(|d| DeviceRow {
                id: s(&d.device_id),
                role: s(role_name(d.role)),
                enrolled: s(local_text(d.enrolled_at, zone)),
                valid_until: s(text::local(d.not_after, zone)
                    .format("%Y-%m-%d")
                    .to_string()),
                revoked: d.revoked_at.is_some(),
                revoked_at: s(d
                    .revoked_at
                    .map_or_else(String::new, |t| local_text(t, zone))),
            })
            .collect(),
    ));
    let (error, other) = view
        .bad_device_id
        .as_deref()
        .map(enrolment::bad_id_text)
        .map_or_else(Default::default, |(zh, en)| {
            (
                lang.pick(&zh, &en).to_owned(),
                lang.other().pick(&zh, &en).to_owned(),
            )
        });
    page.set_id_error(s(error));
    page.set_id_error_other(s(other));
    match &view.pairing {
        Some(shown) => {
            let p = &shown.pairing;
            page.set_has_pairing(true);
            page.set_code(s(&p.code));
            page.set_paired_device(s(match lang {
                Lang::ZhCn => format!("{}（{}）", p.device_id, role_name(p.role)),
                Lang::En => format!("{} ({})", p.device_id, role_name(p.role)),
            }));
            page.set_valid_until(s(local_text(p.expires_at, zone)));
            let (a, b) = enrolment::fingerprint_rows(&p.ca_fingerprint);
            page.set_fingerprint_a(model(a.iter().map(s).collect()));
            page.set_fingerprint_b(model(b.iter().map(s).collect()));
            page.set_command(s(&shown.command));
            let mut cache = state.command_qr.borrow_mut();
            if cache.as_ref().map(|(c, _)| c.as_str()) != Some(shown.command.as_str()) {
                // Read off a lit screen: the lowest correction keeps the modules large.
                *cache = qr_picture(&shown.command, qrcode::EcLevel::L, 3, 1)
                    .map(|img| (shown.command.clone(), img));
            }
            page.set_command_qr(cache.as_ref().map(|(_, i)| i.clone()).unwrap_or_default());
        }
        None => {
            page.set_has_pairing(false);
            page.set_code(s(""));
            page.set_paired_device(s(""));
            page.set_valid_until(s(""));
            page.set_fingerprint_a(model(Vec::new()));
            page.set_fingerprint_b(model(Vec::new()));
            page.set_command(s(""));
            page.set_command_qr(Image::default());
            *state.command_qr.borrow_mut() = None;
        }
    }
    match &view.revoking {
        Some(id) => {
            let role = view
                .enrolled
                .iter()
                .find(|d| &d.device_id == id)
                .map(|d| d.role);
            let (zh, en) = enrolment::revoke_question(id, role);
            page.set_revoking(s(id));
            page.set_confirm_text(s(lang.pick(&zh, &en)));
            page.set_confirm_other(s(lang.other().pick(&zh, &en)));
            page.set_confirming(true);
        }
        None => {
            page.set_confirming(false);
            page.set_revoking(s(""));
            page.set_confirm_text(s(""));
            page.set_confirm_other(s(""));
        }
    }
}

/// Copies the queue panel into its global.
pub fn fill_queue(w: &CounterWindow, q: &QueueView, state: &UiState) {
    let lang = state.lang();
    let counter = state.view.borrow().counter;
    *state.queue.borrow_mut() = q.clone();
    fill_sync(w, q.sync.as_ref(), lang);
    let page = w.global::<QueuePanel>();
    page.set_services(model(
        q.services
            .iter()
            .map(|sv| ServiceRow {
                prefix: s(sv.prefix.to_string()),
                name: s(lang.pick(&sv.name_zh, &sv.name_en)),
                waiting: sv.waiting as i32,
                longest: s(if sv.waiting > 0 {
                    wait_text(sv.longest_wait_secs, lang)
                } else {
                    "—".to_owned()
                }),
                overdue: sv.overdue as i32,
                mine: sv.mine,
            })
            .collect(),
    ));
    let names: Vec<(ServiceType, String)> = q
        .services
        .iter()
        .map(|sv| (sv.service, lang.pick(&sv.name_zh, &sv.name_en).to_owned()))
        .collect();
    let name_of = |sv: ServiceType| {
        names.iter().find(|(k, _)| *k == sv).map_or_else(
            || text::service_name(sv, lang).to_owned(),
            |(_, n)| n.clone(),
        )
    };
    page.set_waiting(model(
        q.waiting
            .iter()
            .map(|wt| WaitingRow {
                id: wt.ticket.id as i32,
                number: s(&wt.ticket.number),
                service: s(name_of(wt.ticket.service)),
                waited: s(wait_text(wt.waited_secs, lang)),
                overdue: wt.overdue,
                priority: wt.ticket.class != domain::PriorityClass::Normal,
                for_counter: s(wt.for_counter.map(|c| c.to_string()).unwrap_or_default()),
            })
            .collect(),
    ));
    let holds = q.hold_order(counter);
    page.set_hold_count(holds.len() as i32);
    page.set_on_hold(model(
        holds
            .iter()
            .take(3)
            .map(|h| HoldRow {
                id: h.id as i32,
                number: s(&h.number),
                service: s(name_of(h.service)),
                counter: s(h.counter.map(|c| c.to_string()).unwrap_or_default()),
                mine: h.counter == Some(counter),
            })
            .collect(),
    ));
    page.set_served(q.today.served as i32);
    page.set_no_shows(q.today.no_shows as i32);
    page.set_transferred(q.today.transferred as i32);
    let minutes = |secs: Option<u32>| secs.map_or_else(|| "—".to_owned(), |v| wait_text(v, lang));
    page.set_mean_service(s(minutes(q.today.mean_service_secs)));
    page.set_mean_wait(s(minutes(q.today.mean_wait_secs)));
    page.set_day_open(q.day_open || q.now.is_none());
    page.set_overdue(q.waiting.iter().filter(|wt| wt.overdue).count() as i32);
    let d = w.global::<DeskPage>();
    d.set_can_resume(holds.iter().any(|h| h.counter == Some(counter)));
    d.set_alerts(s(q
        .alerts
        .iter()
        .map(|a| format!("{}: {}", a.device, alert_name(a.kind, lang)))
        .collect::<Vec<_>>()
        .join(" · ")));
}

/// The hub's sync to headquarters in the status bar (hidden when none is configured).
fn fill_sync(w: &CounterWindow, sync: Option<&SyncStatus>, lang: Lang) {
    let d = w.global::<DeskPage>();
    match sync.and_then(|s| text::sync_line(s, Utc::now(), lang)) {
        Some((level, line)) => {
            d.set_sync_shown(true);
            d.set_sync_level(level.code());
            d.set_sync_text(s(line));
        }
        None => {
            d.set_sync_shown(false);
            d.set_sync_text(s(""));
        }
    }
}

/// The hub's `/health` answered while nobody is logged in: the status bar's sync line.
pub fn set_sync(w: &CounterWindow, sync: SyncStatus, state: &UiState) {
    state.queue.borrow_mut().sync = Some(sync);
    fill_sync(w, state.queue.borrow().sync.as_ref(), state.lang());
}

/// The hub answered (or not) the last queue refresh.
pub fn set_hub_ok(w: &CounterWindow, ok: bool) {
    w.global::<DeskPage>().set_hub_ok(ok);
}

/// Shows a command's outcome: the notice, cleared fields, the tab, the login screen.
pub fn apply(w: &CounterWindow, reply: &Reply, state: &UiState) {
    let d = w.global::<DeskPage>();
    if let Some(n) = &reply.notice {
        d.set_notice_level(n.level as i32);
        d.set_notice(s(&n.text));
    }
    let login = w.global::<LoginPage>();
    match &reply.login_error {
        Some(e) => login.set_error(s(e)),
        None if reply.notice.is_some() => login.set_error(s("")),
        None => {}
    }
    if let Some(tab) = reply.tab {
        d.set_tab(tab);
    }
    if let Some(c) = &reply.card {
        *state.card_panel.borrow_mut() = Some(c.clone());
    }
    for c in &reply.clear {
        match c {
            Clear::Pin => login.set_pin(s("")),
            Clear::CallNumber => w.global::<QueuePanel>().set_number(s("")),
            Clear::RequestForm => clear_request_form(w),
            Clear::Tendered => w.global::<FeesPage>().set_tendered(s("")),
            Clear::Reference => w.global::<FeesPage>().set_reference(s("")),
            Clear::Transfer => {
                d.set_transfer_open(false);
                d.set_transfer_reason(s(""));
                d.set_transfer_counter(s(""));
                d.set_transfer_front(false);
            }
            Clear::RefundForm => {
                let r = w.global::<RefundsPage>();
                r.set_amount(s(""));
                r.set_reason(s(""));
            }
            Clear::AppointmentReason => {
                w.global::<RequestForm>().set_change_reason(s(""));
            }
            Clear::DeviceId => w.global::<DevicesPage>().set_device_id(s("")),
            Clear::FollowUpForm => {
                let f = w.global::<FollowUpPage>();
                f.set_selected(-1);
                f.set_reached(false);
                f.set_score(0);
                f.set_note(s(""));
                state.reasons.borrow_mut().fill(false);
            }
        }
    }
    if reply.logged_out {
        d.set_tab(0);
        d.set_transfer_open(false);
        // Logged out or the session ended: the form typed for a customer goes too.
        clear_request_form(w);
    }
    if reply.card.is_some() {
        let view = state.view.borrow().clone();
        fill_fees(w, &view, state, state.zone());
    }
}

/// Empties the new-request form, the customer's name, phone and address and the
/// read-back summary included (GB/T 5.4: nothing is left for the next person).
fn clear_request_form(w: &CounterWindow) {
    let f = w.global::<RequestForm>();
    for set in [
        RequestForm::set_product,
        RequestForm::set_model,
        RequestForm::set_serial,
        RequestForm::set_purchase_date,
        RequestForm::set_problem,
        RequestForm::set_details,
        RequestForm::set_name,
        RequestForm::set_phone,
        RequestForm::set_address,
    ] {
        set(&f, s(""));
    }
    f.set_consent(false);
    f.set_fee_list_shown(false);
    f.set_confirmed(false);
    f.set_summary_shown(false);
    f.set_for_ticket(false);
    f.set_summary(model(Vec::new()));
}

/// A message from the adapter itself (input that cannot be sent as typed).
fn local_notice(w: &CounterWindow, level: Level, text: &str) {
    let d = w.global::<DeskPage>();
    d.set_notice_level(level as i32);
    d.set_notice(s(text));
}

// ---------------------------------------------------------------- callbacks → commands

fn opt(text: SharedString) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The new-request form as a draft, or why it cannot be one.
fn request_draft(w: &CounterWindow, state: &UiState) -> Result<RequestDraft, String> {
    let lang = state.lang();
    let f = w.global::<RequestForm>();
    let view = state.view.borrow();
    let services = catalogue_services(view.catalogue.as_deref());
    let service = services
        .get(f.get_service().max(0) as usize)
        .copied()
        .ok_or_else(|| lang.pick("请选择服务", "pick a service").to_owned())?;
    let channel = Channel::ALL
        .get(f.get_channel().max(0) as usize)
        .copied()
        .unwrap_or_default();
    let purchase_date = match opt(f.get_purchase_date()) {
        None => None,
        Some(d) => Some(d.parse().map_err(|_| {
            lang.pick(
                "购买日期请写成 YYYY-MM-DD",
                "write the purchase date as YYYY-MM-DD",
            )
            .to_owned()
        })?),
    };
    let contact = match opt(f.get_phone()) {
        None => None,
        Some(phone) => {
            if !f.get_consent() {
                return Err(lang
                    .pick(
                        "留电话需要客户同意（GB/T 5.4），否则请不要填写电话",
                        "a phone number needs the customer's consent (GB/T 5.4): tick it or leave the phone empty",
                    )
                    .to_owned());
            }
            Some(Contact {
                name: opt(f.get_name()),
                phone,
                address: opt(f.get_address()),
                consent: ContactConsent {
                    service_updates: true,
                    queue_sms: false,
                },
                lang: None,
            })
        }
    };
    Ok(RequestDraft {
        service,
        channel,
        intake: Intake {
            category: None,
            product: opt(f.get_product()),
            model: opt(f.get_model()),
            serial_number: opt(f.get_serial()),
            purchase_date,
            problem: opt(f.get_problem()),
            problem_code: None,
            details: opt(f.get_details()),
        },
        contact,
        confirmed_by_customer: f.get_confirmed(),
        fee_list_shown: f.get_fee_list_shown(),
        for_ticket: f.get_for_ticket() && view.ticket.is_some(),
    })
}

/// Connects every callback of every page to `bridge`.
pub fn install(w: &CounterWindow, bridge: Rc<dyn Bridge>, state: Rc<UiState>) {
    let weak = w.as_weak();
    let d = w.global::<DeskPage>();
    macro_rules! on {
        ($global:expr, $setter:ident, $cmd:expr) => {{
            let b = bridge.clone();
            $global.$setter(move || b.send($cmd));
        }};
    }
    on!(d, on_call_next, Command::CallNext);
    on!(d, on_recall, Command::Recall);
    on!(d, on_start, Command::Start);
    on!(d, on_finish, Command::Finish);
    on!(d, on_no_show, Command::NoShow);
    on!(d, on_hold, Command::Hold);
    on!(d, on_reprint, Command::Reprint);
    on!(d, on_lock, Command::Lock);
    on!(d, on_logout, Command::Logout);
    {
        let b = bridge.clone();
        d.on_resume(move |id| b.send(Command::Resume((id >= 0).then_some(i64::from(id)))));
    }
    {
        let b = bridge.clone();
        d.on_call_ticket(move |id| b.send(Command::Call(i64::from(id))));
    }
    {
        let b = bridge.clone();
        d.on_call_number(move |n| b.send(Command::CallNumber(n.to_string())));
    }
    {
        let st = state.clone();
        d.on_activity(move || st.touch());
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        d.on_select_tab(move |tab| {
            let Some(w) = weak.upgrade() else { return };
            st.touch();
            w.global::<DeskPage>().set_tab(tab);
            w.invoke_refocus();
            match tab {
                3 => b.send(Command::LoadRefunds),
                4 => b.send(Command::LoadFollowUps),
                6 => b.send(Command::LoadDevices),
                _ => {}
            }
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        d.on_transfer(move || {
            let Some(w) = weak.upgrade() else { return };
            let d = w.global::<DeskPage>();
            let lang = st.lang();
            let services = catalogue_services(st.view.borrow().catalogue.as_deref());
            let Some(service) = services
                .get(d.get_transfer_service().max(0) as usize)
                .copied()
            else {
                return;
            };
            let counter = match opt(d.get_transfer_counter()) {
                None => None,
                Some(c) => match c.parse::<u32>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        local_notice(
                            &w,
                            Level::Error,
                            lang.pick("窗口号请填数字", "the counter is a number"),
                        );
                        return;
                    }
                },
            };
            b.send(Command::Transfer(Transfer {
                service,
                counter,
                to_front: d.get_transfer_front(),
                reason: d.get_transfer_reason().to_string(),
            }));
        });
    }

    // Log in, unlock, language.
    let login = w.global::<LoginPage>();
    {
        let (b, weak) = (bridge.clone(), weak.clone());
        login.on_login(move || {
            let Some(w) = weak.upgrade() else { return };
            let l = w.global::<LoginPage>();
            b.send(Command::Login {
                staff_id: l.get_staff_id().to_string(),
                pin: l.get_pin().to_string(),
            });
        });
    }
    {
        let (b, weak) = (bridge.clone(), weak.clone());
        login.on_unlock(move || {
            let Some(w) = weak.upgrade() else { return };
            b.send(Command::Unlock {
                pin: w.global::<LoginPage>().get_pin().to_string(),
            });
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        login.on_switch_language(move || {
            let Some(w) = weak.upgrade() else { return };
            let lang = st.lang().other();
            if let Err(e) = slint::select_bundled_translation(lang.slint_locale()) {
                tracing::warn!("counter: no {lang} translation: {e}");
            }
            st.lang.set(lang);
            // The last notice was in the other language.
            local_notice(&w, Level::Done, "");
            w.global::<DeskPage>().set_notice_level(0);
            let view = st.view.borrow().clone();
            fill_names(&w, &view, lang);
            fill(&w, &view, &st);
            let q = st.queue.borrow().clone();
            fill_queue(&w, &q, &st);
            b.send(Command::SetLang(lang));
        });
    }

    // Serve.
    let serve = w.global::<ServePage>();
    on!(serve, on_reveal, Command::RevealContact);
    on!(serve, on_stop_texts, Command::StopTexts);
    on!(serve, on_hide, Command::HideContact);
    on!(serve, on_advance, Command::Advance);
    {
        let (b, weak) = (bridge.clone(), weak.clone());
        serve.on_search(move || {
            let Some(w) = weak.upgrade() else { return };
            b.send(Command::Search(
                w.global::<ServePage>().get_query().to_string(),
            ));
        });
    }

    // New request.
    let form = w.global::<RequestForm>();
    {
        let (st, weak) = (state.clone(), weak.clone());
        form.on_service_changed(move || {
            let Some(w) = weak.upgrade() else { return };
            fill_form_service(&w, &st.view.borrow(), st.lang());
        });
    }
    {
        let (st, weak) = (state.clone(), weak.clone());
        form.on_read_back(move || {
            let Some(w) = weak.upgrade() else { return };
            match request_draft(&w, &st) {
                Ok(dr) => {
                    let lang = st.lang();
                    let cat = st.view.borrow().catalogue.clone();
                    let service = service_label(cat.as_deref(), dr.service, lang);
                    let f = w.global::<RequestForm>();
                    let (name, phone, address) = (
                        f.get_name().to_string(),
                        f.get_phone().to_string(),
                        f.get_address().to_string(),
                    );
                    let contact = dr
                        .contact
                        .as_ref()
                        .map(|_| (name.as_str(), phone.as_str(), address.as_str()));
                    f.set_summary(model(summary_rows(
                        &service, dr.channel, &dr.intake, contact, lang,
                    )));
                    f.set_summary_shown(true);
                    f.set_confirmed(false);
                }
                Err(why) => local_notice(&w, Level::Error, &why),
            }
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        form.on_save(move || {
            let Some(w) = weak.upgrade() else { return };
            match request_draft(&w, &st) {
                Ok(dr) => b.send(Command::CreateRequest(dr)),
                Err(why) => local_notice(&w, Level::Error, &why),
            }
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        form.on_find_slots(move || {
            let Some(w) = weak.upgrade() else { return };
            let f = w.global::<RequestForm>();
            let services = catalogue_services(st.view.borrow().catalogue.as_deref());
            let Some(service) = services.get(f.get_service().max(0) as usize).copied() else {
                return;
            };
            match f.get_slot_date().trim().parse::<chrono::NaiveDate>() {
                Ok(date) => b.send(Command::FindSlots { service, date }),
                Err(_) => local_notice(
                    &w,
                    Level::Error,
                    st.lang()
                        .pick("日期请写成 YYYY-MM-DD", "write the date as YYYY-MM-DD"),
                ),
            }
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        form.on_book(move || {
            let Some(w) = weak.upgrade() else { return };
            let dr = match request_draft(&w, &st) {
                Ok(dr) => dr,
                Err(why) => return local_notice(&w, Level::Error, &why),
            };
            let i = w.global::<RequestForm>().get_slot().max(0) as usize;
            let Some(slot_start) = st.view.borrow().slots.get(i).map(|s| s.start) else {
                return;
            };
            b.send(Command::Book(CreateAppointment {
                service: dr.service,
                slot_start,
                channel: dr.channel,
                intake: dr.intake,
                contact: dr.contact,
            }));
        });
    }

    {
        let (b, weak) = (bridge.clone(), weak.clone());
        form.on_lookup(move || {
            let Some(w) = weak.upgrade() else { return };
            let code = w
                .global::<RequestForm>()
                .get_lookup_code()
                .trim()
                .to_owned();
            if !code.is_empty() {
                b.send(Command::LookupAppointment(code));
            }
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        form.on_reschedule(move || {
            let Some(w) = weak.upgrade() else { return };
            let f = w.global::<RequestForm>();
            let i = f.get_slot().max(0) as usize;
            let view = st.view.borrow();
            let (Some(a), Some(slot)) = (view.appointment.as_ref(), view.slots.get(i)) else {
                return;
            };
            let reason = f.get_change_reason().trim().to_owned();
            b.send(Command::Reschedule {
                code: a.code.clone(),
                slot_start: slot.start,
                reason: (!reason.is_empty()).then_some(reason),
            });
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        form.on_cancel_appointment(move || {
            let Some(w) = weak.upgrade() else { return };
            let f = w.global::<RequestForm>();
            let Some(code) = st
                .view
                .borrow()
                .appointment
                .as_ref()
                .map(|a| a.code.clone())
            else {
                return;
            };
            let reason = f.get_change_reason().trim().to_owned();
            b.send(Command::CancelAppointment {
                code,
                reason: (!reason.is_empty()).then_some(reason),
            });
        });
    }

    // Fees and payment.
    let fees = w.global::<FeesPage>();
    {
        let b = bridge.clone();
        fees.on_add(move |code| b.send(Command::AddItem(code.to_string())));
    }
    {
        let b = bridge.clone();
        fees.on_remove(move |code| b.send(Command::RemoveItem(code.to_string())));
    }
    on!(fees, on_issue, Command::IssueQuote);
    on!(fees, on_acknowledge, Command::AcknowledgeQuote);
    on!(fees, on_pay_card, Command::PayCard);
    on!(fees, on_card_check, Command::CheckCard);
    {
        let b = bridge.clone();
        fees.on_card_resolve(move |charged| b.send(Command::ResolveCard { charged }));
    }
    {
        let b = bridge.clone();
        fees.on_print_receipt(move |id| b.send(Command::PrintReceipt(i64::from(id))));
    }
    {
        let (st, weak) = (state.clone(), weak.clone());
        fees.on_tendered_edited(move || {
            let Some(w) = weak.upgrade() else { return };
            let f = w.global::<FeesPage>();
            let due = st.view.borrow().amount_due;
            f.set_change(s(command::change_text(due, &f.get_tendered(), st.lang())));
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        fees.on_pay_cash(move || {
            let Some(w) = weak.upgrade() else { return };
            match text::parse_yuan(&w.global::<FeesPage>().get_tendered()) {
                Some(tendered) => b.send(Command::Pay(OtherPayment::Cash { tendered })),
                None => local_notice(
                    &w,
                    Level::Error,
                    st.lang().pick(
                        "请输入收到的现金金额，如 100 或 100.50",
                        "enter the cash received, e.g. 100 or 100.50",
                    ),
                ),
            }
        });
    }
    {
        let (b, weak) = (bridge.clone(), weak.clone());
        fees.on_pay_online(move || {
            let Some(w) = weak.upgrade() else { return };
            b.send(Command::Pay(OtherPayment::Online {
                reference: w.global::<FeesPage>().get_reference().to_string(),
            }));
        });
    }
    {
        let (b, weak) = (bridge.clone(), weak.clone());
        fees.on_pay_cheque(move || {
            let Some(w) = weak.upgrade() else { return };
            b.send(Command::Pay(OtherPayment::Cheque {
                number: w.global::<FeesPage>().get_reference().to_string(),
            }));
        });
    }

    // Agreement.
    let agreement = w.global::<AgreementPage>();
    {
        let (b, weak) = (bridge.clone(), weak.clone());
        agreement.on_save(move || {
            let Some(w) = weak.upgrade() else { return };
            let a = w.global::<AgreementPage>();
            b.send(Command::SaveAgreement(DraftAgreement {
                content: a.get_content().trim().to_owned(),
                time: a.get_time().trim().to_owned(),
                place: a.get_place().trim().to_owned(),
                technician: a.get_technician().trim().to_owned(),
                change_procedure: opt(a.get_change_procedure()),
            }));
        });
    }
    {
        let b = bridge.clone();
        agreement.on_print(move |v| b.send(Command::PrintAgreement(v.max(0) as u32)));
    }
    {
        let b = bridge.clone();
        agreement.on_show(move |v| b.send(Command::PreviewAgreement(v.max(0) as u32)));
    }

    // Refunds.
    let refunds = w.global::<RefundsPage>();
    on!(refunds, on_refresh, Command::LoadRefunds);
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        refunds.on_open_request(move || {
            let Some(w) = weak.upgrade() else { return };
            match documents::parse_request_no(&w.global::<RefundsPage>().get_request()) {
                Some(id) => b.send(Command::OpenRequest(id)),
                None => local_notice(
                    &w,
                    Level::Error,
                    st.lang().pick(
                        "请输入服务单号，如 R20261201-0012",
                        "enter a request number, e.g. R20261201-0012",
                    ),
                ),
            }
        });
    }
    {
        let b = bridge.clone();
        refunds.on_pay_out(move |id| b.send(Command::PayOutRefund(i64::from(id))));
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        refunds.on_record(move || {
            let Some(w) = weak.upgrade() else { return };
            let r = w.global::<RefundsPage>();
            let lang = st.lang();
            let payment = st.view.borrow().request.as_ref().and_then(|rq| {
                rq.payments
                    .get(r.get_payment().max(0) as usize)
                    .map(|p| p.id)
            });
            let Some(payment_id) = payment else {
                return local_notice(
                    &w,
                    Level::Error,
                    lang.pick("请选择要退的款项", "pick the payment to refund"),
                );
            };
            let Some(amount) = text::parse_yuan(&r.get_amount()) else {
                return local_notice(
                    &w,
                    Level::Error,
                    lang.pick("请输入退款金额", "enter the amount to refund"),
                );
            };
            let method = text::METHODS
                .get(r.get_method().max(0) as usize)
                .copied()
                .unwrap_or(protocol::PaymentMethod::Cash);
            b.send(Command::Refund(RefundDraft {
                payment_id,
                amount,
                method,
                reason: r.get_reason().to_string(),
            }));
        });
    }

    // Devices (GB/T 5.4).
    let devices = w.global::<DevicesPage>();
    on!(devices, on_refresh, Command::LoadDevices);
    on!(devices, on_close_pairing, Command::ClosePairing);
    on!(devices, on_confirm_revoke, Command::ConfirmRevoke);
    on!(devices, on_cancel_revoke, Command::CancelRevoke);
    {
        let b = bridge.clone();
        devices.on_revoke(move |id| b.send(Command::AskRevoke(id.to_string())));
    }
    {
        let (b, weak) = (bridge.clone(), weak.clone());
        devices.on_pair(move || {
            let Some(w) = weak.upgrade() else { return };
            let page = w.global::<DevicesPage>();
            let role = DeviceRole::ALL
                .get(page.get_role().max(0) as usize)
                .copied()
                .unwrap_or(DeviceRole::Kiosk);
            b.send(Command::PairDevice {
                role,
                device_id: page.get_device_id().to_string(),
            });
        });
    }

    // Follow-up.
    let follow = w.global::<FollowUpPage>();
    on!(follow, on_refresh, Command::LoadFollowUps);
    {
        let (st, weak) = (state.clone(), weak.clone());
        follow.on_select(move |i| {
            let Some(w) = weak.upgrade() else { return };
            let f = w.global::<FollowUpPage>();
            f.set_selected(i);
            f.set_reached(false);
            f.set_score(0);
            f.set_note(s(""));
            st.reasons.borrow_mut().fill(false);
            let view = st.view.borrow().clone();
            fill_aftercare(&w, &view, &st, st.zone());
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        follow.on_reveal(move || {
            let Some(w) = weak.upgrade() else { return };
            let i = w.global::<FollowUpPage>().get_selected();
            let id = usize::try_from(i)
                .ok()
                .and_then(|i| st.view.borrow().follow_ups.get(i).map(|f| f.request.id));
            if let Some(id) = id {
                b.send(Command::RevealFollowUp(id));
            }
        });
    }
    {
        let st = state.clone();
        let weak = weak.clone();
        follow.on_toggle_reason(move |i, on| {
            if let Ok(i) = usize::try_from(i)
                && let Some(r) = st.reasons.borrow_mut().get_mut(i)
            {
                *r = on;
            }
            if let Some(w) = weak.upgrade() {
                fill_reasons(&w, &st);
            }
        });
    }
    {
        let (b, st, weak) = (bridge.clone(), state.clone(), weak.clone());
        follow.on_record(move || {
            let Some(w) = weak.upgrade() else { return };
            let f = w.global::<FollowUpPage>();
            let id = usize::try_from(f.get_selected())
                .ok()
                .and_then(|i| st.view.borrow().follow_ups.get(i).map(|x| x.request.id));
            let Some(request_id) = id else {
                return local_notice(
                    &w,
                    Level::Error,
                    st.lang().pick(
                        "请先选择要回访的服务单",
                        "pick the request you called about",
                    ),
                );
            };
            let reached = f.get_reached();
            let reasons = if reached {
                RatingReason::ALL
                    .iter()
                    .zip(st.reasons.borrow().iter())
                    .filter(|(_, on)| **on)
                    .map(|(r, _)| *r)
                    .collect()
            } else {
                Vec::new()
            };
            b.send(Command::RecordFollowUp {
                request_id,
                call: RecordFollowUp {
                    reached,
                    note: f.get_note().trim().to_owned(),
                    score: (reached && f.get_score() > 0).then(|| f.get_score().clamp(1, 5) as u8),
                    reasons,
                },
            });
        });
    }
}

/// After a command: the snapshot, the outcome, and the keyboard back on the function keys.
pub fn show(w: &CounterWindow, view: &DeskView, reply: &Reply, state: &UiState, refocus: bool) {
    let first = state.view.borrow().catalogue.is_none() && view.catalogue.is_some();
    fill(w, view, state);
    if first {
        fill_names(w, view, state.lang());
    }
    apply(w, reply, state);
    if refocus && view.staff.is_some() {
        w.invoke_refocus();
    }
}

// ---------------------------------------------------------------- bridges

/// The station's bridge: commands go to the desk task on the network runtime.
pub struct AsyncBridge {
    tx: tokio::sync::mpsc::UnboundedSender<Command>,
    window: Weak<CounterWindow>,
    state: Rc<UiState>,
}

impl std::fmt::Debug for AsyncBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncBridge").finish_non_exhaustive()
    }
}

impl AsyncBridge {
    pub fn new(
        tx: tokio::sync::mpsc::UnboundedSender<Command>,
        window: Weak<CounterWindow>,
        state: Rc<UiState>,
    ) -> AsyncBridge {
        AsyncBridge { tx, window, state }
    }
}

impl Bridge for AsyncBridge {
    fn send(&self, cmd: Command) {
        if cmd != Command::Tick {
            self.state.touch();
            if let Some(w) = self.window.upgrade() {
                let d = w.global::<DeskPage>();
                d.set_busy(true);
                d.set_busy_text(s(cmd.busy_text(self.state.lang())));
            }
        }
        if self.tx.send(cmd).is_err() {
            tracing::warn!("counter: the desk task has stopped");
        }
    }
}

/// Runs each command to completion inside the callback: for UI tests and headless
/// screenshots, where there is no event loop to come back to.
pub struct BlockingBridge {
    desk: RefCell<Desk>,
    rt: tokio::runtime::Handle,
    window: Weak<CounterWindow>,
    state: Rc<UiState>,
}

impl std::fmt::Debug for BlockingBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingBridge")
            .field("desk", &self.desk)
            .finish_non_exhaustive()
    }
}

impl BlockingBridge {
    pub fn new(
        desk: Desk,
        rt: tokio::runtime::Handle,
        window: Weak<CounterWindow>,
        state: Rc<UiState>,
    ) -> Rc<BlockingBridge> {
        Rc::new(BlockingBridge {
            desk: RefCell::new(desk),
            rt,
            window,
            state,
        })
    }

    /// The desk, for a test to look at (not while a command runs).
    pub fn desk(&self) -> RefMut<'_, Desk> {
        self.desk.borrow_mut()
    }

    /// Refreshes the queue panel now (the station does this every few seconds).
    pub fn refresh_queue(&self) {
        let Some(w) = self.window.upgrade() else {
            return;
        };
        let desk = self.desk.borrow();
        if desk.session().is_none() {
            return;
        }
        match self.rt.block_on(desk.queue()) {
            Ok(q) => {
                fill_queue(&w, &q, &self.state);
                set_hub_ok(&w, true);
            }
            Err(e) => {
                tracing::info!("counter: queue not refreshed: {e}");
                if e.is_unreachable() {
                    set_hub_ok(&w, false);
                }
            }
        }
    }
}

impl Bridge for BlockingBridge {
    fn send(&self, cmd: Command) {
        self.state.touch();
        let refocus = cmd.refocus();
        let (reply, view) = {
            let mut desk = self.desk.borrow_mut();
            let reply = self.rt.block_on(command::handle(&mut desk, cmd));
            (reply, desk.view())
        };
        if let Some(w) = self.window.upgrade() {
            show(&w, &view, &reply, &self.state, refocus);
            w.global::<DeskPage>().set_busy(false);
        }
        self.refresh_queue();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff() -> protocol::SessionView {
        protocol::SessionView {
            token: "t".into(),
            staff_id: "tech".into(),
            name: "李师傅".into(),
            role: domain::Role::Staff,
            counter: Some(2),
            services: vec![ServiceType::Repair],
            expires_at: Utc::now(),
        }
    }

    fn idle_for(st: &UiState, secs: u64) {
        let now = Instant::now();
        st.last_activity
            .set(now.checked_sub(Duration::from_secs(secs)).unwrap_or(now));
    }

    #[test]
    fn the_screen_locks_after_the_inactivity_limit_only_when_logged_in() {
        let st = UiState::new(Lang::En, 5);
        idle_for(&st, 301);
        assert!(!st.idle_too_long(), "nobody is logged in");
        st.view.borrow_mut().staff = Some(staff());
        assert!(st.idle_too_long());
        st.touch();
        assert!(!st.idle_too_long());
        idle_for(&st, 299);
        assert!(!st.idle_too_long());
        idle_for(&st, 301);
        st.view.borrow_mut().locked = true;
        assert!(!st.idle_too_long(), "already locked");

        let never = UiState::new(Lang::En, 0);
        never.view.borrow_mut().staff = Some(staff());
        idle_for(&never, 100_000);
        assert!(!never.idle_too_long(), "0 minutes: never locks");
    }

    #[test]
    fn the_preview_keeps_the_ink_when_scaled_down() {
        // 576 dots across, 3 rows: the left half black.
        let width = 576u32;
        let mut pixels = vec![0u8; (width / 8 * 3) as usize];
        for row in 0..3usize {
            for byte in 0..36usize {
                pixels[row * 72 + byte] = 0xFF;
            }
        }
        let r = Rendered {
            width,
            height: 3,
            pixels,
            cuts: vec![],
            text_lines: vec![],
            line_rows: vec![],
            qr_payloads: vec![],
            warnings: vec![],
        };
        let img = preview_image(&r, PREVIEW_WIDTH);
        assert_eq!((img.size().width, img.size().height), (384, 2));
        let buf = img.to_rgb8().unwrap();
        let px = |x: usize| buf.as_slice()[x].r;
        assert_eq!(px(0), 0, "black stays black");
        assert_eq!(px(383), 255, "white stays white");
        assert_eq!(px(191), 0);
        assert_eq!(px(192), 255);
    }

    #[test]
    fn the_read_back_summary_lists_what_the_customer_said() {
        let intake = Intake {
            product: Some("洗衣机".into()),
            problem: Some("噪音大".into()),
            ..Intake::default()
        };
        let rows = summary_rows(
            "维修",
            Channel::Phone,
            &intake,
            Some(("刘洋", "13700001111", "")),
            Lang::ZhCn,
        );
        let text: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.label.to_string(), r.value.to_string()))
            .collect();
        assert!(text.contains(&("渠道".into(), "电话".into())));
        assert!(text.contains(&("产品".into(), "洗衣机".into())));
        assert!(text.contains(&("型号".into(), "—".into())));
        assert!(text.contains(&("联系方式".into(), "刘洋  13700001111".into())));
    }
}
