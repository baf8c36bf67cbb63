//! Fuzzes the hub's request decoding through its real router: any method, route, path
//! segment, token and body a device on the LAN could send. Nothing may panic, and no
//! input may produce a 500 (bad input is the caller's problem: a 4xx naming it).

#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// Every route of the API, with `{}` where a path segment goes.
const ROUTES: &[&str] = &[
    "/health", "/catalogue", "/queue", "/tickets", "/tickets/unprinted", "/tickets/{}",
    "/tickets/{}/{}", "/call-next", "/day/open", "/day/close", "/sessions",
    "/sessions/current", "/requests", "/requests/{}", "/requests/{}/advance",
    "/requests/{}/quote", "/requests/{}/quote/acknowledge", "/requests/{}/payments",
    "/requests/{}/refunds", "/refunds", "/refunds/{}/paid", "/audit/verify", "/knowledge",
    "/intake", "/alerts", "/appointments", "/appointments/slots", "/appointments/check-in",
    "/appointments/{}", "/appointments/{}/reschedule", "/appointments/{}/cancel", "/sms",
    "/sms/lease", "/sms/opt-out", "/sms/{}/result", "/requests/{}/sms-opt-out",
    "/tickets/{}/rating", "/tickets/{}/requests", "/queue/waiting", "/counters/{}/today",
    "/requests/{}/contact/reveal", "/requests/{}/agreements", "/follow-ups",
    "/requests/{}/follow-up", "/customers/{}/erase",
];
const METHODS: &[Method] = &[Method::GET, Method::POST, Method::DELETE, Method::PUT];

struct Hub {
    rt: tokio::runtime::Runtime,
    app: Router,
    token: String,
    _open: hub::OpenHub,
    _dir: tempfile::TempDir,
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = hub::testkit::config("");
        let (open, app, token) = rt.block_on(async {
            let open = hub::OpenHub::open(hub::HubOptions {
                data_dir: dir.path().to_owned(),
                config: cfg,
                clock: Some(hub::store::Clock::new(true)),
                open_day_on_start: true,
            })
            .await
            .expect("open the hub");
            let app = open.router();
            let login = Request::post("/api/v1/sessions")
                .header("content-type", "application/json")
                .body(Body::from(format!(
                    r#"{{"staff_id":"sup","secret":"{}","counter":1}}"#,
                    hub::testkit::PIN
                )))
                .expect("login request");
            let resp = app.clone().oneshot(login).await.expect("login");
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .expect("login body");
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let token = text
                .split("\"token\":\"")
                .nth(1)
                .and_then(|t| t.split('"').next())
                .expect("a session token")
                .to_owned();
            (open, app, token)
        });
        Hub {
            rt,
            app,
            token,
            _open: open,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let [route, flags, seg_len, rest @ ..] = data else {
        return;
    };
    let hub = hub();
    let template = ROUTES[usize::from(*route) % ROUTES.len()];
    let method = METHODS[usize::from(flags & 3) % METHODS.len()].clone();
    let seg_len = usize::from(*seg_len).min(rest.len()).min(24);
    let (segment, body) = rest.split_at(seg_len);
    // Path segments: printable ASCII only (anything else is not a valid URI at all).
    let segment: String = segment
        .iter()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'_' | b'.' | b'~' => char::from(*b),
            _ => char::from(b'0' + b % 10),
        })
        .collect();
    let segment = if segment.is_empty() { "1".to_owned() } else { segment };
    let path = format!("/api/v1{}", template.replace("{}", &segment));
    let mut req = Request::builder().method(method).uri(path);
    req = match flags >> 2 & 3 {
        0 => req.header("authorization", format!("Bearer {}", hub.token)),
        1 => req.header("authorization", "Bearer 00ff"),
        _ => req,
    };
    if flags & 0x10 != 0 {
        req = req.header("content-type", "application/json");
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    let status = hub
        .rt
        .block_on(hub.app.clone().oneshot(req))
        .map(|r| r.status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a request produced a server error"
    );
});
