//! The kiosk rendered on the software renderer: Chinese glyphs really render (the
//! embedded CJK font; without it Slint silently draws nothing), and every screen of the
//! demo renders in both languages and both orientations. With
//! SERVICEHALL_WRITE_SCREENSHOTS=1 the pictures are written to docs/screenshots/ (as the
//! `screenshots` example does). One test: the headless platform is per process.

use std::path::PathBuf;

use kiosk::ScreenSize;
use kiosk::demo;
use kiosk::headless::HeadlessKiosk;
use kiosk::model::{KioskModel, ModelConfig};
use slint::ComponentHandle;
use ui::Lang;

#[test]
fn chinese_renders_and_every_screen_draws_in_both_languages() {
    let mut k = HeadlessKiosk::new(ModelConfig::default(), ScreenSize::PORTRAIT.into()).unwrap();
    // The header's centre name alone, first Chinese then nothing: the ink is the glyphs'.
    let header = |k: &HeadlessKiosk, name: &str| {
        k.app()
            .with_model(|m| *m = KioskModel::new(ModelConfig::default()));
        k.app()
            .window()
            .global::<kiosk::slint_ui::Shell>()
            .set_centre_name(name.into());
        let f = k.render();
        let bg = f.pixel(2, 4);
        f.ink(20, 10, 400, 100, bg)
    };
    let chinese = header(&k, "售后服务中心");
    let blank = header(&k, "");
    assert!(
        chinese > 1_500 && blank < 50,
        "Chinese text did not render: {chinese} inked pixels (blank: {blank})"
    );

    let write = std::env::var_os("SERVICEHALL_WRITE_SCREENSHOTS").is_some();
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    if write {
        std::fs::create_dir_all(&out).unwrap();
    }
    for lang in Lang::ALL {
        for scene in demo::scenes(lang) {
            k.set_size(scene.size.into());
            k.app().with_model(|m| {
                *m = KioskModel::new(scene.config.clone());
                for i in scene.inputs.clone() {
                    m.apply(i);
                }
            });
            let f = k.render();
            assert_eq!((f.width, f.height), (scene.size.width, scene.size.height));
            // Something is drawn in the page area (not just the background).
            let bg = f.pixel(f.width - 3, f.height / 2);
            let ink = f.ink(0, 150, f.width, f.height - 150, bg);
            assert!(
                ink > 5_000,
                "{}/{lang}: the page looks empty ({ink})",
                scene.name
            );
            if write {
                f.write_png(&out.join(format!("kiosk-{}-{}.png", scene.name, lang.tag())))
                    .unwrap();
            }
        }
    }
}
