//! Renders the counter station without a display, on Slint's software renderer: for the
//! screenshots in `docs/screenshots/` and the test that proves Chinese text really renders.
//!
//! It installs a process-wide Slint platform, so it must never be used in a process that
//! also opens a real window (`run`) or uses Slint's testing backend.

use slint::ComponentHandle;
use ui::Lang;
use ui::headless::HeadlessWindow;
pub use ui::headless::{Frame, HeadlessError};

use crate::options::WindowSize;
use crate::slint_ui::CounterWindow;

/// The counter window rendered into memory.
pub struct HeadlessCounter {
    window: HeadlessWindow,
    ui: CounterWindow,
}

impl std::fmt::Debug for HeadlessCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessCounter")
            .field("size", &self.window.size())
            .finish()
    }
}

impl HeadlessCounter {
    /// Installs the headless platform and creates the window (once per process).
    pub fn new(size: WindowSize) -> Result<HeadlessCounter, HeadlessError> {
        let mut window = HeadlessWindow::install()?;
        let ui = CounterWindow::new()?;
        ui.show()?;
        window.set_size((size.width, size.height));
        Ok(HeadlessCounter { window, ui })
    }

    pub fn ui(&self) -> &CounterWindow {
        &self.ui
    }

    pub fn set_lang(&self, lang: Lang) -> Result<(), HeadlessError> {
        ui::headless::select_translation(lang)
    }

    /// Renders one whole frame.
    pub fn render(&self) -> Frame {
        self.window.render()
    }
}
