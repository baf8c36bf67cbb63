//! Renders the counter station without a display, on Slint's software renderer: for the
//! screenshots in `docs/screenshots/` and the test that proves Chinese text really renders.
//!
//! It installs a process-wide Slint platform, so it must never be used in a process that
//! also opens a real window (`run`) or uses Slint's testing backend.

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, PlatformError, WindowAdapter};
use slint::{ComponentHandle, PhysicalSize, Rgb8Pixel};
use ui::Lang;

use crate::options::WindowSize;
use crate::slint_ui::CounterWindow;

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("a Slint platform is already installed in this process")]
    PlatformTaken,
    #[error("the counter UI could not be created: {0}")]
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

    /// Pixels in the box that differ clearly from `bg`.
    pub fn ink(&self, x0: u32, y0: u32, x1: u32, y1: u32, bg: [u8; 3]) -> usize {
        let mut n = 0;
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                let p = self.pixel(x, y);
                let d: i32 = (0..3)
                    .map(|i| (i32::from(p[i]) - i32::from(bg[i])).abs())
                    .sum();
                if d > 120 {
                    n += 1;
                }
            }
        }
        n
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

/// The counter window rendered into memory.
pub struct HeadlessCounter {
    window: Rc<MinimalSoftwareWindow>,
    ui: CounterWindow,
    size: WindowSize,
}

impl std::fmt::Debug for HeadlessCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessCounter")
            .field("size", &self.size)
            .finish()
    }
}

impl HeadlessCounter {
    /// Installs the headless platform and creates the window (once per process).
    pub fn new(size: WindowSize) -> Result<HeadlessCounter, HeadlessError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|_| HeadlessError::PlatformTaken)?;
        let ui = CounterWindow::new()?;
        ui.show()?;
        window.set_size(PhysicalSize::new(size.width, size.height));
        Ok(HeadlessCounter { window, ui, size })
    }

    pub fn ui(&self) -> &CounterWindow {
        &self.ui
    }

    pub fn set_lang(&self, lang: Lang) -> Result<(), HeadlessError> {
        slint::select_bundled_translation(lang.slint_locale())
            .map_err(|_| HeadlessError::NoTranslation(lang.slint_locale().into()))
    }

    /// Renders one whole frame.
    pub fn render(&self) -> Frame {
        slint::platform::update_timers_and_animations();
        let (w, h) = (self.size.width, self.size.height);
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
