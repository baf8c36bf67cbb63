//! Renders the kiosk without a display, on Slint's software renderer: for the
//! screenshots in `docs/screenshots/`, the first-frame benchmark and the test that
//! proves Chinese text really renders.
//!
//! It installs a process-wide Slint platform, so it must never be used in a process that
//! also opens a real window ([`crate::run`]) or uses Slint's testing backend.

use slint::ComponentHandle as _;
use ui::headless::HeadlessWindow;
pub use ui::headless::{Frame, HeadlessError};

use crate::app::{BackendLink, KioskApp};
use crate::model::ModelConfig;
use crate::slint_ui::KioskWindow;

/// A kiosk rendered into memory; its effects go nowhere.
pub struct HeadlessKiosk {
    window: HeadlessWindow,
    app: KioskApp,
}

impl std::fmt::Debug for HeadlessKiosk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessKiosk")
            .field("size", &self.window.size())
            .finish()
    }
}

impl HeadlessKiosk {
    /// Installs the headless platform and creates the kiosk (once per process) at
    /// `size` (width, height).
    pub fn new(config: ModelConfig, size: (u32, u32)) -> Result<HeadlessKiosk, HeadlessError> {
        let window = HeadlessWindow::install()?;
        let ui = KioskWindow::new()?;
        slint::ComponentHandle::show(&ui)?;
        let app = KioskApp::new(
            ui,
            config,
            BackendLink::detached("http://127.0.0.1:8470"),
            size.0 > size.1,
        );
        let mut k = HeadlessKiosk { window, app };
        k.set_size(size);
        Ok(k)
    }

    pub fn app(&self) -> &KioskApp {
        &self.app
    }

    /// Resizes the window (portrait when taller than wide).
    pub fn set_size(&mut self, size: (u32, u32)) {
        self.window.set_size(size);
        self.app
            .window()
            .global::<crate::slint_ui::Shell>()
            .set_landscape(size.0 > size.1);
    }

    /// Renders one whole frame.
    pub fn render(&self) -> Frame {
        self.window.render()
    }
}
