//! Rendering without a display, on Slint's software renderer: what the apps' screenshots,
//! benchmarks and UI render tests share (behind the `headless` feature).
//!
//! [`HeadlessWindow::install`] installs a process-wide Slint platform whose one window
//! renders into memory. It must never be used in a process that also opens a real window
//! or uses Slint's testing backend, and it can be installed only once per process.
//!
//! ```ignore
//! let mut window = HeadlessWindow::install()?;
//! let ui = AppWindow::new()?; // lands in the headless window
//! ui.show()?;
//! window.set_size((1280, 800));
//! window.render().write_png(path)?;
//! ```

use std::fmt;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, PlatformError, WindowAdapter};
use slint::{PhysicalSize, Rgb8Pixel};

use crate::Lang;

#[derive(Debug, thiserror::Error)]
pub enum HeadlessError {
    #[error("a Slint platform is already installed in this process")]
    PlatformTaken,
    #[error("the UI could not be created: {0}")]
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

/// The headless platform's one window: every Slint component created after
/// [`HeadlessWindow::install`] is shown in it.
pub struct HeadlessWindow {
    window: Rc<MinimalSoftwareWindow>,
    size: (u32, u32),
}

impl fmt::Debug for HeadlessWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadlessWindow")
            .field("size", &self.size)
            .finish()
    }
}

impl HeadlessWindow {
    /// Installs the headless platform (once per process). The window has no size until
    /// [`HeadlessWindow::set_size`].
    pub fn install() -> Result<HeadlessWindow, HeadlessError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|_| HeadlessError::PlatformTaken)?;
        Ok(HeadlessWindow {
            window,
            size: (0, 0),
        })
    }

    /// The size in pixels (width, height).
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Resizes the window to `size` (width, height) in pixels.
    pub fn set_size(&mut self, size: (u32, u32)) {
        self.size = size;
        self.window.set_size(PhysicalSize::new(size.0, size.1));
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

/// Selects the bundled translation for `lang` (process-wide).
pub fn select_translation(lang: Lang) -> Result<(), HeadlessError> {
    slint::select_bundled_translation(lang.slint_locale())
        .map_err(|_| HeadlessError::NoTranslation(lang.slint_locale().into()))
}

/// An RGB image, row by row.
#[derive(Debug, Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<[u8; 3]>,
}

impl Frame {
    /// The pixel at (`x`, `y`); black outside the frame.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        self.pixels
            .get((y * self.width + x) as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Pixels in the box from (`x0`, `y0`) to (`x1`, `y1`), exclusive, that differ clearly
    /// from `bg`.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        // 3×2: white, with one black and one grey pixel in the bottom row.
        let mut pixels = vec![[255, 255, 255]; 6];
        pixels[3] = [0, 0, 0];
        pixels[4] = [200, 200, 200];
        Frame {
            width: 3,
            height: 2,
            pixels,
        }
    }

    #[test]
    fn pixels_are_read_row_by_row_and_black_outside() {
        let f = frame();
        assert_eq!(f.pixel(0, 1), [0, 0, 0]);
        assert_eq!(f.pixel(1, 1), [200, 200, 200]);
        assert_eq!(f.pixel(2, 0), [255, 255, 255]);
        assert_eq!(f.pixel(0, 5), [0, 0, 0]);
    }

    #[test]
    fn ink_counts_only_clearly_different_pixels_inside_the_box() {
        let f = frame();
        assert_eq!(f.ink(0, 0, 3, 2, [255, 255, 255]), 2);
        assert_eq!(f.ink(0, 0, 99, 99, [255, 255, 255]), 2);
        assert_eq!(f.ink(1, 0, 3, 2, [255, 255, 255]), 1);
        assert_eq!(f.ink(0, 0, 3, 1, [255, 255, 255]), 0);
    }
}
