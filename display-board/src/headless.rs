//! Renders the board without a display, on Slint's software renderer: for the
//! screenshots in `docs/screenshots/`, the frame-time benchmark and the UI tests.
//!
//! It installs a process-wide Slint platform, so it must never be used in a process that
//! also opens a real window (`run`).

use slint::ComponentHandle;
use ui::Lang;
use ui::headless::HeadlessWindow;
pub use ui::headless::{Frame, HeadlessError};

use crate::Layout;
use crate::model::BoardView;
use crate::slint_ui::{BoardPage, BoardWindow};

/// One board rendered into memory.
pub struct HeadlessBoard {
    window: HeadlessWindow,
    ui: BoardWindow,
}

impl std::fmt::Debug for HeadlessBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessBoard")
            .field("size", &self.window.size())
            .finish()
    }
}

impl HeadlessBoard {
    /// Installs the headless platform and creates the board (once per process).
    pub fn new() -> Result<HeadlessBoard, HeadlessError> {
        let window = HeadlessWindow::install()?;
        let ui = BoardWindow::new()?;
        ui.show()?;
        let mut board = HeadlessBoard { window, ui };
        board.set_layout(Layout::Landscape);
        // Still frames: no blinking or scrolling mid-capture.
        board.page().set_animate(false);
        Ok(board)
    }

    pub fn page(&self) -> BoardPage<'_> {
        self.ui.global::<BoardPage>()
    }

    pub fn set_layout(&mut self, layout: Layout) {
        self.window.set_size(layout.size());
        self.page().set_layout(layout.as_str().into());
    }

    pub fn set_lang(&self, lang: Lang) -> Result<(), HeadlessError> {
        ui::headless::select_translation(lang)
    }

    /// Shows `view`, with a fixed clock so pictures are reproducible.
    pub fn show(&self, view: &BoardView, lang: Lang, date: &str, weekday: i32, clock: &str) {
        let page = self.page();
        crate::adapter::fill(&page, view, lang);
        page.set_date(date.into());
        page.set_weekday(weekday);
        page.set_clock(clock.into());
    }

    /// Renders one whole frame.
    pub fn render(&self) -> Frame {
        self.window.render()
    }
}
