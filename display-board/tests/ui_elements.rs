//! The board's UI through Slint's testing backend: what the adapter puts in the
//! `BoardPage` global is what the screen says, in the selected language.

use std::time::Instant;

use chrono::Utc;
use display_board::adapter;
use display_board::model::{BoardModel, Now, Zone};
use display_board::slint_ui::{BoardPage, BoardWindow};
use domain::ServiceType;
use i_slint_backend_testing::ElementHandle;
use protocol::{EventEnvelope, HubEvent};
use slint::ComponentHandle;
use ui::Lang;

fn labels(w: &BoardWindow, text: &str) -> usize {
    ElementHandle::find_by_accessible_label(w, text).count()
}

#[test]
fn the_latest_call_reads_in_the_selected_language() {
    i_slint_backend_testing::init_no_event_loop();
    let now = Now {
        mono: Instant::now(),
        wall: Utc::now(),
    };
    let mut m = BoardModel::new(Zone::default());
    m.apply(
        &EventEnvelope {
            seq: 1,
            at: now.wall,
            clock_synced: true,
            boot: 1,
            mono_ms: 0,
            event: HubEvent::TicketCalled {
                ticket_id: 1,
                number: "A012".into(),
                service: ServiceType::Consultation,
                counter: 3,
                recall: false,
                staff_id: None,
            },
        },
        now,
    );
    let w = BoardWindow::new().unwrap();
    w.show().unwrap();
    for (lang, primary, secondary) in [
        (Lang::ZhCn, "3 号窗口", "Counter 3"),
        (Lang::En, "Counter 3", "3 号窗口"),
    ] {
        slint::select_bundled_translation(lang.slint_locale()).unwrap();
        adapter::fill(&w.global::<BoardPage>(), &m.view(now.mono), lang);
        assert!(
            labels(&w, "A012") >= 1,
            "{lang}: the ticket number is shown"
        );
        assert!(labels(&w, primary) >= 1, "{lang}: `{primary}` missing");
        assert!(labels(&w, secondary) >= 1, "{lang}: `{secondary}` missing");
    }
    // Before any call: the waiting message instead of a number.
    let empty = BoardModel::new(Zone::default());
    adapter::fill(&w.global::<BoardPage>(), &empty.view(now.mono), Lang::ZhCn);
    slint::select_bundled_translation("zh_CN").unwrap();
    assert_eq!(labels(&w, "A012"), 0);
}
