//! The public ticket status page and the report pages in a real headless browser: Debian's
//! Chromium driven over WebDriver (chromedriver, started here on a free port). What a
//! customer sees on a phone (GB/T 4.1.3; no personal data, 5.4.2) is checked against the
//! hub's own figures, and what headquarters reads in its reports (GB/T 9.1.3, 9.2) against
//! figures worked out here with SQL from the same database. Screenshots are taken on every
//! run and written to `docs/screenshots/` with `SERVICEHALL_SCREENSHOTS=1`, for people to
//! look at; they are never compared, so they cannot make a test flaky.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`, which
//! `scripts/setup-deps.sh` installs); without them these tests fail, they do not skip.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use domain::{Channel, PriorityClass, ServiceType};
use fantoccini::{Client, ClientBuilder, Locator};
use hq::testkit::TestHq;
use hub::testkit::{TestHub, config};
use hyper_util::client::legacy::connect::HttpConnector;
use protocol::{HubClient, IssueTicket, IssuedTicket, status_page_url};
use serde_json::{Value, json};

use common::sync::{hq_section, synced};

/// A phone's viewport in CSS pixels (an iPhone 12–15 class handset).
const PHONE: (u32, u32) = (390, 844);
/// A common office laptop screen.
const DESKTOP: (u32, u32) = (1366, 900);

/// Flags that keep Chromium quiet and working as root on a machine without a network.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

// ---------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------

/// `name` on PATH, else in /usr/bin; a failure that says how to install it.
fn program(name: &str, package: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    on_path
        .or_else(|| Some(Path::new("/usr/bin").join(name)).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: the browser tests need Debian's `{package}` \
                 package (run scripts/setup-deps.sh, or apt-get install chromium chromium-driver)"
            )
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A chromedriver process (in its own process group, with the Chromium it starts) and the
/// browser's throwaway profile; the whole group is killed on drop, also when a test fails.
struct Driver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        use std::os::unix::process::CommandExt as _;
        let exe = program("chromedriver", "chromium-driver");
        let profile = tempfile::Builder::new()
            .prefix("browser-profile-")
            .tempdir()
            .expect("a temp dir for the browser profile");
        let port = free_port();
        let mut child = Command::new(&exe)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(15);
        let http = reqwest::Client::new();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "chromedriver exited at once ({status}); is it the same version as chromium?"
                );
            }
            let ready = match http.get(format!("{url}/status")).send().await {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == json!(true)),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver {
            child,
            url,
            profile,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group: chromedriver and any Chromium it left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session: a phone (mobile emulation, so the page's viewport meta counts as
/// on a real phone) or a laptop-sized window.
struct Browser {
    client: Client,
    // Dropped after the client: kills chromedriver and the browser.
    _driver: Driver,
}

impl Browser {
    async fn phone() -> Browser {
        Browser::start(true).await
    }

    async fn desktop() -> Browser {
        Browser::start(false).await
    }

    async fn start(phone: bool) -> Browser {
        let binary = program("chromium", "chromium");
        let driver = Driver::start().await;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!(
            "--user-data-dir={}",
            driver.profile.path().display()
        ));
        let mut options = json!({ "binary": binary, "args": args });
        if phone {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {
                    "width": PHONE.0, "height": PHONE.1, "pixelRatio": 2.0,
                    "mobile": true, "touch": true
                }
            });
        } else {
            options["args"]
                .as_array_mut()
                .expect("args")
                .push(json!(format!("--window-size={},{}", DESKTOP.0, DESKTOP.1)));
        }
        let mut caps = fantoccini::wd::Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("no browser session from chromedriver: {e}"));
        let b = Browser {
            client,
            _driver: driver,
        };
        if !phone {
            b.fit_viewport(DESKTOP.0, DESKTOP.1).await;
        }
        b
    }

    /// Sizes the window so the page's viewport is exactly `w`×`h` CSS pixels.
    async fn fit_viewport(&self, w: u32, h: u32) {
        self.client
            .set_window_size(w, h)
            .await
            .expect("window size");
        let inner: (u32, u32) = self
            .js("return [window.innerWidth, window.innerHeight];")
            .await;
        if inner != (w, h) {
            let (ow, oh) = self.client.get_window_size().await.expect("window size");
            let (ow, oh) = (ow as u32, oh as u32);
            self.client
                .set_window_size(ow + w - inner.0.min(w), oh + h - inner.1.min(h))
                .await
                .expect("window size");
        }
    }

    /// Opens `url` and checks the browser got it with HTTP 200 and a title.
    async fn open(&self, url: &str) -> String {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        let status: u16 = self
            .js("return performance.getEntriesByType('navigation')[0].responseStatus;")
            .await;
        assert_eq!(status, 200, "{url}");
        let title = self.client.title().await.expect("title");
        assert!(!title.trim().is_empty(), "{url} has no title");
        title
    }

    async fn js<T: FromJs>(&self, script: &str) -> T {
        let v = self
            .client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script}: {e}"));
        T::from_js(v.clone()).unwrap_or_else(|e| panic!("script {script} gave {v}: {e}"))
    }

    /// The visible text of the element `css`.
    async fn text(&self, css: &str) -> String {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} on the page: {e}"));
        e.text().await.expect("element text")
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} on the page: {e}"));
        e.attr(name)
            .await
            .expect("attribute")
            .unwrap_or_else(|| panic!("{css} has no {name}"))
    }

    /// The machine figure (`data-value`) of the element with id `id`.
    async fn figure(&self, id: &str) -> String {
        self.attr(&format!("#{id}"), "data-value").await
    }

    async fn number(&self, id: &str) -> f64 {
        let v = self.figure(id).await;
        v.parse()
            .unwrap_or_else(|_| panic!("#{id} is not a number: {v:?}"))
    }

    /// The page fits the viewport's width: nothing to scroll sideways.
    async fn assert_no_horizontal_scroll(&self, what: &str) {
        let (scroll, inner): (u32, u32) = self
            .js("return [document.documentElement.scrollWidth, window.innerWidth];")
            .await;
        assert!(
            scroll <= inner,
            "{what}: the page is {scroll} px wide in a {inner} px viewport"
        );
    }

    /// The computed font size of `css`, in CSS pixels.
    async fn font_px(&self, css: &str) -> f64 {
        self.js(&format!(
            "return parseFloat(getComputedStyle(document.querySelector('{css}')).fontSize);"
        ))
        .await
    }

    /// Chinese text is drawn with real glyphs, not the empty boxes of a missing font: two
    /// different characters must draw differently, and unlike a code point no font has.
    async fn assert_chinese_renders(&self, what: &str) {
        let ok: bool = self
            .js("const draw = t => {
                   const c = document.createElement('canvas');
                   c.width = 48; c.height = 48;
                   const g = c.getContext('2d');
                   g.font = '32px ' + getComputedStyle(document.body).fontFamily;
                   g.fillText(t, 4, 38);
                   return g.getImageData(0, 0, 48, 48).data.join(',');
                 };
                 const a = draw('号'), b = draw('码'), none = draw('\\u0378');
                 return a !== b && a !== none;")
            .await;
        assert!(
            ok,
            "{what}: Chinese is drawn as empty boxes; install a Chinese font \
             (Debian's fonts-wqy-microhei, see scripts/setup-deps.sh)"
        );
    }

    /// Takes a screenshot of the viewport (a PNG, checked to be one). With
    /// `SERVICEHALL_SCREENSHOTS=1` it is written to `docs/screenshots/{name}.png`, so an
    /// ordinary test run leaves the checkout as it was (the pages show the time).
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
        if std::env::var_os("SERVICEHALL_SCREENSHOTS").is_none() {
            return;
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }

    /// The whole page, top to bottom, at the current width (the viewport grows for the shot
    /// and is put back after).
    async fn screenshot_full(&self, name: &str) {
        let height: u32 = self
            .js("return Math.ceil(document.documentElement.scrollHeight);")
            .await;
        self.fit_viewport(DESKTOP.0, height.clamp(DESKTOP.1, 5000))
            .await;
        self.screenshot(name).await;
        self.fit_viewport(DESKTOP.0, DESKTOP.1).await;
    }

    async fn close(self) {
        self.client.close().await.expect("end the browser session");
    }
}

/// What a script run in the page may return.
trait FromJs: Sized {
    fn from_js(v: Value) -> serde_json::Result<Self>;
}

macro_rules! from_js {
    ($($t:ty),*) => {$(
        impl FromJs for $t {
            fn from_js(v: Value) -> serde_json::Result<Self> {
                serde_json::from_value(v)
            }
        }
    )*};
}

from_js!(
    bool,
    u16,
    u32,
    f64,
    String,
    (u32, u32),
    Vec<(String, f64, f64, usize)>
);

// ---------------------------------------------------------------------------------------
// The ticket status page on a phone
// ---------------------------------------------------------------------------------------

async fn issue(client: &HubClient, service: ServiceType) -> IssuedTicket {
    client
        .issue_ticket(&IssueTicket {
            service,
            class: PriorityClass::Normal,
            channel: Channel::OnSite,
            device: Some("kiosk-1".into()),
        })
        .await
        .expect("issue a ticket")
}

/// How a wait reads on the page: whole minutes, rounded up.
fn wait_zh(secs: u32) -> String {
    match secs.div_ceil(60) {
        0 => "马上".to_owned(),
        m @ 1..60 => format!("约 {m} 分钟"),
        m => format!("约 {} 小时 {:02} 分", m / 60, m % 60),
    }
}

/// What a phone shows must fit it and be readable (the number in large type).
async fn assert_fits_a_phone(b: &Browser, what: &str) {
    let inner: (u32, u32) = b
        .js("return [window.innerWidth, window.innerHeight];")
        .await;
    assert_eq!(inner, PHONE, "{what}: the phone's viewport");
    b.assert_no_horizontal_scroll(what).await;
    b.assert_chinese_renders(what).await;
    let number_px = b.font_px("#number").await;
    assert!(
        number_px >= 24.0,
        "{what}: the ticket number is set in {number_px} px"
    );
    let state_px = b.font_px("#state").await;
    assert!(
        state_px >= 16.0,
        "{what}: the state is set in {state_px} px"
    );
}

/// GB/T 5.4.2: the public page shows no personal data: no staff, no customer.
async fn assert_no_personal_data(b: &Browser, what: &str) {
    let text: String = b.js("return document.body.innerText;").await;
    for secret in ["Supervisor", "13912345678"] {
        assert!(!text.contains(secret), "{what} shows {secret:?}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hub_status_page_on_a_phone() {
    // GB/T 4.1.3: the customer follows the ticket from the QR code on a phone.
    let hub = TestHub::start(config("")).await;
    let first = issue(&hub.client, ServiceType::Repair).await;
    let ours = issue(&hub.client, ServiceType::Repair).await;
    assert_eq!(ours.people_ahead, 1, "the first ticket is ahead");
    let url = status_page_url(&hub.url, "test-centre", &ours.ticket.status_token);

    let b = Browser::phone().await;
    let title = b.open(&url).await;
    assert!(title.contains(&ours.ticket.number), "title {title:?}");
    assert_eq!(b.text("#number").await, ours.ticket.number);
    assert_eq!(b.attr("#state", "data-state").await, "waiting");
    assert!(b.text("#state").await.starts_with("等候中"));
    let ahead = b.text("#ahead").await;
    assert!(
        ahead.contains(&format!("{} 人", ours.people_ahead)) && ahead.contains("1 person"),
        "people ahead: {ahead:?}"
    );
    let wait = b.text("#wait").await;
    assert!(
        wait.contains(&wait_zh(ours.estimated_wait_secs)),
        "estimated wait {}s shown as {wait:?}",
        ours.estimated_wait_secs
    );
    assert!(b.text("#as-of").await.contains("更新于"));
    assert_fits_a_phone(&b, "hub status page").await;
    assert_no_personal_data(&b, "hub status page").await;
    b.screenshot("status-page-hub").await;

    // Called to counter 3 (not in turn: the first ticket still waits); a reload says where.
    let (sup, _) = hub.login("sup", Some(3)).await;
    sup.ticket_action(ours.ticket.id, "call")
        .await
        .expect("call the ticket");
    b.client.refresh().await.expect("reload");
    assert_eq!(b.attr("#state", "data-state").await, "called");
    let counter = b.text("#counter").await;
    assert!(
        counter.contains("3 号窗口") && counter.contains("counter 3"),
        "counter: {counter:?}"
    );
    assert_fits_a_phone(&b, "hub status page, called").await;
    assert_no_personal_data(&b, "hub status page, called").await;
    b.screenshot("status-page-hub-called").await;
    b.close().await;
    // The other customer's page is untouched: still waiting, nobody ahead.
    let other = hub
        .client
        .ticket_status("test-centre", &first.ticket.status_token)
        .await
        .expect("status");
    assert_eq!(other.people_ahead, Some(0));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hq_status_page_on_a_phone() {
    // GB/T 4.1.3: headquarters serves the same page from synced data, saying how fresh it is.
    let hq = TestHq::start().await;
    let token = hq.add_centre("test-centre", "测试服务中心").await;
    let hub = TestHub::start(config(&hq_section(&hq.url, &token, ""))).await;
    issue(&hub.client, ServiceType::Consultation).await;
    let ours = issue(&hub.client, ServiceType::Consultation).await;
    synced(&hub.client).await;
    hq.project().await;
    let at_hub = hub
        .client
        .ticket_status("test-centre", &ours.ticket.status_token)
        .await
        .expect("the hub's status");

    let b = Browser::phone().await;
    let title = b
        .open(&status_page_url(
            &hq.url,
            "test-centre",
            &ours.ticket.status_token,
        ))
        .await;
    assert!(title.contains(&ours.ticket.number), "title {title:?}");
    assert_eq!(b.text("#number").await, at_hub.number);
    assert_eq!(b.attr("#state", "data-state").await, at_hub.state.code());
    let ahead = b.text("#ahead").await;
    assert!(
        ahead.contains(&format!(
            "前面还有 {} 人",
            at_hub.people_ahead.expect("waiting")
        )),
        "people ahead: {ahead:?}"
    );
    // As of: a moment in the centre's time, and the machine form beside it.
    let as_of = b.text("#as-of").await;
    let today = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%Y-%m-%d")
        .to_string();
    assert!(as_of.starts_with(&today), "as of {as_of:?}");
    let iso = b.attr("#as-of", "datetime").await;
    assert!(
        chrono::DateTime::parse_from_rfc3339(&iso).is_ok(),
        "datetime {iso:?}"
    );
    assert!(
        b.text("main")
            .await
            .contains("总部数据可能比服务中心现场略有延迟")
    );
    assert_fits_a_phone(&b, "headquarters status page").await;
    assert_no_personal_data(&b, "headquarters status page").await;
    b.screenshot("status-page-hq").await;
    b.close().await;
    hub.stop().await;
}

// ---------------------------------------------------------------------------------------
// The report pages on a laptop
// ---------------------------------------------------------------------------------------

const PERIOD: &str = "from=2024-03-01&to=2024-03-10";

/// Two centres in Beijing time with a month of generated business: ratings, tickets,
/// requests and refunds spread over 1–10 March 2024 (and some in the previous period),
/// every time of day well inside its local date.
const SEED: &str = r#"
INSERT INTO ratings (centre_id, rating_id, service, score, via, counter, staff_id, at)
SELECT 'c1', g, CASE WHEN g % 2 = 0 THEN 'repair' ELSE 'consultation' END,
       (ARRAY[3, 4, 5, 5, 4, 2, 1, 5, 4])[1 + g % 9], 'kiosk', 1 + g % 3, 's' || (1 + g % 3),
       timestamptz '2024-03-01 01:00+00' + (g % 10) * interval '1 day' + (g % 7) * interval '1 hour'
  FROM generate_series(1, 60) g;
INSERT INTO ratings (centre_id, rating_id, service, score, via, counter, staff_id, at)
SELECT 'c1', 100 + g, 'repair', 4 + g % 2, 'kiosk', 1, 's1',
       timestamptz '2024-02-20 03:00+00' + (g % 10) * interval '1 day'
  FROM generate_series(1, 20) g;
INSERT INTO ratings (centre_id, rating_id, service, score, via, counter, staff_id, at)
SELECT 'c2', g, 'installation', 2 + g % 4, 'counter', 1, 'x1',
       timestamptz '2024-03-02 03:00+00' + (g % 8) * interval '1 day'
  FROM generate_series(1, 15) g;

INSERT INTO tickets (centre_id, ticket_id, number, service, class, channel, issued_at, called_at,
                     counter, staff_id, service_secs, state, updated_at)
SELECT 'c1', g, 'A' || lpad(g::text, 3, '0'),
       CASE WHEN g % 2 = 0 THEN 'repair' ELSE 'consultation' END, 'normal', 'on_site', issued,
       CASE WHEN g % 8 = 0 THEN NULL ELSE issued + ((g * 37) % 900 + 30) * interval '1 second' END,
       CASE WHEN g % 8 = 0 THEN NULL ELSE 1 + g % 3 END,
       CASE WHEN g % 8 = 0 THEN NULL ELSE 's' || (1 + g % 3) END,
       CASE WHEN g % 8 = 0 THEN NULL ELSE (g * 53) % 1200 + 60 END,
       CASE WHEN g % 8 = 0 THEN 'cancelled' ELSE 'finished' END, now()
  FROM generate_series(1, 50) g,
       LATERAL (SELECT timestamptz '2024-03-01 01:00+00' + (g % 10) * interval '1 day'
                       + g * interval '5 minutes' AS issued) i;
INSERT INTO tickets (centre_id, ticket_id, number, service, class, channel, issued_at, called_at,
                     counter, staff_id, service_secs, state, updated_at)
SELECT 'c1', 100 + g, 'B' || lpad(g::text, 3, '0'), 'repair', 'normal', 'on_site', issued,
       issued + ((g * 29) % 300 + 20) * interval '1 second', 1, 's1', 300, 'finished', now()
  FROM generate_series(1, 10) g,
       LATERAL (SELECT timestamptz '2024-02-20 02:00+00' + g * interval '1 day' AS issued) i;

INSERT INTO requests (centre_id, request_id, service, channel, ticket_id, stage, created_at,
                      reply_due, resolve_due, answered_at, resolved_at, updated_at)
SELECT 'c1', g, CASE WHEN g % 2 = 0 THEN 'repair' ELSE 'consultation' END, 'on_site', g,
       CASE WHEN g % 7 = 0 THEN 'processing' ELSE 'archiving' END, created,
       created + interval '4 hours', created + interval '3 days',
       created + (g % 6) * interval '1 hour',
       CASE WHEN g % 7 = 0 THEN NULL ELSE created + (g % 5) * interval '1 day' END, now()
  FROM generate_series(1, 30) g,
       LATERAL (SELECT timestamptz '2024-03-01 02:00+00' + (g % 10) * interval '1 day' AS created) c;

INSERT INTO refunds (centre_id, refund_id, request_id, amount_fen, due_date, recorded_at, paid_at)
SELECT 'c1', g, g, 1000 * g + 50, due, due - 7,
       CASE WHEN g % 9 = 0 THEN NULL
            ELSE (due + (g % 4) - 2)::timestamp AT TIME ZONE 'UTC' + interval '3 hours' END
  FROM generate_series(1, 20) g,
       LATERAL (SELECT date '2024-03-01' + g % 10 AS due) d;
"#;

async fn seeded() -> TestHq {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "北京朝阳").await;
    hq.add_centre("c2", "上海浦东").await;
    hq.client().await.batch_execute(SEED).await.expect("seed");
    hq
}

/// One number from SQL (NULL as NaN).
async fn sql(hq: &TestHq, query: &str) -> f64 {
    let row = hq
        .client()
        .await
        .query_one(query, &[])
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    row.get::<_, Option<f64>>(0).unwrap_or(f64::NAN)
}

/// "In the period", for a timestamp column: its date in Beijing is 1–10 March 2024.
fn in_period(col: &str) -> String {
    format!("({col} AT TIME ZONE 'Asia/Shanghai')::date BETWEEN '2024-03-01' AND '2024-03-10'")
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() < 1e-5,
        "{what}: the page says {got}, SQL says {want}"
    );
}

/// A small RFC 4180 reader: rows of fields, keyed by the header.
fn parse_csv(s: &str) -> Vec<HashMap<String, String>> {
    // Every export starts with a UTF-8 byte-order mark (for Excel).
    let s = s
        .strip_prefix('\u{feff}')
        .expect("a CSV export starts with a BOM");
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(s.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect();
    let header = rows.first().cloned().unwrap_or_default();
    rows.iter()
        .skip(1)
        .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

/// Follows the page's CSV link (as a person would download it) and returns its rows.
async fn csv_of_page(b: &Browser) -> Vec<HashMap<String, String>> {
    let link = b
        .client
        .find(Locator::Css("#csv-link"))
        .await
        .expect("a CSV link");
    let href = link
        .prop("href")
        .await
        .expect("href")
        .expect("the link has an address");
    let r = reqwest::get(&href).await.expect("download the CSV");
    assert_eq!(r.status().as_u16(), 200, "{href}");
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("text/csv"), "{href}: {ct}");
    parse_csv(&r.text().await.expect("CSV text"))
}

fn csv_total(rows: &[HashMap<String, String>]) -> &HashMap<String, String> {
    rows.iter()
        .find(|r| r["period"] == "current" && r["group"] == "all")
        .expect("the CSV's current/all row")
}

fn csv_num(r: &HashMap<String, String>, col: &str) -> f64 {
    r[col]
        .parse()
        .unwrap_or_else(|_| panic!("CSV {col} is not a number: {:?}", r[col]))
}

/// Every chart on the page is drawn: an SVG with a size, and marks in it (bars with a
/// height or points of a line).
async fn assert_charts_drawn(b: &Browser, what: &str, at_least: usize) {
    let charts: Vec<(String, f64, f64, usize)> = b
        .js(
            "return [...document.querySelectorAll('figure[id^=\"chart-\"]')].map(f => {
               const svg = f.querySelector('svg');
               const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
               const marks = svg ? [...svg.querySelectorAll('rect.bar, circle.point')]
                   .filter(m => m.getBBox().height > 0 || m.tagName === 'circle').length : 0;
               return [f.id, r.width, r.height, marks];
             });",
        )
        .await;
    assert!(
        charts.len() >= at_least,
        "{what}: {} chart(s), expected {at_least}",
        charts.len()
    );
    for (id, w, h, marks) in charts {
        assert!(w > 100.0 && h > 100.0, "{what}: #{id} is {w}×{h}");
        assert!(marks > 0, "{what}: #{id} draws nothing");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn report_pages_in_a_browser() {
    let hq = seeded().await;
    let b = Browser::desktop().await;
    let base = &hq.url;
    let c1 = format!("centre=c1&{PERIOD}");

    // Overview (GB/T 9.1.3, 9.2): one row per centre, each figure equal to SQL.
    let title = b.open(&format!("{base}/reports?{PERIOD}")).await;
    assert!(title.contains("服务质量报表"), "{title}");
    let c1_mean = sql(
        &hq,
        &format!(
            "SELECT avg(score)::float8 FROM ratings WHERE centre_id = 'c1' AND {}",
            in_period("at")
        ),
    )
    .await;
    let all_n = sql(
        &hq,
        &format!(
            "SELECT count(*)::float8 FROM ratings WHERE {}",
            in_period("at")
        ),
    )
    .await;
    let row_value = |centre: &str, col: &str| {
        format!(
            "return document.querySelector('tr[data-centre=\"{centre}\"] td[data-col=\"{col}\"]')\
             .dataset.value;"
        )
    };
    let got: String = b.js(&row_value("c1", "sat_mean")).await;
    close(got.parse().expect("a number"), c1_mean, "overview c1 mean");
    let got: String = b.js(&row_value("*", "sat_n")).await;
    close(got.parse().expect("a number"), all_n, "overview ratings");
    b.assert_no_horizontal_scroll("overview").await;
    let csv = csv_of_page(&b).await;
    let c1_row = csv.iter().find(|r| r["centre"] == "c1").expect("c1 in CSV");
    close(
        csv_num(c1_row, "satisfaction_mean"),
        c1_mean,
        "overview CSV",
    );
    b.assert_chinese_renders("overview").await;

    // Satisfaction (GB/T 9.1.3): count and mean of the period's ratings.
    let title = b.open(&format!("{base}/reports/satisfaction?{c1}")).await;
    assert!(title.contains("满意度"), "{title}");
    close(
        b.number("sat-n").await,
        sql(
            &hq,
            &format!(
                "SELECT count(*)::float8 FROM ratings WHERE centre_id = 'c1' AND {}",
                in_period("at")
            ),
        )
        .await,
        "ratings",
    );
    close(b.number("sat-mean").await, c1_mean, "mean satisfaction");
    for score in 1..=5 {
        close(
            b.number(&format!("sat-dist-{score}")).await,
            sql(
                &hq,
                &format!(
                    "SELECT count(*)::float8 FROM ratings WHERE centre_id = 'c1' AND score = {score} AND {}",
                    in_period("at")
                ),
            )
            .await,
            &format!("ratings of {score}"),
        );
    }
    assert_charts_drawn(&b, "satisfaction", 2).await;
    b.assert_no_horizontal_scroll("satisfaction").await;
    close(
        csv_num(csv_total(&csv_of_page(&b).await), "mean"),
        c1_mean,
        "satisfaction CSV",
    );
    b.screenshot_full("hq-report-satisfaction").await;

    // Response and service time (GB/T 4.1.1): interpolated percentiles over called tickets.
    let title = b.open(&format!("{base}/reports/response?{c1}")).await;
    assert!(title.contains("响应"), "{title}");
    let wait_p90 = sql(
        &hq,
        &format!(
            "SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM called_at - issued_at))::float8 \
             FROM tickets WHERE centre_id = 'c1' AND called_at IS NOT NULL AND {}",
            in_period("issued_at")
        ),
    )
    .await;
    close(b.number("resp-wait-p90").await, wait_p90, "response p90");
    close(
        b.number("resp-svc-p50").await,
        sql(
            &hq,
            &format!(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY service_secs)::float8 \
                 FROM tickets WHERE centre_id = 'c1' AND service_secs IS NOT NULL AND {}",
                in_period("issued_at")
            ),
        )
        .await,
        "service time p50",
    );
    assert_charts_drawn(&b, "response", 2).await;
    b.assert_no_horizontal_scroll("response").await;
    close(
        csv_num(csv_total(&csv_of_page(&b).await), "wait_p90_secs"),
        wait_p90,
        "response CSV",
    );
    b.screenshot_full("hq-report-response").await;

    // Requests resolved within the promised time (GB/T 4.1.2): on time among those decided.
    let title = b.open(&format!("{base}/reports/requests?{c1}")).await;
    assert!(title.contains("时限"), "{title}");
    let resolve_share = sql(
        &hq,
        &format!(
            "SELECT (count(*) FILTER (WHERE resolved_at <= resolve_due))::float8 \
                  / (count(*) FILTER (WHERE resolved_at IS NOT NULL OR resolve_due < now())) \
             FROM requests WHERE centre_id = 'c1' AND resolve_due IS NOT NULL AND {}",
            in_period("created_at")
        ),
    )
    .await;
    close(
        b.number("req-total").await,
        sql(
            &hq,
            &format!(
                "SELECT count(*)::float8 FROM requests WHERE centre_id = 'c1' AND {}",
                in_period("created_at")
            ),
        )
        .await,
        "requests",
    );
    close(
        b.number("req-resolve-share").await,
        resolve_share,
        "within the promised time",
    );
    assert_charts_drawn(&b, "requests", 1).await;
    b.assert_no_horizontal_scroll("requests").await;
    close(
        csv_num(csv_total(&csv_of_page(&b).await), "resolve_share"),
        resolve_share,
        "requests CSV",
    );
    b.screenshot_full("hq-report-requests").await;

    // Refunds within 5 working days (GB/T 8.4.3): paid on or before the due date, in the
    // centre's dates; unpaid past due is late.
    let title = b.open(&format!("{base}/reports/refunds?{c1}")).await;
    assert!(title.contains("退款"), "{title}");
    let refund_share = sql(
        &hq,
        "SELECT (count(*) FILTER (WHERE (paid_at AT TIME ZONE 'Asia/Shanghai')::date <= due_date))::float8 \
              / count(*) FILTER (WHERE paid_at IS NOT NULL OR due_date < current_date) \
         FROM refunds WHERE centre_id = 'c1' AND due_date BETWEEN '2024-03-01' AND '2024-03-10'",
    )
    .await;
    close(b.number("ref-share").await, refund_share, "refunds on time");
    close(
        b.number("ref-unpaid-late").await,
        sql(
            &hq,
            "SELECT count(*)::float8 FROM refunds WHERE centre_id = 'c1' AND paid_at IS NULL \
             AND due_date BETWEEN '2024-03-01' AND '2024-03-10'",
        )
        .await,
        "unpaid and late",
    );
    assert_charts_drawn(&b, "refunds", 1).await;
    b.assert_no_horizontal_scroll("refunds").await;
    close(
        csv_num(csv_total(&csv_of_page(&b).await), "share"),
        refund_share,
        "refunds CSV",
    );
    b.screenshot_full("hq-report-refunds").await;

    // Targets (GB/T 9.2), set through the form as a manager would: one the centre misses
    // (a mean above what it reached) and one it meets.
    let sat_target = ((c1_mean + 0.5) * 10.0).round() / 10.0;
    let refund_target = ((refund_share - 0.1) * 100.0).round() / 100.0;
    for (metric, centre, value, note) in [
        (
            "satisfaction_mean",
            "c1",
            sat_target,
            "一季度目标, \"stretch\"",
        ),
        ("refunds_on_time_share", "*", refund_target, ""),
    ] {
        let title = b.open(&format!("{base}/reports/targets")).await;
        assert!(title.contains("改进目标"), "{title}");
        let form = b
            .client
            .find(Locator::Css("#target-form"))
            .await
            .expect("the target form");
        form.find(Locator::Css("select[name=metric]"))
            .await
            .expect("metric")
            .select_by_value(metric)
            .await
            .expect("choose the metric");
        form.find(Locator::Css("select[name=centre]"))
            .await
            .expect("centre")
            .select_by_value(centre)
            .await
            .expect("choose the centre");
        // A date field types in the browser's locale; set its value as the picker would.
        b.client
            .execute(
                "document.querySelector('#target-form input[name=valid_from]').value = '2024-01-01';",
                vec![],
            )
            .await
            .expect("valid from");
        let target = form
            .find(Locator::Css("input[name=target]"))
            .await
            .expect("target field");
        target.send_keys(&value.to_string()).await.expect("type");
        form.find(Locator::Css("input[name=note]"))
            .await
            .expect("note field")
            .send_keys(note)
            .await
            .expect("type");
        form.find(Locator::Css("button[type=submit]"))
            .await
            .expect("save button")
            .click()
            .await
            .expect("save");
        b.client
            .wait()
            .for_element(Locator::Css("#saved"))
            .await
            .expect("the saved notice");
        let row = format!("tr.target[data-metric=\"{metric}\"][data-centre=\"{centre}\"]");
        close(
            b.attr(&row, "data-value").await.parse().expect("a number"),
            value,
            "the saved target",
        );
    }
    b.assert_no_horizontal_scroll("targets").await;
    let csv = csv_of_page(&b).await;
    let sat = csv
        .iter()
        .find(|r| r["metric"] == "satisfaction_mean")
        .expect("the target in the CSV");
    assert_eq!(sat["note"], "一季度目标, \"stretch\"");
    close(csv_num(sat, "target"), sat_target, "targets CSV");
    b.screenshot_full("hq-report-targets").await;

    // Each report shows its target beside the figure, judged as the numbers say.
    let verdict = |met: bool| if met { "met" } else { "not_met" };
    b.open(&format!("{base}/reports/satisfaction?{c1}")).await;
    close(
        b.number("sat-mean-target").await,
        sat_target,
        "target shown",
    );
    assert_eq!(
        b.figure("sat-mean-target-met").await,
        verdict(c1_mean >= sat_target)
    );
    assert!(b.text("#sat-mean-target-met").await.contains("未达标"));
    b.open(&format!("{base}/reports/refunds?{c1}")).await;
    assert_eq!(
        b.figure("ref-share-target-met").await,
        verdict(refund_share >= refund_target)
    );
    assert!(b.text("#ref-share-target-met").await.contains("达标"));
    // The overview judges each centre against its own target.
    b.open(&format!("{base}/reports?{PERIOD}")).await;
    let met: String = b
        .js("return document.querySelector('tr[data-centre=\"c1\"] td[data-col=\"sat_mean\"]').dataset.met;")
        .await;
    assert_eq!(met, verdict(c1_mean >= sat_target));
    b.screenshot_full("hq-report-overview").await;
    b.close().await;
}
