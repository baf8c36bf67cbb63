//! `printer-sim`: a receipt printer on the network for development and tests. It
//! listens on raw TCP (like a printer's port 9100), stores each job with its rendered
//! picture, and takes commands on stdin (`paper-out`, `paper-ok`, `offline`, `online`,
//! `slow MS`, `status`, `quit`...) to misbehave on request. All the work is in
//! `hardware::printer::sim`; this only reads arguments and the console.
//!
//! The first line on stdout is always `printer-sim listening on ADDR`. When stdin
//! closes (started in the background), it keeps serving until killed.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use hardware::printer::PaperWidth;
use hardware::printer::sim::{SimCommand, SimConfig, SimEvent, SimPrinter};

const USAGE: &str =
    "usage: printer-sim [--listen ADDR] [--dir DIR] [--width 58|80] [--idle-timeout-ms MS]
  --listen ADDR         where to listen (default 127.0.0.1:9100; 0.0.0.0:9100 for the LAN)
  --dir DIR             where jobs are stored as job-NNNN.bin / .png (default ./printer-sim-jobs)
  --width 58|80         paper width for the pictures (default 80)
  --idle-timeout-ms MS  silence that ends a job on an open connection (default 2000)";

#[derive(Debug)]
struct Args {
    listen: String,
    dir: PathBuf,
    config: SimConfig,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let mut parsed = Args {
        listen: "127.0.0.1:9100".to_string(),
        dir: PathBuf::from("printer-sim-jobs"),
        config: SimConfig::default(),
    };
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--listen" => parsed.listen = value,
            "--dir" => parsed.dir = PathBuf::from(value),
            "--width" => {
                parsed.config.width = match value.as_str() {
                    "58" => PaperWidth::Mm58,
                    "80" => PaperWidth::Mm80,
                    _ => bail!("--width is 58 or 80, not {value:?}"),
                }
            }
            "--idle-timeout-ms" => {
                let ms: u64 = value.parse().with_context(|| {
                    format!("--idle-timeout-ms needs milliseconds, not {value:?}")
                })?;
                parsed.config.idle_timeout = Duration::from_millis(ms);
            }
            _ => bail!("unknown argument {flag:?}\n{USAGE}"),
        }
    }
    Ok(parsed)
}

fn describe(event: &SimEvent) -> String {
    match event {
        SimEvent::Connected { peer } => format!("connection from {peer}"),
        SimEvent::StatusAnswered { n, byte } => format!("DLE EOT {n} answered {byte:#04X}"),
        SimEvent::JobStored {
            number,
            bin,
            png,
            bytes,
        } => match png {
            Ok(png) => format!(
                "job {number:04} stored: {} ({bytes} bytes), {}",
                bin.display(),
                png.display()
            ),
            Err(why) => format!(
                "job {number:04} stored: {} ({bytes} bytes), no picture: {why}",
                bin.display()
            ),
        },
        SimEvent::Discarded { bytes, reason } => format!("{bytes} bytes discarded: {reason}"),
    }
}

fn main() -> anyhow::Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let printer = SimPrinter::start_with(&args.dir, args.listen.as_str(), args.config)
        .context("cannot start the printer simulator")?;
    println!("printer-sim listening on {}", printer.local_addr());
    println!(
        "jobs go to {}; {}",
        printer.dir().display(),
        SimCommand::HELP
    );
    std::io::stdout()
        .flush()
        .context("cannot write to stdout")?;

    let events = printer.subscribe();
    std::thread::spawn(move || {
        for event in events {
            println!("{}", describe(&event));
        }
    });

    for line in std::io::stdin().lock().lines() {
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        match SimCommand::parse(&line) {
            Ok(SimCommand::Quit) => {
                printer.stop();
                return Ok(());
            }
            Ok(command) => println!("{}", printer.apply(command)),
            Err(why) => println!("{why}"),
        }
    }
    println!("stdin closed; serving until killed");
    loop {
        std::thread::park();
    }
}
