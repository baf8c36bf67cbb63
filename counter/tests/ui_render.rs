//! The counter rendered on the software renderer: Chinese text really renders (the
//! embedded CJK font: without it Slint silently draws nothing), in the layout's smallest
//! size. One test: the headless platform is per process.

use counter::adapter::{self, UiState};
use counter::desk::DeskView;
use counter::headless::HeadlessCounter;
use counter::options::WindowSize;
use counter::slint_ui::Desk as DeskPage;
use slint::ComponentHandle;
use ui::Lang;

#[test]
fn chinese_text_renders_on_the_login_screen() {
    let screen = HeadlessCounter::new(WindowSize::MIN).unwrap();
    screen.set_lang(Lang::ZhCn).unwrap();
    let w = screen.ui();
    let state = UiState::new(Lang::ZhCn, 5);
    let view = DeskView {
        counter: 3,
        ..DeskView::default()
    };
    adapter::fill_names(w, &view, Lang::ZhCn);
    adapter::fill(w, &view, &state);

    // The centre's name is a Chinese-only label at the top of the login panel (a
    // 440 × 420 panel in the middle of 1280 × 800, 32 px padding).
    let (x0, y0, x1, y1) = (430, 212, 850, 256);
    w.global::<DeskPage>().set_centre("售后服务中心".into());
    let f = screen.render();
    assert_eq!((f.width, f.height), (1280, 800));
    let bg = f.pixel(x0 + 2, y0 + 2);
    let chinese = f.ink(x0, y0, x1, y1, bg);
    assert!(
        chinese > 400,
        "Chinese text did not render: {chinese} inked pixels"
    );
    w.global::<DeskPage>().set_centre("".into());
    let f = screen.render();
    assert!(
        f.ink(x0, y0, x1, y1, bg) < chinese / 10,
        "the ink was the label's"
    );

    // The translated chrome is Chinese too: the counter's title reads "3 号窗口" in
    // Chinese and "Counter 3" in English, and the two differ on screen.
    let zh = screen.render();
    screen.set_lang(Lang::En).unwrap();
    let en = screen.render();
    let (tx0, ty0, tx1, ty1) = (430, 258, 850, 300);
    let differing = (ty0..ty1)
        .flat_map(|y| (tx0..tx1).map(move |x| (x, y)))
        .filter(|(x, y)| zh.pixel(*x, *y) != en.pixel(*x, *y))
        .count();
    assert!(
        differing > 200,
        "the title did not change with the language"
    );
}
