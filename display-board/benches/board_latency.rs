//! Call → board-model latency with 50 boards subscribed to a real hub, and the time to
//! render a whole 1920×1080 board frame on Slint's software renderer. Prints figures;
//! asserts nothing about timing.
//!
//!     cargo bench -p servicehall-display-board --bench board_latency
//!
//! BOARDS and CALLS (environment) change the load.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use display_board::Layout;
use display_board::headless::HeadlessBoard;
use display_board::model::{BoardModel, Zone};
use display_board::subscriber::{self, BoardUpdate, SharedBoard, SubscriberOptions, lock};
use domain::{Channel, PriorityClass, ServiceType};
use protocol::{HubClient, IssueTicket, Login, OpenDay};
use ui::Lang;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let boards = env_num("BOARDS", 50);
    let calls = env_num("CALLS", 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let model = rt.block_on(latency(boards, calls));
    frames(&model);
}

async fn latency(boards: usize, calls: usize) -> SharedBoard {
    let dir = tempfile::tempdir().unwrap();
    let hash = hub::auth::hash_secret("1234").unwrap();
    let mut cfg = hub::Config::from_toml_str(
        &format!(
            "[centre]\nid = \"bench\"\nname_zh = \"浦东售后服务中心\"\nname_en = \"Pudong After-sales Service Centre\"\n\n\
             [[staff]]\nid = \"sup\"\nname = \"S\"\nrole = \"supervisor\"\nsecret_hash = \"{hash}\"\n"
        ),
        "bench.toml",
    )
    .unwrap();
    // The board's model and the hub's fan-out are measured here, not the TLS layer.
    cfg.security.transport = hub::Transport::Plain;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hub_task = tokio::spawn(hub::run(
        listener,
        hub::HubOptions {
            data_dir: dir.path().to_path_buf(),
            config: cfg,
            clock: Some(hub::store::Clock::new(true)),
            open_day_on_start: false,
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let client = HubClient::new(url.clone());
    while client.health().await.is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = client
        .login(&Login {
            staff_id: "sup".into(),
            secret: "1234".into(),
            counter: Some(1),
            device: None,
        })
        .await
        .unwrap();
    let sup = client.with_token(s.token);
    sup.open_day(&OpenDay::default()).await.unwrap();
    for _ in 0..calls {
        client
            .issue_ticket(&IssueTicket {
                service: ServiceType::Consultation,
                class: PriorityClass::Normal,
                channel: Channel::OnSite,
                device: None,
            })
            .await
            .unwrap();
    }

    // The boards: each its own model and subscriber; a watcher stamps each call's arrival.
    let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let (live_tx, mut live) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut stops = Vec::new();
    let mut models = Vec::new();
    for b in 0..boards {
        let model: SharedBoard = Arc::new(Mutex::new(BoardModel::new(Zone::default())));
        models.push(model.clone());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop_b);
        let u = url.clone();
        tokio::spawn(async move {
            subscriber::run(&u, model, tx, SubscriberOptions::default(), async move {
                let _ = stopped_b.await;
            })
            .await;
        });
        let arrived_tx = arrived_tx.clone();
        let live_tx = live_tx.clone();
        tokio::spawn(async move {
            while let Some(update) = rx.recv().await {
                match update {
                    BoardUpdate::Called { .. } => {
                        let _ = arrived_tx.send((b, Instant::now()));
                    }
                    BoardUpdate::Connection(display_board::model::Connection::Live) => {
                        let _ = live_tx.send(());
                    }
                    _ => {}
                }
            }
        });
    }
    for _ in 0..boards {
        live.recv().await.unwrap();
    }
    // Let the boards' first estimate refreshes settle.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut lat = Vec::with_capacity(boards * calls);
    let mut call_rtt = Vec::with_capacity(calls);
    let started = Instant::now();
    for _ in 0..calls {
        let t0 = Instant::now();
        let t = sup.call_next().await.unwrap().unwrap();
        call_rtt.push(t0.elapsed());
        for _ in 0..boards {
            let (_, at) = arrived.recv().await.unwrap();
            lat.push(at - t0);
        }
        sup.ticket_action(t.id, "no-show").await.unwrap();
    }
    let total = started.elapsed();
    lat.sort();
    call_rtt.sort();
    println!(
        "board_latency: {boards} boards, {calls} calls ({} board updates) in {total:?}",
        lat.len()
    );
    println!(
        "  call -> board model:  p50 {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}",
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );
    println!(
        "  (the call's own HTTP round trip: p50 {:.2?}, p99 {:.2?})",
        percentile(&call_rtt, 0.50),
        percentile(&call_rtt, 0.99)
    );
    // Every board ends with the same calls, in the same order.
    let first: Vec<String> = lock(&models[0])
        .recent()
        .map(|c| c.number.clone())
        .collect();
    for m in &models[1..] {
        let calls: Vec<String> = lock(m).recent().map(|c| c.number.clone()).collect();
        assert_eq!(calls, first);
    }
    for s in stops {
        let _ = s.send(());
    }
    let _ = stop.send(());
    let _ = hub_task.await;
    models.swap_remove(0)
}

fn frames(model: &SharedBoard) {
    let mut board = HeadlessBoard::new().unwrap();
    board.set_layout(Layout::Landscape);
    board.set_lang(Lang::ZhCn).unwrap();
    let mut view = lock(model).view(Instant::now());
    view.highlight = false;
    board.show(&view, Lang::ZhCn, "2026-03-02", 0, "09:41:07");
    board.render(); // warm the glyph cache
    let mut times = Vec::new();
    for i in 0..30 {
        // Change something each frame, as a live board would.
        board
            .page()
            .set_clock(format!("09:41:{:02}", i % 60).into());
        let t = Instant::now();
        let f = board.render();
        times.push(t.elapsed());
        assert_eq!(f.width, 1920);
    }
    times.sort();
    println!(
        "  1920x1080 full frame, software renderer: p50 {:.2?}  max {:.2?}",
        percentile(&times, 0.5),
        times[times.len() - 1]
    );
}
