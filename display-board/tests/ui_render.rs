//! The board rendered on the software renderer at 1920×1080 and 1080×1920 in both
//! languages: Chinese glyphs really render (the embedded font), the layout puts the call
//! where it belongs, and with SERVICEHALL_WRITE_SCREENSHOTS=1 the pictures are written to
//! docs/screenshots/. One test: the headless platform is per process.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use display_board::Layout;
use display_board::headless::HeadlessBoard;
use display_board::model::{BoardModel, Now, Zone};
use domain::{FeeItem, Fen, ServiceType};
use protocol::{
    BusinessDayView, Catalogue, CatalogueService, CentreInfo, EventEnvelope, HubEvent,
    QueueSnapshot, ServiceQueue,
};
use ui::Lang;

fn demo_model(now: Now) -> BoardModel {
    let services = [
        (ServiceType::Consultation, 'A', 9, 480),
        (ServiceType::Complaint, 'B', 0, 0),
        (ServiceType::Installation, 'C', 2, 900),
        (ServiceType::Repair, 'D', 8, 2100),
        (ServiceType::ReturnExchange, 'E', 1, 300),
    ];
    let mut m = BoardModel::new(Zone::default());
    m.apply_catalogue(&Catalogue {
        centre: CentreInfo {
            id: "sh-pudong-001".into(),
            name_zh: "浦东售后服务中心".into(),
            name_en: "Pudong After-sales Service Centre".into(),
            address: "上海市浦东新区世纪大道 100 号".into(),
            phone: "021-5555 0100".into(),
            qualifications: vec!["家电维修资质 A 级".into()],
            change_procedure_zh: "如需变更服务内容、时间或费用，请到服务窗口办理。".into(),
            change_procedure_en: "To change a service, its time or fees, ask at a counter.".into(),
            utc_offset_minutes: 480,
        },
        services: services
            .iter()
            .map(|(s, p, _, _)| CatalogueService {
                service: *s,
                name_zh: s.name_zh().into(),
                name_en: s.name_en().into(),
                prefix: *p,
                paid: *s == ServiceType::Repair,
                reply_within_minutes: 60,
                resolve_within_hours: 168,
                wait_limit_minutes: 30,
                description_zh: String::new(),
                description_en: String::new(),
                fee_digest: String::new(),
                fees: if *s == ServiceType::Repair {
                    vec![FeeItem {
                        code: "inspection".into(),
                        name_zh: "检测费".into(),
                        name_en: "Inspection".into(),
                        unit_price: Fen(3000),
                    }]
                } else {
                    vec![]
                },
            })
            .collect(),
        status_base_url: None,
    });
    m.apply_snapshot(&QueueSnapshot {
        now: now.wall,
        day: Some(BusinessDayView {
            id: 1,
            date: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            opened_at: now.wall,
            closed_at: None,
            clock_synced: true,
        }),
        services: services
            .iter()
            .map(|(s, p, waiting, secs)| ServiceQueue {
                service: *s,
                name_zh: s.name_zh().into(),
                name_en: s.name_en().into(),
                prefix: *p,
                paid: false,
                waiting: *waiting,
                waiting_priority: 0,
                longest_wait_secs: 0,
                estimated_wait_secs: *secs,
                counters_serving: 1,
                mean_response_secs: None,
            })
            .collect(),
        at_counters: vec![],
        last_seq: 0,
        open_counters: vec![],
    });
    let mut seq = 0;
    let mut ev = |m: &mut BoardModel, event: HubEvent| {
        seq += 1;
        m.apply(
            &EventEnvelope {
                seq,
                at: now.wall,
                clock_synced: true,
                boot: 1,
                mono_ms: 0,
                event,
            },
            now,
        );
    };
    for c in 1..=5 {
        ev(
            &mut m,
            HubEvent::StaffLoggedIn {
                staff_id: format!("s{c}"),
                counter: Some(c),
            },
        );
    }
    let calls = [
        ("D006", ServiceType::Repair, 2),
        ("A009", ServiceType::Consultation, 1),
        ("C003", ServiceType::Installation, 4),
        ("A010", ServiceType::Consultation, 1),
        ("E002", ServiceType::ReturnExchange, 5),
        ("A011", ServiceType::Consultation, 1),
        ("D007", ServiceType::Repair, 2),
        ("A012", ServiceType::Consultation, 3),
    ];
    for (i, (number, service, counter)) in calls.iter().enumerate() {
        ev(
            &mut m,
            HubEvent::TicketCalled {
                ticket_id: i as i64 + 1,
                number: (*number).into(),
                service: *service,
                counter: *counter,
                recall: false,
                staff_id: None,
            },
        );
    }
    ev(
        &mut m,
        HubEvent::TicketStarted {
            ticket_id: 7,
            number: "D007".into(),
            counter: 2,
        },
    );
    ev(
        &mut m,
        HubEvent::TicketStarted {
            ticket_id: 6,
            number: "A011".into(),
            counter: 1,
        },
    );
    ev(
        &mut m,
        HubEvent::TicketFinished {
            ticket_id: 5,
            number: "E002".into(),
            counter: 5,
            service_secs: 300,
            staff_id: None,
        },
    );
    m.set_connection(display_board::model::Connection::Live);
    m
}

#[test]
fn the_board_renders_both_layouts_in_both_languages_with_chinese_glyphs() {
    let now = Now {
        mono: Instant::now(),
        wall: Utc.with_ymd_and_hms(2026, 3, 2, 9, 41, 7).unwrap(),
    };
    let model = demo_model(now);
    let mut board = HeadlessBoard::new().unwrap();
    let write = std::env::var_os("SERVICEHALL_WRITE_SCREENSHOTS").is_some();
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    if write {
        std::fs::create_dir_all(&out).unwrap();
    }

    // A Chinese-only label, drawn alone on the background: if the CJK font were missing
    // Slint would silently draw nothing.
    let mut empty = BoardModel::new(Zone::default());
    empty.set_connection(display_board::model::Connection::Live);
    board.set_layout(Layout::Landscape);
    board.set_lang(Lang::ZhCn).unwrap();
    board.show(&empty.view(now.mono), Lang::ZhCn, "", 0, "");
    let page = board.page();
    page.set_centre_primary("售后服务中心".into());
    page.set_centre_secondary("".into());
    let f = board.render();
    let bg = f.pixel(f.width - 2, 60); // header background, right edge
    let chinese = f.ink(40, 20, 700, 100, bg);
    assert!(
        chinese > 2_000,
        "Chinese text did not render: {chinese} inked pixels"
    );
    page.set_centre_primary("".into());
    let f = board.render();
    assert!(
        f.ink(40, 20, 700, 100, bg) < chinese / 10,
        "the ink was the label's"
    );

    let mut view = model.view(now.mono + Duration::from_secs(1));
    assert!(view.highlight);
    view.highlight = false; // pictures show the steady state, not a blink phase
    for (layout, lname) in [
        (Layout::Landscape, "landscape"),
        (Layout::Portrait, "portrait"),
    ] {
        board.set_layout(layout);
        for lang in Lang::ALL {
            board.set_lang(lang).unwrap();
            board.show(&view, lang, "2026-03-02", 0, "09:41:07");
            let f = board.render();
            let (w, h) = layout.size();
            assert_eq!((f.width, f.height), (w, h));
            let bg = f.pixel(4, h / 2);
            // The big ticket number sits in the upper part of the screen, in the call panel.
            let (cx0, cy0, cx1, cy1) = match layout {
                Layout::Portrait => (60, 260, 1020, 700),
                _ => (60, 200, 1100, 700),
            };
            let call_ink = f.ink(cx0, cy0, cx1, cy1, bg);
            assert!(
                call_ink > 30_000,
                "{lname}/{lang}: call panel looks empty ({call_ink})"
            );
            // Chinese is on every board (primary or secondary): the centre name's first line
            // is Chinese on a zh board.
            if lang == Lang::ZhCn {
                let hb = f.pixel(w - 2, 60);
                assert!(
                    f.ink(40, 24, 600, 90, hb) > 1_500,
                    "{lname}: Chinese centre name missing"
                );
            }
            if write {
                f.write_png(&out.join(format!("board-{lname}-{}.png", lang.tag())))
                    .unwrap();
            }
        }
    }

    // Frame time of a whole 1920×1080 frame on the software renderer (informational).
    board.set_layout(Layout::Landscape);
    let t = Instant::now();
    for _ in 0..3 {
        board.render();
    }
    eprintln!("1920x1080 frame: {:?}", t.elapsed() / 3);
}
