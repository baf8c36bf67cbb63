//! Renders every kiosk screen in Chinese and English without a display and writes them
//! to `docs/screenshots/kiosk-<screen>-<zh|en>.png`:
//!
//!     cargo run -p servicehall-kiosk --example screenshots [-- OUT_DIR]

use std::path::PathBuf;

use kiosk::demo;
use kiosk::headless::HeadlessKiosk;
use kiosk::model::KioskModel;
use ui::Lang;

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"));
    std::fs::create_dir_all(&out)?;
    let mut k = HeadlessKiosk::new(Default::default(), kiosk::ScreenSize::PORTRAIT.into())?;
    for lang in Lang::ALL {
        for scene in demo::scenes(lang) {
            k.set_size((scene.size.width, scene.size.height));
            k.app().with_model(|m| {
                *m = KioskModel::new(scene.config.clone());
                for i in scene.inputs.clone() {
                    m.apply(i);
                }
            });
            let frame = k.render();
            let path = out.join(format!("kiosk-{}-{}.png", scene.name, lang.tag()));
            frame.write_png(&path)?;
            println!("{}", path.display());
        }
    }
    Ok(())
}
