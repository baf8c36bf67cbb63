//! Issuing tickets: over HTTP with N concurrent clients (the hub's group-commit writer)
//! against the same transaction run directly on SQLite, one `synchronous=FULL` commit per
//! ticket. Prints both rates and their ratio in one run; the target is HTTP ≥ 0.8× raw.
//!
//! `cargo bench -p servicehall-hub --bench issue_tickets`
//!
//! A third round issues over mutual TLS as enrolled kiosks do in a centre (each client
//! its own device certificate, the hub looking it up on every request), to show what
//! the device checks cost next to plain HTTP.
//!
//! Environment: `BENCH_CLIENTS` (default 32) concurrent HTTP clients, `BENCH_SECS`
//! (default 5) measured seconds per round, each after 1 s of warm-up that is not counted.
//! Every round uses a fresh database in its own temporary directory, removed afterwards.
//! Any refused or failed request aborts the benchmark. No timing is asserted: a ratio
//! under the target is reported as `BELOW TARGET`.

use std::error::Error;
use std::time::{Duration, Instant};

use domain::ServiceType;
use hub::store::{self, Actor, Clock};
use protocol::{HubClient, IssueTicket};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const WARM_UP: Duration = Duration::from_secs(1);
const TARGET_RATIO: f64 = 0.8;

fn env_number(name: &str, default: u64) -> BenchResult<u64> {
    match std::env::var(name) {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{name} must be a positive whole number, not `{v}`").into()),
        },
        Err(_) => Ok(default),
    }
}

/// The services offered by the built-in configuration; tickets cycle through them the way
/// walk-ins spread over the queues.
fn offered_services(cfg: &hub::Config) -> BenchResult<Vec<ServiceType>> {
    let services: Vec<ServiceType> = cfg.services.keys().copied().collect();
    if services.is_empty() {
        return Err("the built-in configuration offers no service".into());
    }
    Ok(services)
}

fn request(service: ServiceType) -> IssueTicket {
    IssueTicket {
        service,
        class: Default::default(),
        channel: Default::default(),
        device: None,
    }
}

/// Throughput and latency of the tickets completed inside one measured window.
#[derive(Debug)]
struct Round {
    tickets: usize,
    secs: f64,
    /// Sorted, one per ticket completed in the window.
    latencies: Vec<Duration>,
}

impl Round {
    fn new(mut latencies: Vec<Duration>, window: Duration) -> Round {
        latencies.sort_unstable();
        Round {
            tickets: latencies.len(),
            secs: window.as_secs_f64(),
            latencies,
        }
    }

    fn rate(&self) -> f64 {
        self.tickets as f64 / self.secs
    }

    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = (p / 100.0 * self.latencies.len() as f64).ceil() as usize;
        let i = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    fn mean_ms(&self) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let total: Duration = self.latencies.iter().sum();
        total.as_secs_f64() * 1000.0 / self.latencies.len() as f64
    }
}

// ------------------------------------------------------------------------ raw SQLite

/// The hub's own `issue_ticket`, one `BEGIN IMMEDIATE … COMMIT` per ticket on a WAL
/// connection with `synchronous=FULL`: what a hub without group commit would do.
fn raw_round(secs: Duration) -> BenchResult<Round> {
    let dir = tempfile::tempdir()?;
    let cfg = hub::Config::builtin()?;
    let services = offered_services(&cfg)?;
    let mut conn = store::open_write_connection(&dir.path().join(hub::DB_FILE))?;
    // The writer's clock; its boot stays 0 (`record_boot` is the hub's own business).
    let clock = Clock::new(true);
    let date = cfg.local_date(chrono::Utc::now());
    store::with_raw_ctx(&mut conn, &clock, |ctx| {
        store::open_day(ctx, &Actor::system(), date)
    })?;
    let requests: Vec<IssueTicket> = services.iter().map(|s| request(*s)).collect();

    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let end = measure_from + secs;
    let mut latencies = Vec::new();
    let mut i = 0usize;
    loop {
        let began = Instant::now();
        if began >= end {
            break;
        }
        let req = &requests[i % requests.len()];
        store::with_raw_ctx(&mut conn, &clock, |ctx| store::issue_ticket(ctx, &cfg, req))
            .map_err(|e| format!("raw issue_ticket failed: {e}"))?;
        let done = Instant::now();
        if done >= measure_from && done <= end {
            latencies.push(done - began);
        }
        i += 1;
    }
    drop(conn);
    dir.close()?;
    Ok(Round::new(latencies, secs))
}

// ------------------------------------------------------------------------------ HTTP

/// A fresh hub on a loopback port with `clients` kiosks issuing tickets as fast as the
/// hub answers, each on its own HTTP client (its own connection), as separate kiosks and
/// counters would be.
async fn http_round(
    clients: usize,
    secs: Duration,
    transport: hub::Transport,
) -> BenchResult<Round> {
    let dir = tempfile::tempdir()?;
    let mut config = hub::Config::builtin()?;
    config.security.transport = transport;
    let services = offered_services(&config)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let opts = hub::HubOptions {
        data_dir: dir.path().to_owned(),
        config,
        clock: None,
        open_day_on_start: true,
    };
    let hub = hub::OpenHub::open(opts).await?;
    let mut pairings = Vec::new();
    if transport == hub::Transport::Mtls {
        for k in 0..clients {
            pairings.push(
                hub.pairing(protocol::DeviceRole::Kiosk, &format!("kiosk-{k}"))
                    .await?,
            );
        }
    }
    let server = tokio::spawn(hub.serve(listener, async move {
        let _ = stop_rx.await;
    }));
    let result = async {
        let hub_clients = match transport {
            hub::Transport::Plain => (0..clients)
                .map(|_| HubClient::new(format!("http://{addr}")))
                .collect(),
            hub::Transport::Mtls => {
                let base = format!("https://{addr}");
                let mut out = Vec::new();
                for p in &pairings {
                    let identity = protocol::identity::enrol(
                        &base,
                        &p.code,
                        &p.ca_fingerprint,
                        &p.device_id,
                        p.role,
                    )
                    .await?;
                    out.push(HubClient::for_device(base.clone(), Some(&identity))?);
                }
                out
            }
        };
        drive_clients(hub_clients, &services, secs).await
    }
    .await;

    // Stop the hub whatever happened, and wait for it to close the database.
    let _ = stop_tx.send(());
    let served = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .map_err(|_| "the hub did not stop within 30 s")?;
    let round = result?;
    served?.map_err(|e| format!("hub failed: {e}"))?;
    dir.close()?;
    Ok(round)
}

async fn drive_clients(
    clients: Vec<HubClient>,
    services: &[ServiceType],
    secs: Duration,
) -> BenchResult<Round> {
    wait_until_healthy(&clients[0]).await?;
    let start = Instant::now();
    let measure_from = start + WARM_UP;
    let end = measure_from + secs;
    let mut tasks = tokio::task::JoinSet::new();
    for (k, client) in clients.into_iter().enumerate() {
        let services = services.to_vec();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut i = k;
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let req = request(services[i % services.len()]);
                client
                    .issue_ticket(&req)
                    .await
                    .map_err(|e| format!("client {k}: issuing a ticket failed: {e}"))?;
                let done = Instant::now();
                if done >= measure_from && done <= end {
                    latencies.push(done - began);
                }
                i += 1;
            }
            Ok::<_, String>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(mine)) => latencies.extend(mine),
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => return Err(format!("a client task failed: {e}").into()),
        }
    }
    Ok(Round::new(latencies, secs))
}

async fn wait_until_healthy(client: &HubClient) -> BenchResult<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.health().await {
            Ok(h) if h.day.is_some() => return Ok(()),
            Ok(_) => return Err("the hub started without an open business day".into()),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("the hub did not answer /health within 20 s: {e}").into());
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

// ------------------------------------------------------------------------------ main

fn print_raw(label: &str, r: &Round) {
    println!(
        "{label} tickets={:<6} rate={:>8.1} tickets/s  p50={:.2} ms  p99={:.2} ms  (one synchronous=FULL transaction per ticket)",
        r.tickets,
        r.rate(),
        r.percentile_ms(50.0),
        r.percentile_ms(99.0),
    );
}

fn print_http(label: &str, r: &Round, clients: usize) {
    println!(
        "{label} clients={clients:<3} tickets={:<6} rate={:>8.1} tickets/s  p50={:.2} ms  p99={:.2} ms  mean={:.2} ms",
        r.tickets,
        r.rate(),
        r.percentile_ms(50.0),
        r.percentile_ms(99.0),
        r.mean_ms(),
    );
}

fn main() -> BenchResult<()> {
    let clients = usize::try_from(env_number("BENCH_CLIENTS", 32)?)?;
    let secs = Duration::from_secs(env_number("BENCH_SECS", 5)?);
    println!(
        "issue_tickets: {clients} HTTP clients vs one SQLite connection; {} s measured after {} s warm-up per round; WAL + synchronous=FULL; fresh database per round",
        secs.as_secs(),
        WARM_UP.as_secs(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // The disk's fsync time drifts (other work on the machine), so the raw rounds
    // bracket the HTTP round and the ratio uses both.
    let raw_before = raw_round(secs)?;
    print_raw("raw:  ", &raw_before);
    let http = runtime.block_on(http_round(clients, secs, hub::Transport::Plain))?;
    print_http("http: ", &http, clients);
    let raw_after = raw_round(secs)?;
    print_raw("raw:  ", &raw_after);
    let mtls = runtime.block_on(http_round(clients, secs, hub::Transport::Mtls))?;
    print_http("mtls: ", &mtls, clients);
    println!(
        "       (each client an enrolled kiosk; mutual TLS {:.2}x the plain HTTP rate)",
        mtls.rate() / http.rate()
    );
    if clients != 1 {
        let single = runtime.block_on(http_round(1, secs, hub::Transport::Plain))?;
        print_http("http: ", &single, 1);
        println!("       (reference: one client, so every ticket waits for a commit of its own)");
    }
    drop(runtime);

    let raw_rate =
        (raw_before.tickets + raw_after.tickets) as f64 / (raw_before.secs + raw_after.secs);
    let ratio = http.rate() / raw_rate;
    let verdict = if ratio >= TARGET_RATIO {
        "ok"
    } else {
        "BELOW TARGET"
    };
    println!(
        "ratio http/raw = {ratio:.2}  (http {:.1} tickets/s with {clients} clients / raw {raw_rate:.1} tickets/s, both raw rounds; target >= {TARGET_RATIO})  {verdict}",
        http.rate(),
    );
    Ok(())
}
