//! `servicehall`: the all-in-one launcher and the per-role commands. Parses the command
//! line, builds the parts and hands over to the libraries; nothing else lives here.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use protocol::HubClient;

mod demo;
mod devices;

#[derive(Debug, Parser)]
#[command(
    name = "servicehall",
    version,
    about = "After-sales service centre suite (GB/T 售后服务规范)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub: the centre's store, queue engine and LAN API.
    Hub {
        /// Where the database and the hub's files live.
        #[arg(long, env = "SERVICEHALL_DATA_DIR")]
        data_dir: PathBuf,
        /// Address to serve the API on.
        #[arg(long, env = "SERVICEHALL_LISTEN", default_value = "0.0.0.0:8470")]
        listen: SocketAddr,
        /// The centre's TOML configuration (built-in defaults without it).
        #[arg(long, env = "SERVICEHALL_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run a waiting-area display board against a hub.
    Board {
        #[arg(
            long,
            env = "SERVICEHALL_HUB",
            default_value = "https://127.0.0.1:8470"
        )]
        hub: String,
        /// This device's key and certificate from `servicehall enrol` (GB/T 5.4); not
        /// needed for a plain-HTTP hub.
        #[arg(long, env = "SERVICEHALL_IDENTITY")]
        identity: Option<PathBuf>,
        /// Counters and/or services to show: `1-4`, `repair,installation`, `1,2,repair`.
        #[arg(long)]
        zone: Option<display_board::Zone>,
        /// The leading language: zh or en.
        #[arg(long, default_value = "zh")]
        lang: display_board::Lang,
        /// auto, landscape or portrait.
        #[arg(long, default_value = "auto")]
        layout: display_board::Layout,
        /// No chime or voice announcements.
        #[arg(long)]
        mute: bool,
        #[arg(long)]
        fullscreen: bool,
    },
    /// Run the customer kiosk: tickets, request intake, fees, check-in, ratings.
    Kiosk {
        #[arg(
            long,
            env = "SERVICEHALL_HUB",
            default_value = "https://127.0.0.1:8470"
        )]
        hub: String,
        /// This device's key and certificate from `servicehall enrol` (GB/T 5.4); not
        /// needed for a plain-HTTP hub.
        #[arg(long, env = "SERVICEHALL_IDENTITY")]
        identity: Option<PathBuf>,
        /// This kiosk's name at the hub (on tickets and printer alerts).
        #[arg(long, default_value = "kiosk-1")]
        device: String,
        /// The language a customer starts in: zh or en.
        #[arg(long, default_value = "zh")]
        lang: ui::Lang,
        /// Window size WIDTHxHEIGHT; portrait when taller than wide.
        #[arg(long, default_value = "1080x1920")]
        size: kiosk::ScreenSize,
        #[arg(long)]
        fullscreen: bool,
        /// Ticket printer: none, tcp:HOST:PORT, or a device file such as /dev/usb/lp0.
        #[arg(long, default_value = "none")]
        printer: kiosk::PrinterTarget,
        /// 58 mm paper (default 80 mm).
        #[arg(long)]
        narrow_paper: bool,
        /// The take-ticket button: none, stdin or rpi:PIN.
        #[arg(long, default_value = "none")]
        button: kiosk::TicketButton,
        /// The service the button issues tickets for.
        #[arg(long, default_value = "consultation")]
        button_service: domain::ServiceType,
        /// Run as the feedback terminal beside this counter (ratings only).
        #[arg(long)]
        feedback_counter: Option<u32>,
        /// Seconds without a touch before the kiosk wipes the screen and goes home.
        #[arg(long, default_value_t = 90)]
        idle_secs: u64,
    },
    /// Run a staff counter station.
    Counter {
        #[arg(
            long,
            env = "SERVICEHALL_HUB",
            default_value = "https://127.0.0.1:8470"
        )]
        hub: String,
        /// This device's key and certificate from `servicehall enrol` (GB/T 5.4); not
        /// needed for a plain-HTTP hub.
        #[arg(long, env = "SERVICEHALL_IDENTITY")]
        identity: Option<PathBuf>,
        /// The counter (window) number this station is bound to.
        #[arg(long)]
        counter: u32,
        #[arg(long, default_value = "zh")]
        lang: ui::Lang,
        /// Window size WIDTHxHEIGHT (at least 1280x800).
        #[arg(long, default_value = "1280x800")]
        size: counter::WindowSize,
        #[arg(long)]
        fullscreen: bool,
        /// Receipt printer: none, tcp:HOST:PORT, or a device file such as /dev/usb/lp0.
        #[arg(long, default_value = "none")]
        printer: counter::PrinterTarget,
        /// Payment terminal: none, sim, or its serial device.
        #[arg(long, default_value = "none")]
        terminal: counter::TerminalTarget,
        /// The terminal's transaction journal (kept across restarts).
        #[arg(long)]
        journal: Option<PathBuf>,
        /// Minutes without input before the screen locks (0: never).
        #[arg(long, default_value_t = 5)]
        lock_minutes: u32,
    },
    /// Send the hub's text messages through a GSM modem (GB/T 4.2.2).
    Sms {
        #[arg(
            long,
            env = "SERVICEHALL_HUB",
            default_value = "https://127.0.0.1:8470"
        )]
        hub: String,
        /// This device's key and certificate from `servicehall enrol` (GB/T 5.4); not
        /// needed for a plain-HTTP hub.
        #[arg(long, env = "SERVICEHALL_IDENTITY")]
        identity: Option<PathBuf>,
        /// The modem's serial device (e.g. /dev/ttyUSB2), or `sim` for the simulator.
        #[arg(long, env = "SERVICEHALL_MODEM")]
        modem: String,
        /// This agent's name at the hub.
        #[arg(long, default_value = "sms-agent")]
        device: String,
    },
    /// Enrol this device with the hub (GB/T 5.4): it makes its own key and gets a
    /// certificate naming its id and role from the hub's CA, with a one-time pairing code.
    Enrol {
        #[arg(
            long,
            env = "SERVICEHALL_HUB",
            default_value = "https://127.0.0.1:8470"
        )]
        hub: String,
        /// The pairing code from `servicehall devices pair` (e.g. 1234-5678).
        #[arg(long)]
        code: String,
        /// The hub's CA fingerprint shown with the code.
        #[arg(long)]
        fingerprint: String,
        /// kiosk, counter, board or sms-gateway (as the code was made for).
        #[arg(long)]
        role: protocol::DeviceRole,
        /// This device's id (as the code was made for).
        #[arg(long)]
        id: String,
        /// Where to keep the key and certificate (the appliances' place by default).
        #[arg(
            long,
            env = "SERVICEHALL_IDENTITY",
            default_value = "/var/lib/servicehall/identity"
        )]
        identity: PathBuf,
    },
    /// The hub's enrolled devices: pairing codes, the list, revocation (on the hub's box).
    Devices {
        #[command(subcommand)]
        command: DevicesCommand,
    },
    /// Read a PIN or password on standard input and print its argon2id hash for the config.
    HashSecret,
    /// Check a configuration file and say what is wrong with it.
    CheckConfig { file: PathBuf },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a verified backup of the hub database now (works while the hub runs).
    Backup {
        #[arg(long, env = "SERVICEHALL_DATA_DIR")]
        data_dir: PathBuf,
        /// The directory to write it to (a USB stick, say).
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into a stopped hub (the replaced database is kept beside it).
    Restore {
        /// The backup file (`hub-*.db`).
        backup: PathBuf,
        #[arg(long, env = "SERVICEHALL_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Run headquarters: every centre's events into PostgreSQL, reports, ticket status pages.
    Hq {
        #[command(subcommand)]
        command: Option<HqCommand>,
        /// The PostgreSQL database: postgres://user@host:port/db
        #[arg(long, env = "SERVICEHALL_HQ_DATABASE")]
        database: Option<String>,
        /// Address to serve ingest, reports and status pages on.
        #[arg(long, env = "SERVICEHALL_HQ_LISTEN", default_value = "0.0.0.0:8480")]
        listen: SocketAddr,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// The centres' CA directory (made on first use): ingest then also needs each
        /// centre's client certificate (`hq issue-cert`). Needs HTTPS.
        #[arg(long, env = "SERVICEHALL_HQ_CENTRE_CA", requires = "tls_cert")]
        centre_ca: Option<PathBuf>,
        /// A file of report readers, `name:hash` per line (hashes from `hash-secret`):
        /// the report pages then need a login. Without it they are open.
        #[arg(long, env = "SERVICEHALL_HQ_REPORT_READERS")]
        report_readers: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum HqCommand {
    /// Add a centre (or give it a new token) and print its ingest token, once.
    AddCentre {
        #[arg(long, env = "SERVICEHALL_HQ_DATABASE")]
        database: String,
        /// The centre's id, as in its hub's configuration.
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// The centre's local time (business days, refund due dates).
        #[arg(long, default_value_t = 480, allow_hyphen_values = true)]
        utc_offset_minutes: i32,
        /// Also issue the centre's client certificate from this CA directory...
        #[arg(long, env = "SERVICEHALL_HQ_CENTRE_CA", requires = "cert_out")]
        centre_ca: Option<PathBuf>,
        /// ...into this directory (`<id>.pem` and `<id>.key`, for the hub's `[hq]` section).
        #[arg(long, requires = "centre_ca")]
        cert_out: Option<PathBuf>,
    },
    /// Issue a centre a new client certificate; its previous one is refused from now on.
    IssueCert {
        #[arg(long, env = "SERVICEHALL_HQ_DATABASE")]
        database: String,
        #[arg(long, env = "SERVICEHALL_HQ_CENTRE_CA")]
        centre_ca: PathBuf,
        #[arg(long)]
        id: String,
        /// Where to write `<id>.pem` and `<id>.key`.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// Make a one-time pairing code for a new device (valid a few minutes).
    Pair {
        #[arg(long, env = "SERVICEHALL_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long, env = "SERVICEHALL_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        role: protocol::DeviceRole,
        /// The device's id: letters, digits, `-` and `_` (e.g. kiosk-2).
        #[arg(long)]
        id: String,
        /// The address devices reach the hub at, for the printed command.
        #[arg(
            long,
            env = "SERVICEHALL_HUB",
            default_value = "https://servicehall-hub.local:8470"
        )]
        hub: String,
    },
    /// List the enrolled devices.
    List {
        #[arg(long, env = "SERVICEHALL_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long, env = "SERVICEHALL_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Revoke a device: the hub refuses its very next call.
    Revoke {
        #[arg(long, env = "SERVICEHALL_DATA_DIR")]
        data_dir: PathBuf,
        #[arg(long, env = "SERVICEHALL_CONFIG")]
        config: Option<PathBuf>,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash-chained audit log and report the first broken link (GB/T 5.6.2.3).
    Verify {
        #[arg(long, env = "SERVICEHALL_DATA_DIR")]
        data_dir: PathBuf,
    },
}

fn run_sms_agent(
    hub: String,
    identity: Option<std::sync::Arc<protocol::DeviceIdentity>>,
    modem: &str,
    device: String,
) -> Result<()> {
    let backend = if modem == "sim" {
        hardware::sms::SmsBackend::Simulated
    } else {
        hardware::sms::SmsBackend::Modem {
            device: modem.to_owned(),
        }
    };
    let gateway = hardware::sms::open(&backend, hardware::sms::ModemConfig::default())
        .with_context(|| format!("opening the SMS modem {modem}"))?;
    let opts = servicehall::sms_agent::AgentOptions {
        hub_url: hub,
        device,
        identity,
        ..Default::default()
    };
    // Say now, in the operator's words, if this box cannot reach the hub securely.
    servicehall::sms_agent::hub_client(&opts)?;
    tokio::runtime::Runtime::new()?.block_on(servicehall::sms_agent::run(
        opts,
        gateway,
        shutdown_signal(),
    ));
    Ok(())
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Under systemd the apps say READY=1 and ping the watchdog from their own event loop.
    let _ui_watch = match &cli.command {
        Some(Command::Board { .. }) => servicehall::systemd::ui_watch("board"),
        Some(Command::Kiosk { .. }) => servicehall::systemd::ui_watch("kiosk"),
        Some(Command::Counter { .. }) => servicehall::systemd::ui_watch("counter"),
        _ => None,
    };
    match cli.command {
        None => all_in_one(),
        Some(Command::Hub {
            data_dir,
            listen,
            config,
        }) => {
            let config = load_config(config.as_deref())?;
            serve_hub(data_dir, listen, config)
        }
        Some(Command::Board {
            hub,
            identity,
            zone,
            lang,
            layout,
            mute,
            fullscreen,
        }) => display_board::run(
            display_board::BoardOptions {
                hub_url: hub.clone(),
                identity: devices::load_identity(identity.as_deref(), &hub)?,
                zone: zone.unwrap_or_default(),
                lang,
                layout,
                sound: !mute,
                fullscreen,
                ..Default::default()
            },
            shutdown_signal(),
        ),
        Some(Command::Kiosk {
            hub,
            identity,
            device,
            lang,
            size,
            fullscreen,
            printer,
            narrow_paper,
            button,
            button_service,
            feedback_counter,
            idle_secs,
        }) => kiosk::run(
            kiosk::KioskOptions {
                hub_url: hub.clone(),
                device,
                lang,
                size,
                fullscreen,
                printer,
                paper: if narrow_paper {
                    hardware::printer::PaperWidth::Mm58
                } else {
                    hardware::printer::PaperWidth::Mm80
                },
                button,
                button_service,
                feedback_counter,
                idle_timeout: std::time::Duration::from_secs(idle_secs.max(10)),
                identity: devices::load_identity(identity.as_deref(), &hub)?,
            },
            shutdown_signal(),
        ),
        Some(Command::Counter {
            hub,
            identity,
            counter,
            lang,
            size,
            fullscreen,
            printer,
            terminal,
            journal,
            lock_minutes,
        }) => counter::run(
            counter::CounterOptions {
                hub_url: hub.clone(),
                counter,
                lang,
                size,
                fullscreen,
                printer,
                terminal,
                terminal_journal: journal.unwrap_or_else(|| {
                    PathBuf::from(format!("counter-{counter}-payments.journal"))
                }),
                lock_after_minutes: lock_minutes,
                identity: devices::load_identity(identity.as_deref(), &hub)?,
            },
            shutdown_signal(),
        ),
        Some(Command::Sms {
            hub,
            identity,
            modem,
            device,
        }) => run_sms_agent(
            hub.clone(),
            devices::load_identity(identity.as_deref(), &hub)?,
            &modem,
            device,
        ),
        Some(Command::Enrol {
            hub,
            code,
            fingerprint,
            role,
            id,
            identity,
        }) => runtime()?.block_on(devices::enrol(
            &hub,
            &code,
            &fingerprint,
            role,
            &id,
            &identity,
        )),
        Some(Command::Devices { command }) => {
            let rt = runtime()?;
            match command {
                DevicesCommand::Pair {
                    data_dir,
                    config,
                    role,
                    id,
                    hub,
                } => {
                    let config = load_config(config.as_deref())?;
                    rt.block_on(devices::pair(&data_dir, &config, role, &id, &hub))
                }
                DevicesCommand::List { data_dir, config } => {
                    let config = load_config(config.as_deref())?;
                    rt.block_on(devices::list(&data_dir, &config))
                }
                DevicesCommand::Revoke {
                    data_dir,
                    config,
                    id,
                } => {
                    let config = load_config(config.as_deref())?;
                    rt.block_on(devices::revoke(&data_dir, &config, &id))
                }
            }
        }
        Some(Command::HashSecret) => {
            let mut secret = String::new();
            std::io::stdin()
                .read_to_string(&mut secret)
                .context("reading the secret from standard input")?;
            let hash = hub::auth::hash_secret(secret.trim_end_matches(['\r', '\n']))?;
            println!("{hash}");
            Ok(())
        }
        Some(Command::CheckConfig { file }) => {
            let cfg = hub::Config::load(&file)?;
            println!(
                "{}: ok ({} services, {} counters, {} staff)",
                file.display(),
                cfg.services.len(),
                cfg.counters.len(),
                cfg.staff.len()
            );
            Ok(())
        }
        Some(Command::Audit {
            command: AuditCommand::Verify { data_dir },
        }) => audit_verify(&data_dir),
        Some(Command::Backup { data_dir, to }) => {
            let db = data_dir.join(hub::DB_FILE);
            if !db.exists() {
                bail!("no hub database at {}", db.display());
            }
            let info = hub::backup::backup_into(&db, &to, chrono::Utc::now())?;
            println!(
                "backup written and verified: {} ({} bytes, {} ms)",
                info.path.display(),
                info.bytes,
                info.took.as_millis()
            );
            Ok(())
        }
        Some(Command::Restore { backup, data_dir }) => {
            let done = hub::backup::restore(&backup, &data_dir)?;
            if let Some(previous) = &done.previous {
                println!("the replaced database is kept as {}", previous.display());
            }
            println!(
                "restored {}; events from now on go to headquarters in epoch {} \
                 (nothing headquarters already holds is sent twice)",
                backup.display(),
                done.epoch
            );
            Ok(())
        }
        Some(Command::Hq {
            command:
                Some(HqCommand::AddCentre {
                    database,
                    id,
                    name,
                    utc_offset_minutes,
                    centre_ca,
                    cert_out,
                }),
            ..
        }) => {
            hq_add_centre(&database, &id, &name, utc_offset_minutes)?;
            match centre_ca.zip(cert_out) {
                Some((ca, out)) => hq_issue_cert(&database, &ca, &id, &out),
                None => Ok(()),
            }
        }
        Some(Command::Hq {
            command:
                Some(HqCommand::IssueCert {
                    database,
                    centre_ca,
                    id,
                    out,
                }),
            ..
        }) => hq_issue_cert(&database, &centre_ca, &id, &out),
        Some(Command::Hq {
            command: None,
            database,
            listen,
            tls_cert,
            tls_key,
            centre_ca,
            report_readers,
        }) => {
            let database = database
                .context("--database (or SERVICEHALL_HQ_DATABASE) is required to run hq")?;
            serve_hq(hq::HqOptions {
                database_url: database,
                listen,
                tls: tls_cert.zip(tls_key),
                centre_ca,
                report_readers,
            })
        }
    }
}

fn load_config(path: Option<&Path>) -> Result<hub::Config> {
    match path {
        Some(p) => Ok(hub::Config::load(p)?),
        None => Ok(hub::Config::builtin()?),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Resolves once the shutdown flag is raised (or its sender is gone).
async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The URL the hub's own processes reach it at: `https://` under mutual TLS, loopback for
/// an address that listens on every interface (the hub's certificate names 127.0.0.1).
fn local_hub_url(addr: SocketAddr, transport: hub::Transport) -> String {
    let scheme = match transport {
        hub::Transport::Mtls => "https",
        hub::Transport::Plain => "http",
    };
    let host = if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    format!("{scheme}://{host}")
}

/// Pings the systemd watchdog only while the hub's store answers and the hub answers its
/// health check over its own listener (TLS trusting its CA, no certificate needed).
fn hub_watchdog(
    rt: &tokio::runtime::Handle,
    probe: hub::devices::HealthProbe,
    health: HubClient,
) -> Option<tokio::task::JoinHandle<()>> {
    servicehall::systemd::spawn_watchdog(rt, move || {
        let (probe, health) = (probe.clone(), health.clone());
        async move {
            probe.check().await?;
            health
                .health()
                .await
                .map(drop)
                .map_err(|e| format!("the hub does not answer its health check: {e}"))
        }
    })
}

/// A client for the hub's own health check at `url`.
fn health_client(url: &str, data_dir: &Path, transport: hub::Transport) -> Result<HubClient> {
    Ok(match transport {
        hub::Transport::Plain => HubClient::new(url),
        hub::Transport::Mtls => {
            let ca = data_dir
                .join(hub::pki::PKI_DIR)
                .join(hub::pki::CA_CERT_FILE);
            let pem = std::fs::read_to_string(&ca)
                .with_context(|| format!("reading the hub's CA certificate {}", ca.display()))?;
            HubClient::unenrolled(url, &pem)?
        }
    })
}

fn serve_hub(data_dir: PathBuf, listen: SocketAddr, config: hub::Config) -> Result<()> {
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let transport = config.security.transport;
        let url = local_hub_url(addr, transport);
        let opts = hub::HubOptions {
            data_dir: data_dir.clone(),
            config,
            clock: None,
            open_day_on_start: false,
        };
        let hub = hub::OpenHub::open(opts).await?;
        // The first line on standard output says where the ready hub is (scripts read it).
        println!("servicehall hub listening on {url}");
        servicehall::systemd::ready(&format!("hub serving on {url}"));
        let _watchdog = hub_watchdog(
            &tokio::runtime::Handle::current(),
            hub.health_probe(),
            health_client(&url, &data_dir, transport)?,
        );
        hub.serve(listener, shutdown_signal()).await?;
        Ok(())
    })
}

fn all_in_one() -> Result<()> {
    let data_dir = match std::env::var_os("SERVICEHALL_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => default_data_dir()?,
    };
    let listen: SocketAddr = std::env::var("SERVICEHALL_LISTEN")
        .unwrap_or_else(|_| "127.0.0.1:8470".into())
        .parse()
        .context("SERVICEHALL_LISTEN must be an address like 127.0.0.1:8470")?;
    let config_file = data_dir.join("servicehall.toml");
    let config = load_config(config_file.exists().then_some(config_file.as_path()))?;
    let display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    eprintln!("servicehall all-in-one");
    eprintln!("  data:    {}", data_dir.display());
    eprintln!(
        "  config:  {}",
        if config_file.exists() {
            config_file.display().to_string()
        } else {
            "built-in defaults".into()
        }
    );
    if display {
        eprintln!(
            "  display: found: the display board, a kiosk and counter 1 open in their own windows"
        );
    } else {
        eprintln!("  display: none found, running headless: the hub and the simulated devices");
    }
    if config.staff.is_empty() {
        eprintln!(
            "  staff:   `admin`, password in {}",
            data_dir.join(hub::INITIAL_ADMIN_FILE).display()
        );
    }
    let utc_offset = config.centre.utc_offset;
    let transport = config.security.transport;
    let rt = runtime()?;
    let (listener, hub, pairings) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let hub = hub::OpenHub::open(hub::HubOptions {
            data_dir: data_dir.clone(),
            config: config.clone(),
            clock: None,
            open_day_on_start: true,
        })
        .await?;
        // GB/T 5.4: the simulated devices enrol like real ones, each with its own key.
        let pairings = match transport {
            hub::Transport::Mtls => devices::own_pairings(&hub, &data_dir, &config).await?,
            hub::Transport::Plain => Vec::new(),
        };
        anyhow::Ok((listener, hub, pairings))
    })?;
    let hub_addr = listener.local_addr()?;
    let hub_url = local_hub_url(hub_addr, transport);
    println!("servicehall hub listening on {hub_url}");
    // One Ctrl-C (or SIGTERM) stops both the hub and the board's window.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    rt.spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let probe = hub.health_probe();
    let serving = rt.spawn(hub.serve(listener, stopped(stop_rx.clone())));
    let own = match transport {
        hub::Transport::Mtls => {
            let own = rt.block_on(devices::enrol_own(&hub_url, &data_dir, pairings))?;
            eprintln!(
                "  devices: enrolled over mutual TLS, keys in {}",
                data_dir.join("devices").display()
            );
            Some(own)
        }
        hub::Transport::Plain => {
            eprintln!(
                "  devices: plain HTTP (security.transport = \"plain\"): not for a real centre"
            );
            None
        }
    };
    let devices = rt.block_on(async {
        demo::start(
            &data_dir,
            hub_url.clone(),
            utc_offset,
            tokio::runtime::Handle::current(),
            own.as_ref().map(|o| o.dispenser.clone()),
        )
    })?;
    servicehall::systemd::ready(&format!("all-in-one serving on {hub_url}"));
    let _watchdog = hub_watchdog(
        rt.handle(),
        probe,
        health_client(&hub_url, &data_dir, transport)?,
    );
    // Text messages go to the simulated GSM modem (a real one: `servicehall sms`).
    match hardware::sms::open(
        &hardware::sms::SmsBackend::Simulated,
        hardware::sms::ModemConfig::default(),
    ) {
        Ok(gateway) => {
            eprintln!("  sms:     simulated GSM modem");
            rt.spawn(servicehall::sms_agent::run(
                servicehall::sms_agent::AgentOptions {
                    hub_url: hub_url.clone(),
                    identity: own.as_ref().map(|o| o.sms.clone()),
                    ..Default::default()
                },
                gateway,
                stopped(stop_rx.clone()),
            ));
        }
        Err(e) => eprintln!("  sms:     the simulated modem did not start: {e}"),
    }
    let mut apps = Vec::new();
    if display {
        apps = start_apps(&hub_url, &data_dir, &devices, own.as_ref());
        // Slint's event loop owns the main thread; the hub keeps serving on the runtime.
        let board = display_board::run(
            display_board::BoardOptions {
                hub_url,
                identity: own.as_ref().map(|o| o.board.clone()),
                ..Default::default()
            },
            stopped(stop_rx.clone()),
        );
        match board {
            Ok(()) if *stop_rx.borrow() => {}
            Ok(()) => eprintln!("  board:   window closed; the hub runs on until Ctrl-C"),
            Err(e) => eprintln!("  board:   {e:#}; carrying on headless"),
        }
    }
    rt.block_on(serving).context("the hub task failed")??;
    for mut app in apps {
        let _ = app.kill();
        let _ = app.wait();
    }
    drop(devices);
    Ok(())
}

/// The kiosk and counter 1 as their own processes (as on the appliances), printing on the
/// simulated printer; the counter takes cards on the simulated terminal.
fn start_apps(
    hub_url: &str,
    data_dir: &Path,
    devices: &demo::Devices,
    own: Option<&devices::OwnDevices>,
) -> Vec<std::process::Child> {
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("  apps:    cannot find this program to start the kiosk and counter");
        return Vec::new();
    };
    let printer = format!("tcp:{}", devices.printer_addr);
    let terminal = devices
        .terminal_register
        .as_ref()
        .map_or_else(|| "none".to_owned(), |p| p.display().to_string());
    let journal = data_dir.join("counter-1-payments.journal");
    let journal = journal.display().to_string();
    let kiosk_identity = own.map(|o| o.kiosk.display().to_string());
    let counter_identity = own.map(|o| o.counter.display().to_string());
    let mut runs: [(&str, Vec<&str>); 2] = [
        (
            "kiosk",
            vec![
                "kiosk",
                "--hub",
                hub_url,
                "--printer",
                &printer,
                "--size",
                "720x1280",
            ],
        ),
        (
            "counter",
            vec![
                "counter",
                "--hub",
                hub_url,
                "--counter",
                "1",
                "--printer",
                &printer,
                "--terminal",
                &terminal,
                "--journal",
                &journal,
            ],
        ),
    ];
    if let (Some(k), Some(c)) = (&kiosk_identity, &counter_identity) {
        runs[0].1.extend(["--identity", k]);
        runs[1].1.extend(["--identity", c]);
    }
    let mut children = Vec::new();
    for (name, args) in runs {
        match std::process::Command::new(&exe).args(&args).spawn() {
            Ok(child) => {
                eprintln!("  {name}:{} window opened", " ".repeat(8 - name.len()));
                children.push(child);
            }
            Err(e) => eprintln!("  {name}: did not start: {e}"),
        }
    }
    children
}

fn default_data_dir() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(x).join("servicehall"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/servicehall")),
        None => bail!("set SERVICEHALL_DATA_DIR or HOME so the hub knows where to keep its data"),
    }
}

fn audit_verify(data_dir: &Path) -> Result<()> {
    let db = data_dir.join(hub::DB_FILE);
    if !db.exists() {
        bail!("no hub database at {}", db.display());
    }
    let (entries, broken) = hub::store::verify_audit_file(&db)?;
    match broken {
        None => {
            println!("audit log ok: {entries} entries, chain intact");
            Ok(())
        }
        Some(id) => bail!(
            "audit log broken at entry {id} (of {entries} checked): it was altered or removed"
        ),
    }
}

fn serve_hq(opts: hq::HqOptions) -> Result<()> {
    runtime()?
        .block_on(hq::run(opts, shutdown_signal()))
        .context("headquarters stopped")
}

/// Issues `id` a client certificate and writes it with its key into `out` (GB/T 5.6.2);
/// headquarters refuses the previous one only once both files are written.
fn hq_issue_cert(database: &str, ca_dir: &Path, id: &str, out: &Path) -> Result<()> {
    let ca = hq::pki::CentreCa::load_or_create(ca_dir)?;
    let (cert_file, key_file) = (out.join(format!("{id}.pem")), out.join(format!("{id}.key")));
    runtime()?
        .block_on(hq::centres::issue_certificate_to(
            database,
            &ca,
            id,
            |cert| {
                hq::pki::write_private(&key_file, &cert.key_pem)?;
                hq::pki::write_private(&cert_file, &cert.cert_pem)
            },
        ))
        .with_context(|| format!("issuing centre {id}'s certificate"))?;
    eprintln!(
        "centre {id}: client certificate {} and key {}; give both to its hub \
         (`client_cert`, `client_key` in `[hq]`). Its previous certificate is refused from now on.",
        cert_file.display(),
        key_file.display()
    );
    Ok(())
}

/// Prints the new token on standard output (only its SHA-256 is stored).
fn hq_add_centre(database: &str, id: &str, name: &str, utc_offset_minutes: i32) -> Result<()> {
    let token = runtime()?
        .block_on(hq::centres::add_centre_to(
            database,
            id,
            name,
            utc_offset_minutes,
        ))
        .with_context(|| format!("adding centre {id}"))?;
    eprintln!(
        "centre {id} ({name}): its ingest token follows. It is shown only this once; \
         put it in the hub's token file."
    );
    println!("{token}");
    Ok(())
}
