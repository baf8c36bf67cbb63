//! A made-up centre (catalogue, knowledge base, queue, tickets) for the screenshots and
//! the first-frame timing, so pictures can be made without a hub. Never used by
//! [`crate::run`].

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::{Channel, FeeItem, Fen, PriorityClass, RequestStage, ServiceType, TicketState};
use protocol::{
    AppointmentState, AppointmentView, BusinessDayView, Catalogue, CatalogueService, CentreInfo,
    CheckedIn, CommonProblem, Faq, IntakeReceipt, IssuedTicket, KnowledgeBase, ProductCategory,
    QueueSnapshot, RequestView, ServiceQueue, TicketView,
};

/// 2026-03-02 09:41 in Shanghai.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 41, 7)
        .single()
        .unwrap_or_default()
}

fn fee(code: &str, zh: &str, en: &str, fen: i64) -> FeeItem {
    FeeItem {
        code: code.into(),
        name_zh: zh.into(),
        name_en: en.into(),
        unit_price: Fen(fen),
    }
}

pub fn catalogue() -> Catalogue {
    let services = [
        (
            ServiceType::Consultation,
            'A',
            "产品使用、保修政策和费用问答，当场解答。",
            "Questions about use, warranty and fees, answered on the spot.",
        ),
        (
            ServiceType::Complaint,
            'B',
            "对产品或服务不满意？我们记录并限时答复。",
            "Not happy with a product or our service? We record it and reply in time.",
        ),
        (
            ServiceType::Installation,
            'C',
            "预约上门安装或移机，费用事先告知。",
            "Book installation or relocation at home; fees told in advance.",
        ),
        (
            ServiceType::Repair,
            'D',
            "检测和维修，保修期内免费，保修期外按价目收费。",
            "Diagnosis and repair: free under warranty, otherwise at listed prices.",
        ),
        (
            ServiceType::ReturnExchange,
            'E',
            "符合条件的退货、换货，退款 5 个工作日内到账。",
            "Returns and exchanges that qualify; refunds within 5 working days.",
        ),
    ];
    Catalogue {
        centre: CentreInfo {
            id: "sh-pudong-001".into(),
            name_zh: "浦东售后服务中心".into(),
            name_en: "Pudong After-sales Service Centre".into(),
            address: "上海市浦东新区世纪大道 100 号 1 楼".into(),
            phone: "021-5555 0100".into(),
            qualifications: vec![
                "家用电器维修服务资质（A 级）".into(),
                "制冷设备安装维修资格证".into(),
            ],
            change_procedure_zh: "如需变更服务内容、时间或费用，请到服务窗口办理，变更以书面服务协议为准。".into(),
            change_procedure_en: "To change a service, its time or its fees, ask at a counter; changes take effect in a written agreement.".into(),
            utc_offset_minutes: 480,
        },
        services: services
            .iter()
            .map(|(s, p, zh, en)| CatalogueService {
                service: *s,
                name_zh: s.name_zh().into(),
                name_en: s.name_en().into(),
                prefix: *p,
                paid: matches!(s, ServiceType::Repair | ServiceType::Installation),
                reply_within_minutes: 60,
                resolve_within_hours: 72,
                wait_limit_minutes: 30,
                description_zh: (*zh).into(),
                description_en: (*en).into(),
                fees: match s {
                    ServiceType::Repair => vec![
                        fee("inspection", "检测费", "Inspection", 3000),
                        fee("labour_hour", "维修工时费（每小时）", "Repair labour (per hour)", 6000),
                        fee("part_board", "主板更换", "Main board replacement", 28000),
                        fee("part_screen", "屏幕更换", "Screen replacement", 45000),
                    ],
                    ServiceType::Installation => vec![
                        fee("install_standard", "标准安装费", "Standard installation", 8000),
                        fee("bracket", "安装支架", "Mounting bracket", 4500),
                    ],
                    _ => vec![],
                },
                fee_digest: format!("demo-{}", s.code()),
            })
            .collect(),
        status_base_url: None,
    }
}

fn problem(code: &str, zh: &str, en: &str) -> CommonProblem {
    CommonProblem {
        code: code.into(),
        text_zh: zh.into(),
        text_en: en.into(),
    }
}

pub fn knowledge() -> KnowledgeBase {
    let faq = |id: &str, s: Option<ServiceType>, qz: &str, qe: &str, az: &str, ae: &str| Faq {
        id: id.into(),
        service: s,
        question_zh: qz.into(),
        question_en: qe.into(),
        answer_zh: az.into(),
        answer_en: ae.into(),
    };
    KnowledgeBase {
        faqs: vec![
            faq(
                "warranty",
                Some(ServiceType::Repair),
                "保修期多长？怎样算在保修期内？",
                "How long is the warranty, and am I covered?",
                "整机保修一年，主要部件三年，以购买发票日期为准。请携带发票或购买记录。",
                "One year for the whole product and three years for main parts, from the invoice date. Please bring the invoice or proof of purchase.",
            ),
            faq(
                "fees",
                None,
                "维修要花多少钱？",
                "How much does a repair cost?",
                "收费项目和价格公示在“服务信息”中；开始维修前，窗口会给您逐项报价，您确认后才收费。",
                "All fees are published under Service information; before any repair the counter gives you an itemised quote, and nothing is charged until you agree.",
            ),
            faq(
                "refund",
                Some(ServiceType::ReturnExchange),
                "退款多久到账？",
                "When will my refund arrive?",
                "退款在受理后 5 个工作日内退回原支付方式。",
                "Refunds are paid back to the original payment method within 5 working days.",
            ),
            faq(
                "install",
                Some(ServiceType::Installation),
                "安装需要提前预约吗？",
                "Do I need to book an installation?",
                "建议提前预约；可在本机取号办理，也可拨打服务电话。",
                "Booking ahead is best: take a ticket here or call our service phone.",
            ),
        ],
        categories: vec![
            ProductCategory {
                code: "washer".into(),
                name_zh: "洗衣机".into(),
                name_en: "Washing machine".into(),
                problems: vec![
                    problem("no_power", "不通电", "No power"),
                    problem("leak", "漏水", "Leaks water"),
                    problem("noise", "噪音大", "Loud noise"),
                    problem("no_spin", "不脱水", "Does not spin"),
                    problem("error_code", "显示故障代码", "Shows an error code"),
                ],
            },
            ProductCategory {
                code: "fridge".into(),
                name_zh: "冰箱".into(),
                name_en: "Refrigerator".into(),
                problems: vec![
                    problem("not_cold", "不制冷", "Not cooling"),
                    problem("frost", "结霜严重", "Heavy frost"),
                    problem("noise", "噪音大", "Loud noise"),
                ],
            },
            ProductCategory {
                code: "ac".into(),
                name_zh: "空调".into(),
                name_en: "Air conditioner".into(),
                problems: vec![
                    problem("not_cold", "不制冷", "Not cooling"),
                    problem("drip", "室内机滴水", "Indoor unit drips"),
                ],
            },
            ProductCategory {
                code: "tv".into(),
                name_zh: "电视".into(),
                name_en: "Television".into(),
                problems: vec![problem("no_picture", "无图像", "No picture")],
            },
            ProductCategory {
                code: "other".into(),
                name_zh: "其他".into(),
                name_en: "Other".into(),
                problems: vec![],
            },
        ],
    }
}

pub fn queue() -> QueueSnapshot {
    let waits = [
        (ServiceType::Consultation, 'A', 3, 240),
        (ServiceType::Complaint, 'B', 0, 0),
        (ServiceType::Installation, 'C', 2, 900),
        (ServiceType::Repair, 'D', 7, 1860),
        (ServiceType::ReturnExchange, 'E', 1, 300),
    ];
    QueueSnapshot {
        now: now(),
        day: Some(BusinessDayView {
            id: 1,
            date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default(),
            opened_at: now(),
            closed_at: None,
            clock_synced: true,
        }),
        services: waits
            .iter()
            .map(|(s, p, n, w)| ServiceQueue {
                service: *s,
                name_zh: s.name_zh().into(),
                name_en: s.name_en().into(),
                prefix: *p,
                paid: matches!(s, ServiceType::Repair | ServiceType::Installation),
                waiting: *n,
                waiting_priority: 0,
                longest_wait_secs: 0,
                estimated_wait_secs: *w,
                counters_serving: 2,
                mean_response_secs: None,
            })
            .collect(),
        at_counters: vec![],
        last_seq: 100,
        open_counters: vec![1, 2, 3],
    }
}

pub fn ticket(number: &str, service: ServiceType, class: PriorityClass) -> IssuedTicket {
    IssuedTicket {
        ticket: TicketView {
            id: 17,
            number: number.into(),
            service,
            class,
            channel: Channel::OnSite,
            state: TicketState::Waiting,
            business_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default(),
            counter: None,
            staff_id: None,
            issued_at: now(),
            called_at: None,
            started_at: None,
            finished_at: None,
            recalls: 0,
            printed: false,
            status_token: "k7d2m9x4p8q3w6t2r5s9".into(),
        },
        people_ahead: 7,
        estimated_wait_secs: 1860,
        seq: 101,
    }
}

pub fn receipt(intake: &protocol::KioskIntake) -> IntakeReceipt {
    let t = ticket("D018", intake.service, intake.class);
    IntakeReceipt {
        request: RequestView {
            id: 12,
            service: intake.service,
            channel: Channel::OnSite,
            ticket_id: Some(t.ticket.id),
            stage: RequestStage::Acceptance,
            intake: intake.intake.clone(),
            paid: true,
            created_at: now(),
            reply_due: Some(now() + chrono::Duration::hours(1)),
            resolve_due: Some(now() + chrono::Duration::hours(72)),
            answered_at: None,
            resolved_at: None,
            overdue: false,
            history: vec![],
            quote: None,
            contact: None,
            fees_acknowledged: None,
            payments: vec![],
            refunds: vec![],
            agreement_version: None,
        },
        ticket: t,
    }
}

pub fn checked_in() -> CheckedIn {
    let t = ticket(
        "C004",
        ServiceType::Installation,
        PriorityClass::Appointment,
    );
    CheckedIn {
        appointment: AppointmentView {
            id: 3,
            code: "K7Q2MX".into(),
            service: ServiceType::Installation,
            slot_start: now() + chrono::Duration::minutes(10),
            slot_end: now() + chrono::Duration::minutes(40),
            state: AppointmentState::CheckedIn,
            request_id: 9,
            ticket_id: Some(t.ticket.id),
            history: vec![],
        },
        ticket: t,
        again: false,
    }
}

/// One picture: a kiosk set up by `inputs` from a fresh start.
#[derive(Debug, Clone)]
pub struct Scene {
    /// `kiosk-<name>-<zh|en>.png`.
    pub name: &'static str,
    pub size: crate::ScreenSize,
    pub config: crate::model::ModelConfig,
    pub inputs: Vec<crate::model::Input>,
}

/// The rating a customer just sent.
pub fn rating() -> protocol::RatingView {
    protocol::RatingView {
        id: 1,
        ticket_id: Some(12),
        request_id: None,
        score: 4,
        reasons: vec![protocol::RatingReason::Friendly],
        via: "kiosk".into(),
        at: now(),
    }
}

/// Every screen, as a customer would see it, in `lang`.
pub fn scenes(lang: ui::Lang) -> Vec<Scene> {
    use crate::model::{
        Consent, Field, Finished, HubState, Input, ModelConfig, Origin, Outcome, PrintState, Screen,
    };
    use protocol::RatingReason;

    let start = std::time::Instant::now();
    let hub = |o: Outcome| Input::Hub(o);
    let key = |s: &str| Input::Key(s.into());
    let base = || {
        vec![
            Input::Tick {
                now: start,
                utc: now(),
            },
            hub(Outcome::Connection(HubState::Live)),
            hub(Outcome::Catalogue(catalogue())),
            hub(Outcome::Knowledge(knowledge())),
            hub(Outcome::Queue(queue())),
            Input::SetLang(lang),
        ]
    };
    let with = |extra: Vec<Input>| {
        let mut v = base();
        v.extend(extra);
        v
    };
    let config = ModelConfig {
        lang,
        ..ModelConfig::default()
    };
    let scene = |name, inputs| Scene {
        name,
        size: crate::ScreenSize::PORTRAIT,
        config: config.clone(),
        inputs,
    };
    let issued = |class| {
        hub(Outcome::TicketIssued {
            issued: ticket("D018", ServiceType::Repair, class),
            origin: Origin::Tap,
        })
    };
    let product = vec![
        Input::StartIntake(ServiceType::Repair),
        Input::PickCategory(0),
        Input::Focus(Field::Model),
        key("XQG100-14"),
        Input::Focus(Field::Serial),
        key("SN2024"),
    ];
    let mut problem = product.clone();
    problem.extend([
        Input::Focus(Field::PurchaseDate),
        key("20250601"),
        Input::Next,
        Input::PickProblem(1),
        Input::Focus(Field::Details),
    ]);
    match lang {
        ui::Lang::ZhCn => problem.extend([key("menkou"), Input::PickCandidate(0), key("louShui")]),
        ui::Lang::En => problem.push(key("Under the door")),
    }
    let mut contact = problem.clone();
    if lang == ui::Lang::ZhCn {
        contact.push(Input::PickCandidate(0));
    }
    contact.extend([
        Input::Next,
        Input::Focus(Field::Phone),
        key("13812345678"),
        Input::ToggleConsent(Consent::ServiceUpdates),
        Input::Focus(Field::Phone),
        key("\n"),
    ]);
    // The phone field left: the number shows masked.
    contact.push(Input::Touch);
    let mut fees = contact.clone();
    fees.extend([Input::Next, Input::ToggleFeesAcknowledged]);
    let mut summary = fees.clone();
    summary.push(Input::Next);
    let mut accepted = summary.clone();
    let intake = {
        let mut m = crate::model::KioskModel::new(config.clone());
        for i in with(summary.clone()) {
            m.apply(i);
        }
        m.intake()
    };
    accepted.push(Input::Confirm);
    if let Some(intake) = intake {
        accepted.push(hub(Outcome::IntakeAccepted(receipt(&intake))));
        accepted.push(hub(Outcome::Printed {
            ticket_id: 17,
            state: PrintState::Printed,
        }));
    }
    let finished = hub(Outcome::TicketFinished {
        finished: Finished {
            ticket_id: 12,
            number: "D012".into(),
            counter: 2,
        },
        fresh: true,
    });
    let rating = vec![
        finished.clone(),
        Input::Go(Screen::Feedback),
        key("D012\n"),
        Input::SetScore(4),
        Input::ToggleReason(RatingReason::Friendly),
        Input::ToggleReason(RatingReason::Professional),
    ];
    let mut thanks = rating.clone();
    thanks.extend([Input::SubmitRating, hub(Outcome::Rated(self::rating()))]);

    let mut scenes = vec![
        scene("home", base()),
        scene(
            "home-offline",
            with(vec![hub(Outcome::Connection(HubState::Offline))]),
        ),
        scene(
            "ticket",
            with(vec![
                Input::TakeTicket(ServiceType::Repair),
                issued(PriorityClass::Normal),
                hub(Outcome::Printed {
                    ticket_id: 17,
                    state: PrintState::Printed,
                }),
            ]),
        ),
        scene(
            "ticket-unprinted",
            with(vec![
                Input::TogglePriority,
                Input::TakeTicket(ServiceType::Repair),
                issued(PriorityClass::Priority),
                hub(Outcome::Printed {
                    ticket_id: 17,
                    state: PrintState::Failed {
                        paper_out: true,
                        reason: "the printer is out of paper".into(),
                    },
                }),
            ]),
        ),
        scene("info", with(vec![Input::Go(Screen::Info)])),
        scene(
            "knowledge",
            with(vec![Input::Go(Screen::Knowledge), Input::SelectFaq(1)]),
        ),
        scene("product", with(product)),
        scene("problem", with(problem)),
        scene("contact", with(contact)),
        scene("fees", with(fees)),
        scene("summary", with(summary)),
        scene("accepted", with(accepted)),
        scene(
            "checkin",
            with(vec![Input::Go(Screen::CheckIn), key("K7Q2MX")]),
        ),
        scene(
            "checked-in",
            with(vec![
                Input::Go(Screen::CheckIn),
                key("K7Q2MX\n"),
                hub(Outcome::CheckedIn(checked_in())),
                hub(Outcome::Printed {
                    ticket_id: 17,
                    state: PrintState::Printed,
                }),
            ]),
        ),
        scene(
            "feedback",
            with(vec![finished, Input::Go(Screen::Feedback), key("D012")]),
        ),
        scene("rating", with(rating)),
        scene("thanks", with(thanks)),
        scene(
            "accessible",
            with(vec![Input::ToggleLargeText, Input::ToggleContrast]),
        ),
    ];
    scenes.push(Scene {
        name: "rate-wait",
        size: crate::ScreenSize::PORTRAIT,
        config: ModelConfig {
            feedback_counter: Some(2),
            ..config.clone()
        },
        inputs: base(),
    });
    scenes.push(Scene {
        name: "home-landscape",
        size: crate::ScreenSize::LANDSCAPE,
        config: config.clone(),
        inputs: base(),
    });
    scenes.push(Scene {
        name: "problem-landscape",
        size: crate::ScreenSize::LANDSCAPE,
        config,
        inputs: scenes
            .iter()
            .find(|s| s.name == "problem")
            .map(|s| s.inputs.clone())
            .unwrap_or_default(),
    });
    scenes
}
