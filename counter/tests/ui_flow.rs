//! A whole visit driven through the real Slint components with Slint's testing backend,
//! as staff would at the counter: log in, F1 to call the next customer, F3 to start,
//! the kiosk request on the screen, Ctrl+2 to the fees, the quote built with the +
//! buttons, issued and acknowledged, the card paid on the terminal simulator over a pty,
//! the receipt printed by the printer simulator, F4 to finish. Real hub, real devices.
//! One test: the testing backend is per process.

mod common;

use common::window::{click, ctrl, key, shown, type_into};

use common::{Printer, PtyTerminal, contains, kiosk_intake};
use counter::adapter::{self, BlockingBridge, UiState};
use counter::slint_ui::{CounterWindow, Desk as DeskPage, FeesPage, ServePage};
use counter::{Desk, DeskConfig, Devices};
use domain::{Fen, ServiceType, TicketState};
use slint::ComponentHandle;
use slint::platform::Key;
use ui::Lang;

#[test]
fn a_visit_from_login_to_finish_on_the_screen() {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hub = rt.block_on(common::hub());
    let printer = Printer::start();
    let terminal = PtyTerminal::start();
    let intake = rt.block_on(kiosk_intake(&hub.client, ServiceType::Repair));

    let w = CounterWindow::new().unwrap();
    w.show().unwrap();
    slint::select_bundled_translation("en").unwrap();
    let state = UiState::new(Lang::En, 5);
    let desk = Desk::new(
        DeskConfig::new(hub.url.clone(), 2, Lang::En),
        Devices {
            printer: Some(printer.desk_printer()),
            terminal: Some(terminal.register()),
        },
    );
    let view = desk.view();
    adapter::fill_names(&w, &view, Lang::En);
    adapter::fill(&w, &view, &state);
    let bridge = BlockingBridge::new(desk, rt.handle().clone(), w.as_weak(), state.clone());
    adapter::install(&w, bridge.clone(), state.clone());
    let d = w.global::<DeskPage>();

    // Log in: a wrong PIN is refused on the login screen, the right one opens the desk.
    assert!(!d.get_logged_in());
    type_into(&w, "Staff id", "tech");
    type_into(&w, "PIN", "9999");
    click(&w, "Log in");
    assert!(!d.get_logged_in());
    assert!(shown(&w, "Log in"));
    type_into(&w, "PIN", "1234");
    click(&w, "Log in");
    assert!(d.get_logged_in(), "{}", d.get_notice());
    assert_eq!(d.get_staff_name(), "李师傅");
    assert!(shown(&w, "Counter 2"));
    // No headquarters configured: the status bar has no sync line.
    assert!(!d.get_sync_shown());
    // The queue panel shows the waiting kiosk ticket.
    assert!(shown(&w, &intake.ticket.ticket.number));

    // F1 calls the next customer; the kiosk request is on the screen to read back.
    key(&w, Key::F1);
    assert!(d.get_has_ticket(), "{}", d.get_notice());
    assert_eq!(d.get_ticket_number(), intake.ticket.ticket.number.as_str());
    assert!(w.global::<ServePage>().get_has_request());
    assert!(
        shown(&w, "X100"),
        "the model the customer typed at the kiosk"
    );
    assert!(
        shown(&w, "无法开机"),
        "the problem, in the customer's words"
    );
    assert!(shown(&w, "张*  138****5678"), "the contact, masked");
    // F3: the customer is at the counter.
    key(&w, Key::F3);
    assert_eq!(d.get_ticket_state_code(), 1, "{}", d.get_notice());

    // Ctrl+2: the fees. Two items from the published schedule, issued and acknowledged.
    ctrl(&w, '2');
    assert_eq!(d.get_tab(), 1);
    click(&w, "Add Inspection");
    click(&w, "Add Repair labour (per hour)");
    let fees = w.global::<FeesPage>();
    assert_eq!(fees.get_draft_total(), "¥90.00");
    click(&w, "Issue quote");
    assert!(fees.get_has_quote(), "{}", d.get_notice());
    assert!(
        !fees.get_payable(),
        "GB/T 4.2.3: not before the customer acknowledges"
    );
    click(&w, "Customer acknowledges");
    assert!(fees.get_acknowledged(), "{}", d.get_notice());
    assert_eq!(fees.get_amount_due(), "¥90.00");

    // Paid by card on the terminal; the receipt comes out of the printer.
    click(&w, "Pay by card");
    assert_eq!(fees.get_card_state(), 2, "{}", d.get_notice());
    assert_eq!(fees.get_amount_due(), "¥0.00");
    assert!(
        d.get_notice().contains("Receipt printed"),
        "{}",
        d.get_notice()
    );
    assert!(
        shown(&w, "Receipt 1"),
        "the payment is listed with its receipt button"
    );
    let charges = terminal.sim.charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount, Fen(9000));
    let receipt = &printer.wait_docs(1)[0];
    assert!(contains(receipt, "Payment receipt"), "{receipt:?}");
    assert!(contains(receipt, "Bank card"), "{receipt:?}");

    // F4: finished; the counter is free for the next customer.
    key(&w, Key::F4);
    assert!(!d.get_has_ticket(), "{}", d.get_notice());
    assert!(shown(&w, "Counter free"));
    let t = rt
        .block_on(hub.client.ticket(intake.ticket.ticket.id))
        .unwrap();
    assert_eq!(t.state, TicketState::Finished);
    let today = {
        let desk = bridge.desk();
        rt.block_on(desk.queue()).unwrap().today
    };
    assert_eq!(today.served, 1);

    // F12 locks the screen; the PIN unlocks it.
    key(&w, Key::F12);
    assert!(d.get_locked());
    type_into(&w, "PIN", "1234");
    click(&w, "Unlock");
    assert!(!d.get_locked(), "{}", d.get_notice());
}
