//! Renders the board without a display, on Slint's software renderer: for the
//! screenshots in `docs/screenshots/`, the frame-time benchmark and the UI tests.
//!
//! It installs a process-wide Slint platform, so it must never be used in a process that
//! also opens a real window (`run`).

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::Rgb8Pixel;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, PlatformError, WindowAdapter};
use slint::{ComponentHandle, PhysicalSize};
use ui::Lang;

use crate::Layout;
use crate::model::BoardView;
use crate::slint_ui::{BoardPage, BoardWindow};

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("a Slint platform is already installed in this process")]
    PlatformTaken,
    #[error("the board UI could not be created: {0}")]
    Ui(#[from] PlatformError),
    #[error("no {0} translation is bundled")]
    NoTranslation(String),
    #[error("could not write {0}: {1}")]
    Png(String, String),
}

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    start: Instant,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }
}

/// One board rendered into memory.
pub struct HeadlessBoard {
    window: Rc<MinimalSoftwareWindow>,
    ui: BoardWindow,
    size: (u32, u32),
}

impl std::fmt::Debug for HeadlessBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessBoard")
            .field("size", &self.size)
            .finish()
    }
}

/// An RGB image, row by row.
#[derive(Debug, Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<[u8; 3]>,
}

impl Frame {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        self.pixels
            .get((y * self.width + x) as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Writes the frame as a PNG.
    pub fn write_png(&self, path: &Path) -> Result<(), HeadlessError> {
        let err = |e: String| HeadlessError::Png(path.display().to_string(), e);
        let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| err(e.to_string()))?;
        let bytes: Vec<u8> = self.pixels.iter().flatten().copied().collect();
        w.write_image_data(&bytes).map_err(|e| err(e.to_string()))?;
        w.finish().map_err(|e| err(e.to_string()))
    }
}

impl HeadlessBoard {
    /// Installs the headless platform and creates the board (once per process).
    pub fn new() -> Result<HeadlessBoard, HeadlessError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|_| HeadlessError::PlatformTaken)?;
        let ui = BoardWindow::new()?;
        ui.show()?;
        let mut board = HeadlessBoard {
            window,
            ui,
            size: (0, 0),
        };
        board.set_layout(Layout::Landscape);
        // Still frames: no blinking or scrolling mid-capture.
        board.page().set_animate(false);
        Ok(board)
    }

    pub fn page(&self) -> BoardPage<'_> {
        self.ui.global::<BoardPage>()
    }

    pub fn set_layout(&mut self, layout: Layout) {
        self.size = layout.size();
        self.window
            .set_size(PhysicalSize::new(self.size.0, self.size.1));
        self.page().set_layout(layout.as_str().into());
    }

    pub fn set_lang(&self, lang: Lang) -> Result<(), HeadlessError> {
        slint::select_bundled_translation(lang.slint_locale())
            .map_err(|_| HeadlessError::NoTranslation(lang.slint_locale().into()))
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
        slint::platform::update_timers_and_animations();
        let (w, h) = self.size;
        let mut buf = vec![Rgb8Pixel::new(0, 0, 0); (w * h) as usize];
        self.window.request_redraw();
        self.window.draw_if_needed(|r| {
            r.render(&mut buf, w as usize);
        });
        Frame {
            width: w,
            height: h,
            pixels: buf.iter().map(|p| [p.r, p.g, p.b]).collect(),
        }
    }
}
