//! Screenshots of every counter screen in Chinese and English, rendered headlessly on the
//! software renderer from a real session: the example centre's hub, the printer
//! simulator and the payment terminal simulator over a pty, driven through the same
//! globals the screen uses. Re-run to refresh `docs/screenshots/counter-*.png`:
//!
//!     cargo test -p servicehall-counter --test screenshots -- --ignored

mod common;

use common::{FixedHub, Printer, PtyTerminal, desk};
use counter::adapter::{self, BlockingBridge, UiState};
use counter::headless::HeadlessCounter;
use counter::options::WindowSize;
use counter::slint_ui::{
    AgreementPage, Desk as DeskPage, FeesPage, FollowUpPage, LoginPage, RefundsPage, RequestForm,
    ServePage,
};
use domain::{PriorityClass, ServiceType};
use protocol::{IssueTicket, KioskIntake};
use slint::ComponentHandle;
use ui::Lang;

#[test]
#[ignore = "writes docs/screenshots/counter-*.png"]
fn screenshots_of_every_screen_in_both_languages() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Headquarters configured but out of reach: the status bar's sync line turns amber.
    let mut centre = common::example_centre();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    centre.hq = Some(hub::config::HqLink {
        url: format!("http://{}", closed.local_addr().unwrap()),
        token: hub::config::HqToken::Inline("screenshots".into()),
        ca_file: None,
        client_identity: None,
        batch_size: 500,
        public_url: None,
    });
    drop(closed);
    let hub = rt.block_on(FixedHub::start_with(
        tempfile::tempdir().unwrap().keep(),
        "127.0.0.1:0".parse().unwrap(),
        centre,
    ));
    let kiosk = hub.client();
    let printer = Printer::start();
    let terminal = PtyTerminal::start();

    let screen = HeadlessCounter::new(WindowSize::MIN).unwrap();
    screen.set_lang(Lang::ZhCn).unwrap();
    let w = screen.ui();
    let state = UiState::new(Lang::ZhCn, 5);
    let d = desk(
        &hub.url,
        2,
        Some(printer.desk_printer()),
        Some(terminal.register()),
    );
    let view = d.view();
    adapter::fill_names(w, &view, Lang::ZhCn);
    adapter::fill(w, &view, &state);
    let bridge = BlockingBridge::new(d, rt.handle().clone(), w.as_weak(), state.clone());
    adapter::install(w, bridge.clone(), state.clone());

    let shoot = |name: &str| common::window::shoot(&screen, &state, name);

    // The station has fetched the centre's catalogue; log in.
    adapter::Bridge::send(&*bridge, counter::Command::Tick);
    shoot("login");
    let login = w.global::<LoginPage>();
    login.set_staff_id("zhang.wei".into());
    login.set_pin("2580".into());
    login.invoke_login();
    let d = w.global::<DeskPage>();
    assert!(d.get_logged_in(), "{}", login.get_error());

    // A morning's queue: walk-ins, one priority customer, a kiosk intake with contact.
    rt.block_on(async {
        for (service, class) in [
            (ServiceType::Repair, PriorityClass::Normal),
            (ServiceType::Consultation, PriorityClass::Normal),
            (ServiceType::Repair, PriorityClass::Normal),
            (ServiceType::Consultation, PriorityClass::Priority),
            (ServiceType::ReturnExchange, PriorityClass::Normal),
        ] {
            kiosk
                .issue_ticket(&IssueTicket {
                    service,
                    class,
                    channel: domain::Channel::OnSite,
                    device: Some("kiosk-1".into()),
                })
                .await
                .unwrap();
        }
    });
    // The first repair steps away to fetch the receipt: on hold.
    d.invoke_call_next();
    d.invoke_hold();
    let cat = rt.block_on(kiosk.catalogue()).unwrap();
    let repair = cat
        .services
        .iter()
        .find(|s| s.service == ServiceType::Repair)
        .unwrap();
    rt.block_on(kiosk.intake(&KioskIntake {
        service: ServiceType::Repair,
        class: PriorityClass::Normal,
        intake: common::intake(),
        contact: Some(common::contact()),
        fees_acknowledged: Some(repair.fee_digest.clone()),
        confirmed_by_customer: true,
        device: Some("kiosk-1".into()),
    }))
    .unwrap();
    // Call the next repair (the intake's ticket comes after the second walk-in).
    d.invoke_call_next();
    d.invoke_no_show();
    d.invoke_call_next();
    d.invoke_start();
    w.global::<ServePage>().set_query("".into());
    w.global::<ServePage>().invoke_search();
    // The hub has tried headquarters by now; the station shows it (GB/T 5.6.2.2 tombstones
    // and every other event wait in the outbox meanwhile).
    rt.block_on(async {
        for _ in 0..100 {
            if kiosk.health().await.unwrap().sync.last_error.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    bridge.refresh_queue();
    shoot("serve");

    // Quote, acknowledgement, card payment, receipt.
    d.invoke_select_tab(1);
    let fees = w.global::<FeesPage>();
    fees.invoke_add("inspection".into());
    fees.invoke_add("labour_hour".into());
    fees.invoke_add("labour_hour".into());
    fees.invoke_issue();
    fees.invoke_acknowledge();
    fees.invoke_pay_card();
    assert_eq!(fees.get_card_state(), 2, "{}", d.get_notice());
    shoot("fees");

    // The agreement, changed once: two versions, the second previewed.
    d.invoke_select_tab(2);
    let a = w.global::<AgreementPage>();
    a.set_time("2026-12-01 14:00".into());
    a.invoke_save();
    a.set_place("客户家中：上海市浦东新区张江路 88 弄".into());
    a.invoke_save();
    assert!(a.get_has_preview(), "{}", d.get_notice());
    shoot("agreement");

    // A refund of the labour not needed, listed as due.
    d.invoke_select_tab(3);
    let r = w.global::<RefundsPage>();
    r.set_amount("60".into());
    r.set_method(0);
    r.set_reason("少用一小时工时".into());
    r.invoke_record();
    r.invoke_refresh();
    shoot("refunds");

    // Finish the visit; a phone consultation answered and archived is due for its call.
    d.invoke_select_tab(0);
    d.invoke_finish();
    d.invoke_select_tab(5);
    let f = w.global::<RequestForm>();
    // Catalogue order: consultation, complaint, installation, repair, return/exchange.
    f.set_service(0);
    f.invoke_service_changed();
    f.set_channel(1);
    f.set_product("热水器".into());
    f.set_model("JSQ25-13".into());
    f.set_problem("不出热水，显示 E1".into());
    f.set_name("陈静".into());
    f.set_phone("13911112222".into());
    f.set_consent(true);
    f.invoke_read_back();
    f.set_confirmed(true);
    f.invoke_save();
    for _ in 0..3 {
        w.global::<ServePage>().invoke_advance();
    }
    d.invoke_select_tab(4);
    w.global::<FollowUpPage>().invoke_select(0);
    let fu = w.global::<FollowUpPage>();
    fu.set_reached(true);
    fu.set_score(5);
    fu.invoke_toggle_reason(1, true);
    fu.invoke_toggle_reason(3, true);
    fu.set_note("客户表示满意".into());
    shoot("followup");

    // A request that came by phone, read back before it is saved.
    d.invoke_select_tab(5);
    f.set_service(3);
    f.invoke_service_changed();
    f.set_channel(1);
    f.set_product("洗衣机".into());
    f.set_model("XQG100".into());
    f.set_serial("WM2024-5566".into());
    f.set_purchase_date("2024-08-18".into());
    f.set_problem("脱水时噪音很大".into());
    f.set_name("刘洋".into());
    f.set_phone("13700001111".into());
    f.set_address("上海市浦东新区锦绣路 1000 号".into());
    f.set_consent(true);
    f.set_fee_list_shown(true);
    f.invoke_read_back();
    shoot("request");

    // Saved, then booked on a free slot: the code and its QR for the kiosk (GB/T 8.1).
    f.set_confirmed(true);
    f.invoke_save();
    let today = chrono::Utc::now().date_naive();
    for ahead in 1..8 {
        f.set_slot_date((today + chrono::Duration::days(ahead)).to_string().into());
        f.invoke_find_slots();
        if slint::Model::row_count(&f.get_slots()) > 2 {
            break;
        }
    }
    f.set_slot(2);
    f.invoke_book();
    d.invoke_select_tab(5);
    shoot("appointment");

    // The parked customer is back, and is sent on to installation.
    d.invoke_select_tab(0);
    d.invoke_resume(-1);
    d.set_transfer_open(true);
    d.set_transfer_service(2);
    d.set_transfer_reason("只需咨询".into());
    shoot("transfer");
    d.set_transfer_open(false);

    // Locked after inactivity.
    d.invoke_lock();
    shoot("locked");

    drop(bridge);
    rt.block_on(async move {
        let mut hub = hub;
        hub.stop().await;
    });
}
