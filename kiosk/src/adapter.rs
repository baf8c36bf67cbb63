//! Shows the [`KioskModel`] in the Slint page globals and turns the globals' callbacks
//! into [`Input`]s (conventions habit 9): the only place that knows both the model and
//! the UI. Texts that come from the hub (names, fees, questions) are picked in the
//! customer's language here; every sentence of the kiosk's own is `@tr()` in the UI,
//! chosen by the codes set here.
//!
//! It holds no state of the customer's own and never talks to the hub.

use std::rc::Rc;

use chrono::{DateTime, Utc};
use domain::{PriorityClass, ServiceType};
use protocol::{Catalogue, RatingReason, TicketView};
use slint::{
    ComponentHandle, Image, ModelRc, Rgb8Pixel, SharedPixelBuffer, SharedString, VecModel,
};
use ui::Lang;

use crate::model::{
    Consent, Field, HubState, Input, KeyMode, KioskModel, Origin, PrintState, Screen,
};
use crate::slint_ui::{
    CheckInPage, ChipView, Entry, FaqRow, FeeRow, FeedbackPage, FeesPage, FieldView, HomePage,
    InfoPage, InfoService, IntakePage, KioskWindow, KnowledgePage, Palette, ServiceTile, Shell,
    SummaryPage, SummaryRow, TicketPage,
};

/// The code the UI knows a field by.
pub fn field_code(f: Field) -> &'static str {
    match f {
        Field::Model => "model",
        Field::Serial => "serial",
        Field::PurchaseDate => "purchase-date",
        Field::Details => "details",
        Field::Phone => "phone",
        Field::Code => "code",
        Field::TicketNo => "ticket-no",
    }
}

fn field_of(code: &str) -> Option<Field> {
    Field::ALL.into_iter().find(|f| field_code(*f) == code)
}

fn screen_of(code: &str) -> Option<Screen> {
    Screen::ALL.into_iter().find(|s| s.code() == code)
}

fn service_of(code: &str) -> Option<ServiceType> {
    code.parse().ok()
}

fn reason_code(r: RatingReason) -> &'static str {
    match r {
        RatingReason::ShortWait => "short_wait",
        RatingReason::Friendly => "friendly",
        RatingReason::Professional => "professional",
        RatingReason::Resolved => "resolved",
        RatingReason::LongWait => "long_wait",
        RatingReason::Unfriendly => "unfriendly",
        RatingReason::NotResolved => "not_resolved",
        RatingReason::FeesUnclear => "fees_unclear",
        RatingReason::Environment => "environment",
    }
}

fn model_of<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

fn s(v: impl AsRef<str>) -> SharedString {
    SharedString::from(v.as_ref())
}

/// A QR code as a picture: black modules on white, with the quiet zone.
pub fn qr_image(data: &str) -> Option<Image> {
    let code = qrcode::QrCode::new(data.as_bytes()).ok()?;
    let modules = code.width();
    let quiet = 4;
    let scale = 8;
    let side = (modules + 2 * quiet) * scale;
    let colors = code.to_colors();
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(side as u32, side as u32);
    let pixels = buf.make_mut_slice();
    for (i, p) in pixels.iter_mut().enumerate() {
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

/// What the adapter remembers between fills, to avoid redoing costly work.
#[derive(Default)]
pub struct UiCache {
    /// The link whose QR is shown, and its picture.
    qr: Option<(String, Image)>,
    lang: Option<Lang>,
    focus: Option<Field>,
}

impl std::fmt::Debug for UiCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiCache")
            .field("qr", &self.qr.as_ref().map(|q| &q.0))
            .field("lang", &self.lang)
            .finish()
    }
}

fn local_time(t: DateTime<Utc>, m: &KioskModel, fmt: &str) -> String {
    t.with_timezone(&m.utc_offset()).format(fmt).to_string()
}

/// Makes a ticket's QR link (its public status page, GB/T 4.1.3) from the catalogue.
pub type StatusUrl<'a> = &'a dyn Fn(&Catalogue, &TicketView) -> String;

/// Sets every page global from the model. `status_url` makes a ticket's QR link.
pub fn fill(w: &KioskWindow, m: &KioskModel, cache: &mut UiCache, status_url: StatusUrl<'_>) {
    let lang = m.lang;
    if cache.lang != Some(lang) {
        if let Err(e) = slint::select_bundled_translation(lang.slint_locale()) {
            tracing::warn!("kiosk: no {} translation: {e}", lang.slint_locale());
        }
        cache.lang = Some(lang);
    }
    fill_shell(w, m);
    fill_entry(w, m, cache);
    fill_home(w, m);
    fill_ticket(w, m, cache, status_url);
    fill_info(w, m);
    fill_knowledge(w, m);
    fill_intake(w, m);
    fill_feedback(w, m);
}

fn fill_shell(w: &KioskWindow, m: &KioskModel) {
    let lang = m.lang;
    let shell = w.global::<Shell>();
    shell.set_screen(s(m.screen.code()));
    shell.set_lang(s(lang.tag()));
    shell.set_centre_name(s(m
        .catalogue
        .as_ref()
        .map(|c| lang.pick(&c.centre.name_zh, &c.centre.name_en))
        .unwrap_or_default()));
    shell.set_hub(match m.hub {
        HubState::Connecting => 0,
        HubState::Live => 1,
        HubState::Offline => 2,
    });
    shell.set_notice(s(m.notice.as_ref().map(|n| n.code()).unwrap_or_default()));
    shell.set_notice_detail(s(m.notice.as_ref().map(|n| n.detail()).unwrap_or_default()));
    shell.set_idle_warning(m.idle_warning().map_or(0, |n| n as i32));
    shell.set_busy(m.busy.is_some());
    shell.set_feedback_terminal(m.config().feedback_counter.is_some());
    let palette = w.global::<Palette>();
    palette.set_high_contrast(m.high_contrast);
    palette.set_large_text(m.large_text);
}

fn fill_entry(w: &KioskWindow, m: &KioskModel, cache: &mut UiCache) {
    let e = w.global::<Entry>();
    e.set_focus(s(m.focus.map(field_code).unwrap_or_default()));
    e.set_mode(s(m.key_mode.code()));
    let next = m.focus.and_then(|f| {
        let modes = f.modes();
        if modes.len() < 2 {
            return None;
        }
        let i = modes.iter().position(|x| *x == m.key_mode).unwrap_or(0);
        Some(modes[(i + 1) % modes.len()])
    });
    e.set_next_mode(s(next.map(KeyMode::code).unwrap_or_default()));
    if cache.focus != m.focus {
        // Codes and serial numbers are upper case; free text starts lower case.
        e.set_upper(m.focus != Some(Field::Details));
        cache.focus = m.focus;
    }
    e.set_composing(s(m.composer.buffer()));
    // The last line of what is being typed, with the caret (long text shows its end).
    let preview = m
        .focus
        .map(|f| {
            let t = m.shown_text(f);
            let last: String = t
                .lines()
                .last()
                .unwrap_or_default()
                .chars()
                .rev()
                .take(40)
                .collect();
            format!("{}｜", last.chars().rev().collect::<String>())
        })
        .unwrap_or_default();
    e.set_preview(s(preview));
    let page: Vec<SharedString> = m.composer.page().iter().map(|c| s(&c.text)).collect();
    e.set_candidates(model_of(page));
    e.set_has_prev(m.composer.has_prev_page());
    e.set_has_next(m.composer.has_next_page());
}

fn fill_home(w: &KioskWindow, m: &KioskModel) {
    let lang = m.lang;
    let home = w.global::<HomePage>();
    let tiles: Vec<ServiceTile> = m
        .catalogue
        .iter()
        .flat_map(|c| c.services.iter())
        .map(|c| {
            let (waiting, wait) = m.waiting(c.service).unwrap_or((0, 0));
            ServiceTile {
                code: s(c.service.code()),
                name: s(lang.pick(&c.name_zh, &c.name_en)),
                description: s(lang.pick(&c.description_zh, &c.description_en)),
                prefix: s(c.prefix.to_string()),
                waiting: waiting as i32,
                wait_minutes: wait.div_ceil(60) as i32,
                paid: c.paid,
                intake: c.service != ServiceType::Consultation,
            }
        })
        .collect();
    home.set_services(model_of(tiles));
    home.set_priority(m.priority);
    home.set_can_issue(m.can_issue());
}

fn fill_ticket(w: &KioskWindow, m: &KioskModel, cache: &mut UiCache, status_url: StatusUrl<'_>) {
    let page = w.global::<TicketPage>();
    let Some(t) = &m.ticket else {
        page.set_number(s(""));
        cache.qr = None;
        page.set_qr(Image::default());
        return;
    };
    let v = &t.issued.ticket;
    page.set_number(s(&v.number));
    page.set_service(s(m
        .catalogue_service(v.service)
        .map(|c| m.lang.pick(&c.name_zh, &c.name_en))
        .unwrap_or_else(|| {
            m.lang.pick(v.service.name_zh(), v.service.name_en())
        })));
    page.set_people_ahead(t.issued.people_ahead as i32);
    page.set_wait_minutes(t.issued.estimated_wait_secs.div_ceil(60) as i32);
    // No catalogue, no centre id: no link rather than a wrong one.
    let url = m.catalogue.as_ref().map(|c| status_url(c, v));
    if cache.qr.as_ref().map(|q| &q.0) != url.as_ref() {
        cache.qr = url.map(|u| {
            let img = qr_image(&u).unwrap_or_default();
            (u, img)
        });
    }
    page.set_qr(cache.qr.as_ref().map(|q| q.1.clone()).unwrap_or_default());
    page.set_print(s(match &t.print {
        PrintState::Printing => "printing",
        PrintState::Printed => "printed",
        PrintState::NoPrinter => "no-printer",
        PrintState::Failed {
            paper_out: true, ..
        } => "paper-out",
        PrintState::Failed { .. } => "failed",
    }));
    page.set_origin(s(match t.origin {
        Origin::Tap => "tap",
        Origin::Button => "button",
        Origin::CheckIn => "check-in",
    }));
    page.set_class(s(match v.class {
        PriorityClass::Normal => "normal",
        PriorityClass::Priority => "priority",
        PriorityClass::Appointment => "appointment",
    }));
    page.set_issued_at(s(local_time(v.issued_at, m, "%H:%M")));
    page.set_slot(s(t
        .appointment
        .as_ref()
        .map(|a| local_time(a.appointment.slot_start, m, "%Y-%m-%d %H:%M"))
        .unwrap_or_default()));
    page.set_request_no(s(t
        .request
        .as_ref()
        .map(|r| r.number(m.utc_offset()))
        .unwrap_or_default()));
    page.set_reply_due(s(t
        .request
        .as_ref()
        .and_then(|r| r.reply_due)
        .map(|d| local_time(d, m, "%Y-%m-%d %H:%M"))
        .unwrap_or_default()));
}

fn fill_info(w: &KioskWindow, m: &KioskModel) {
    let lang = m.lang;
    let info = w.global::<InfoPage>();
    let Some(c) = &m.catalogue else {
        return;
    };
    info.set_centre_name(s(lang.pick(&c.centre.name_zh, &c.centre.name_en)));
    info.set_address(s(&c.centre.address));
    info.set_phone(s(&c.centre.phone));
    info.set_qualifications(model_of(c.centre.qualifications.iter().map(s).collect()));
    info.set_change_procedure(s(
        lang.pick(&c.centre.change_procedure_zh, &c.centre.change_procedure_en)
    ));
    let services = c
        .services
        .iter()
        .map(|x| InfoService {
            name: s(lang.pick(&x.name_zh, &x.name_en)),
            description: s(lang.pick(&x.description_zh, &x.description_en)),
            paid: x.paid,
            reply_hours: x.reply_within_minutes.div_ceil(60) as i32,
            resolve_hours: x.resolve_within_hours as i32,
            wait_minutes: x.wait_limit_minutes as i32,
            fees: model_of(
                x.fees
                    .iter()
                    .map(|f| FeeRow {
                        name: s(lang.pick(&f.name_zh, &f.name_en)),
                        price: s(f.unit_price.to_string()),
                    })
                    .collect(),
            ),
        })
        .collect();
    info.set_services(model_of(services));
}

fn fill_knowledge(w: &KioskWindow, m: &KioskModel) {
    let lang = m.lang;
    let k = w.global::<KnowledgePage>();
    let rows = m
        .faqs()
        .iter()
        .map(|f| FaqRow {
            question: s(lang.pick(&f.question_zh, &f.question_en)),
            answer: s(lang.pick(&f.answer_zh, &f.answer_en)),
            service: s(f.service.map(|x| x.code()).unwrap_or_default()),
        })
        .collect();
    k.set_faqs(model_of(rows));
    k.set_selected(m.faq.map_or(-1, |i| i as i32));
}

fn field_view(m: &KioskModel, f: Field) -> FieldView {
    FieldView {
        text: s(m.shown_text(f)),
        error: s(m.error(f).map(|e| e.code()).unwrap_or_default()),
        focused: m.focus == Some(f),
    }
}

fn fill_intake(w: &KioskWindow, m: &KioskModel) {
    let lang = m.lang;
    let service_name = m
        .intake_service()
        .map(|c| lang.pick(&c.name_zh, &c.name_en).to_owned())
        .unwrap_or_default();
    let p = w.global::<IntakePage>();
    p.set_service_name(s(&service_name));
    p.set_paid(m.intake_is_paid());
    p.set_categories(model_of(
        m.categories()
            .iter()
            .enumerate()
            .map(|(i, c)| ChipView {
                code: s(&c.code),
                label: s(lang.pick(&c.name_zh, &c.name_en)),
                selected: m.form.category == Some(i),
            })
            .collect(),
    ));
    p.set_problems(model_of(
        m.problems()
            .iter()
            .enumerate()
            .map(|(i, x)| ChipView {
                code: s(&x.code),
                label: s(lang.pick(&x.text_zh, &x.text_en)),
                selected: m.form.problem == Some(i),
            })
            .collect(),
    ));
    p.set_problem_error(s(m.problem_error().map(|e| e.code()).unwrap_or_default()));
    p.set_model(field_view(m, Field::Model));
    p.set_serial(field_view(m, Field::Serial));
    p.set_purchase_date(field_view(m, Field::PurchaseDate));
    let mut details = field_view(m, Field::Details);
    if m.problem_error().is_some() {
        // Said once, under the pick-list.
        details.error = s("");
    }
    p.set_details(details);
    let mut phone = field_view(m, Field::Phone);
    let consent_error = m
        .error(Field::Phone)
        .filter(|e| *e == crate::model::FieldError::ConsentMissing);
    if consent_error.is_some() {
        phone.error = s("");
    }
    p.set_phone(phone);
    p.set_consent_error(s(consent_error.map(|e| e.code()).unwrap_or_default()));
    p.set_consent_updates(m.form.consent.service_updates);
    p.set_consent_sms(m.form.consent.queue_sms);

    let fees = w.global::<FeesPage>();
    fees.set_service_name(s(&service_name));
    fees.set_fees(model_of(
        m.intake_service()
            .map(|c| {
                c.fees
                    .iter()
                    .map(|f| FeeRow {
                        name: s(lang.pick(&f.name_zh, &f.name_en)),
                        price: s(f.unit_price.to_string()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    ));
    fees.set_acknowledged(m.fees_acknowledged_current() && m.form.fees_acknowledged.is_some());

    let summary = w.global::<SummaryPage>();
    summary.set_service_name(s(&service_name));
    summary.set_rows(model_of(summary_rows(m, &service_name)));
}

/// GB/T 6.1.2: the key points, each with where to correct it.
fn summary_rows(m: &KioskModel, service_name: &str) -> Vec<SummaryRow> {
    let Some(intake) = m.intake() else {
        return Vec::new();
    };
    let row = |label: &str, value: &str, code: &str, edit: &str| SummaryRow {
        label: s(label),
        value: s(value),
        value_code: s(code),
        edit: s(edit),
    };
    let or_not_given = |v: &Option<String>, label: &str, edit: &str| match v {
        Some(v) => row(label, v, "", edit),
        None => row(label, "", "not-given", edit),
    };
    let i = &intake.intake;
    let mut rows = vec![row("service", service_name, "", "")];
    if intake.class == PriorityClass::Priority {
        rows.push(row("priority", "", "yes", ""));
    }
    rows.push(or_not_given(&i.product, "product", "product"));
    rows.push(or_not_given(&i.model, "model", "product"));
    rows.push(or_not_given(&i.serial_number, "serial", "product"));
    rows.push(or_not_given(
        &i.purchase_date.map(|d| d.format("%Y-%m-%d").to_string()),
        "purchase-date",
        "product",
    ));
    rows.push(or_not_given(&i.problem, "problem", "problem"));
    if i.details.is_some() {
        rows.push(or_not_given(&i.details, "details", "problem"));
    }
    match &intake.contact {
        Some(c) => {
            // GB/T 5.4.2: masked on screen too.
            rows.push(row(
                "phone",
                &domain::mask::mask_phone(&c.phone),
                "",
                "contact",
            ));
            let code = match (c.consent.service_updates, c.consent.queue_sms) {
                (true, true) => "updates+sms",
                (true, false) => "updates",
                (false, true) => "sms",
                (false, false) => "not-given",
            };
            rows.push(row("consent", "", code, "contact"));
        }
        None => rows.push(row("phone", "", "not-given", "contact")),
    }
    if m.intake_is_paid() {
        rows.push(row("fees", "", "acknowledged", "fees"));
    }
    rows
}

fn fill_feedback(w: &KioskWindow, m: &KioskModel) {
    w.global::<CheckInPage>()
        .set_code(field_view(m, Field::Code));
    let f = w.global::<FeedbackPage>();
    f.set_has_ticket(m.rating_ticket.is_some());
    f.set_number(s(m
        .rating_ticket
        .as_ref()
        .map(|t| t.number.as_str())
        .unwrap_or_default()));
    f.set_score(m.score.map_or(0, i32::from));
    f.set_reasons(model_of(
        RatingReason::ALL
            .iter()
            .map(|r| ChipView {
                code: s(reason_code(*r)),
                label: s(""),
                selected: m.reasons.contains(r),
            })
            .collect(),
    ));
    f.set_ticket_no(field_view(m, Field::TicketNo));
}

/// Connects every callback of the page globals to `input`.
pub fn wire(w: &KioskWindow, input: Rc<dyn Fn(Input)>) {
    let shell = w.global::<Shell>();
    let i = input.clone();
    shell.on_set_lang(move |l| {
        if let Ok(l) = l.parse::<Lang>() {
            i(Input::SetLang(l));
        }
    });
    let i = input.clone();
    shell.on_toggle_large_text(move || i(Input::ToggleLargeText));
    let i = input.clone();
    shell.on_toggle_contrast(move || i(Input::ToggleContrast));
    let i = input.clone();
    shell.on_go(move |code| {
        if let Some(sc) = screen_of(&code) {
            i(Input::Go(sc));
        }
    });
    let i = input.clone();
    shell.on_back(move || i(Input::Back));
    let i = input.clone();
    shell.on_touched(move || i(Input::Touch));

    let e = w.global::<Entry>();
    let i = input.clone();
    e.on_key(move |k| i(Input::Key(k.to_string())));
    let i = input.clone();
    e.on_pick(move |n| i(Input::PickCandidate(n.max(0) as usize)));
    let i = input.clone();
    e.on_page(move |d| i(Input::CandidatePage(d)));
    let i = input.clone();
    e.on_next_mode_key(move || i(Input::NextKeyMode));
    let i = input.clone();
    e.on_focus_field(move |code| {
        if let Some(f) = field_of(&code) {
            i(Input::Focus(f));
        }
    });

    let h = w.global::<HomePage>();
    let i = input.clone();
    h.on_take(move |code| {
        if let Some(sv) = service_of(&code) {
            i(Input::TakeTicket(sv));
        }
    });
    let i = input.clone();
    h.on_intake(move |code| {
        if let Some(sv) = service_of(&code) {
            i(Input::StartIntake(sv));
        }
    });
    let i = input.clone();
    h.on_toggle_priority(move || i(Input::TogglePriority));

    let i = input.clone();
    w.global::<TicketPage>()
        .on_done(move || i(Input::Go(Screen::Home)));
    let i = input.clone();
    w.global::<KnowledgePage>()
        .on_select(move |n| i(Input::SelectFaq(n.max(0) as usize)));

    let p = w.global::<IntakePage>();
    let i = input.clone();
    p.on_pick_category(move |n| i(Input::PickCategory(n.max(0) as usize)));
    let i = input.clone();
    p.on_pick_problem(move |n| i(Input::PickProblem(n.max(0) as usize)));
    let i = input.clone();
    p.on_toggle_consent(move |c| {
        i(Input::ToggleConsent(if c == "sms" {
            Consent::QueueSms
        } else {
            Consent::ServiceUpdates
        }))
    });
    let i = input.clone();
    p.on_next(move || i(Input::Next));

    let f = w.global::<FeesPage>();
    let i = input.clone();
    f.on_toggle(move || i(Input::ToggleFeesAcknowledged));
    let i = input.clone();
    f.on_next(move || i(Input::Next));

    let sm = w.global::<SummaryPage>();
    let i = input.clone();
    sm.on_confirm(move || i(Input::Confirm));
    let i = input.clone();
    sm.on_edit(move |code| {
        if let Some(sc) = screen_of(&code) {
            i(Input::Edit(sc));
        }
    });

    let i = input.clone();
    w.global::<CheckInPage>()
        .on_submit(move || i(Input::SubmitCheckIn));

    let fb = w.global::<FeedbackPage>();
    let i = input.clone();
    fb.on_find(move || i(Input::FindTicketToRate));
    let i = input.clone();
    fb.on_set_score(move |n| i(Input::SetScore(n.clamp(0, 5) as u8)));
    let i = input.clone();
    fb.on_toggle_reason(move |code| {
        if let Some(r) = RatingReason::ALL
            .into_iter()
            .find(|r| reason_code(*r) == code.as_str())
        {
            i(Input::ToggleReason(r));
        }
    });
    let i = input;
    fb.on_submit(move || i(Input::SubmitRating));
}
