//! Renders the kiosk without a display, on Slint's software renderer: for the
//! screenshots in `docs/screenshots/`, the first-frame benchmark and the test that
//! proves Chinese text really renders.
//!
//! It installs a process-wide Slint platform, so it must never be used in a process that
//! also opens a real window ([`crate::run`]) or uses Slint's testing backend.

use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, PlatformError, WindowAdapter};
use slint::{ComponentHandle as _, PhysicalSize, Rgb8Pixel};

use crate::app::{BackendLink, KioskApp};
use crate::model::ModelConfig;
use crate::slint_ui::KioskWindow;

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("a Slint platform is already installed in this process")]
    PlatformTaken,
    #[error("the kiosk UI could not be created: {0}")]
    Ui(#[from] PlatformError),
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

    /// Pixels in the rectangle that differ clearly from `background`.
    pub fn ink(&self, x0: u32, y0: u32, x1: u32, y1: u32, background: [u8; 3]) -> usize {
        let mut n = 0;
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                let p = self.pixel(x, y);
                let d: i32 = (0..3)
                    .map(|i| (i32::from(p[i]) - i32::from(background[i])).abs())
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

/// A kiosk rendered into memory; its effects go nowhere.
pub struct HeadlessKiosk {
    window: Rc<MinimalSoftwareWindow>,
    app: KioskApp,
    size: (u32, u32),
}

impl std::fmt::Debug for HeadlessKiosk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadlessKiosk")
            .field("size", &self.size)
            .finish()
    }
}

impl HeadlessKiosk {
    /// Installs the headless platform and creates the kiosk (once per process) at
    /// `size` (width, height).
    pub fn new(config: ModelConfig, size: (u32, u32)) -> Result<HeadlessKiosk, HeadlessError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|_| HeadlessError::PlatformTaken)?;
        let ui = KioskWindow::new()?;
        slint::ComponentHandle::show(&ui)?;
        let app = KioskApp::new(
            ui,
            config,
            BackendLink::detached("http://127.0.0.1:8470/api/v1/tickets"),
            size.0 > size.1,
        );
        let mut k = HeadlessKiosk {
            window,
            app,
            size: (0, 0),
        };
        k.set_size(size);
        Ok(k)
    }

    pub fn app(&self) -> &KioskApp {
        &self.app
    }

    /// Resizes the window (portrait when taller than wide).
    pub fn set_size(&mut self, size: (u32, u32)) {
        self.size = size;
        self.window.set_size(PhysicalSize::new(size.0, size.1));
        self.app
            .window()
            .global::<crate::slint_ui::Shell>()
            .set_landscape(size.0 > size.1);
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
