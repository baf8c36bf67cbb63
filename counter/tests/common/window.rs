//! Driving the real counter window through Slint's testing backend, as staff would:
//! find a control by its accessible label, click it, type into it, press keys.

use counter::adapter::UiState;
use counter::headless::HeadlessCounter;
use counter::slint_ui::{CounterWindow, LoginPage};
use i_slint_backend_testing::ElementHandle;
use slint::ComponentHandle;
use slint::platform::{Key, WindowEvent};

pub(crate) fn find(w: &CounterWindow, label: &str) -> ElementHandle {
    ElementHandle::find_by_accessible_label(w, label)
        .next()
        .unwrap_or_else(|| panic!("nothing labelled `{label}` on screen"))
}

pub(crate) fn shown(w: &CounterWindow, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(w, label)
        .next()
        .is_some()
}

pub(crate) fn click(w: &CounterWindow, label: &str) {
    find(w, label).invoke_accessible_default_action();
}

pub(crate) fn type_into(w: &CounterWindow, label: &str, text: &str) {
    find(w, label).set_accessible_value(text);
}

/// Presses and releases one key (a character, or a `Key` turned into text).
pub(crate) fn press(w: &CounterWindow, text: slint::SharedString) {
    w.window()
        .dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
    w.window().dispatch_event(WindowEvent::KeyReleased { text });
}

pub(crate) fn key(w: &CounterWindow, k: Key) {
    press(w, k.into());
}

/// Ctrl + `c`.
pub(crate) fn ctrl(w: &CounterWindow, c: char) {
    let control: slint::SharedString = Key::Control.into();
    w.window().dispatch_event(WindowEvent::KeyPressed {
        text: control.clone(),
    });
    press(w, c.to_string().into());
    w.window()
        .dispatch_event(WindowEvent::KeyReleased { text: control });
}

/// Where the screenshots of the documentation go.
pub(crate) fn screenshot_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots")
}

/// Writes `counter-{name}-{zh,en}.png` of the screen as it is now, in both languages,
/// and leaves it in the language it was in.
pub(crate) fn shoot(screen: &HeadlessCounter, state: &UiState, name: &str) {
    let w = screen.ui();
    std::fs::create_dir_all(screenshot_dir()).unwrap();
    for lang in [ui::Lang::ZhCn, ui::Lang::En] {
        if state.lang() != lang {
            w.global::<LoginPage>().invoke_switch_language();
        }
        screen
            .render()
            .write_png(&screenshot_dir().join(format!("counter-{name}-{}.png", lang.tag())))
            .unwrap();
    }
    w.global::<LoginPage>().invoke_switch_language();
}
