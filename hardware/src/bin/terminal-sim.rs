//! `terminal-sim`: a simulated Ingenico Telium terminal speaking protocol E on a serial
//! device or a pty, for demos and tests of the cash-register side.
//!
//! ```text
//! terminal-sim --device /dev/pts/7            serve on an existing device (a pty end)
//! terminal-sim --link /tmp/tpe                create a pty pair with socat; the cash
//!                                             register opens /tmp/tpe
//! options: --line 8n1|7e1   --default BEHAVIOUR   --ack-ms N --frame-ms N --reply-ms N
//! ```
//!
//! Commands on stdin, one per line: `approve`, `decline`, `noise`, `garbage [N]`,
//! `bad-lrc [N]`, `truncate [N]`, `timeout`, `late MS`, `drop` (queued for the next
//! transactions), `default BEHAVIOUR`, `nak N`, `silent on|off`, `status`, `quit`.
//! Events are printed on stdout, one per line (`ready`, `request`, `answer`, `dropping`).

use anyhow::{Context, Result, bail};
use hardware::pty::PtyPair;
use hardware::terminal::sim::{SimEnd, SimEvent};
use hardware::terminal::{LineFormat, SerialLink, SimBehaviour, SimDevice, SimTiming};
use std::path::PathBuf;
use std::time::Duration;

const USAGE: &str = "usage: terminal-sim (--device PATH | --link PATH) [--line 8n1|7e1] \
[--default BEHAVIOUR] [--ack-ms N] [--frame-ms N] [--reply-ms N]";

#[derive(Debug)]
struct Args {
    device: Option<PathBuf>,
    link: Option<PathBuf>,
    line: LineFormat,
    default: SimBehaviour,
    timing: SimTiming,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        device: None,
        link: None,
        line: LineFormat::EightN1,
        default: SimBehaviour::Approve,
        timing: SimTiming::default(),
    };
    let mut it = std::env::args().skip(1);
    let ms = |v: Option<String>, name: &str| -> Result<Duration> {
        let v = v.with_context(|| format!("{name} needs a value"))?;
        Ok(Duration::from_millis(
            v.parse().with_context(|| format!("{name}: not a number"))?,
        ))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--device" => args.device = it.next().map(PathBuf::from),
            "--link" => args.link = it.next().map(PathBuf::from),
            "--line" => {
                args.line = match it.next().as_deref() {
                    Some("8n1") => LineFormat::EightN1,
                    // A pty cannot do parity: the simulator always does 7E1 in software.
                    Some("7e1") => LineFormat::SevenE1Software,
                    other => bail!("--line must be 8n1 or 7e1, not {other:?}"),
                }
            }
            "--default" => {
                let v = it.next().context("--default needs a behaviour")?;
                let words: Vec<&str> = v.split_whitespace().collect();
                args.default = SimBehaviour::parse(&words)
                    .with_context(|| format!("unknown behaviour {v:?}"))?;
            }
            "--ack-ms" => args.timing.ack = ms(it.next(), "--ack-ms")?,
            "--frame-ms" => args.timing.frame = ms(it.next(), "--frame-ms")?,
            "--reply-ms" => args.timing.reply = ms(it.next(), "--reply-ms")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if args.device.is_some() == args.link.is_some() {
        bail!("give exactly one of --device or --link\n{USAGE}");
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let (socat, device) = match (&args.device, &args.link) {
        (Some(d), _) => (None, d.clone()),
        (None, Some(l)) => {
            let ours = PathBuf::from(format!("{}.terminal", l.display()));
            let pair = PtyPair::create(&ours, l)?;
            (Some(pair), ours)
        }
        (None, None) => bail!("{USAGE}"),
    };
    let device_str = device.to_string_lossy().into_owned();
    let mut link = SerialLink::new(device_str.clone(), 9600, args.line);
    link.open()
        .with_context(|| format!("opening {device_str}"))?;
    let (mut sim, handle) = SimDevice::new(link, args.line.line_code(), args.timing);
    handle.set_default(args.default);
    sim.observe(|e| match e {
        SimEvent::IgnoredEnq => println!("ignored ENQ (silent)"),
        SimEvent::RefusedRequest(why) => println!("refused request: {why}"),
        SimEvent::RequestTaken(r) => println!(
            "request {:?} {} pos {:02} behaviour {:?}",
            r.transaction, r.amount.0, r.pos, r.behaviour
        ),
        SimEvent::Answered { result, delivered } => println!(
            "answer {result:?} {}",
            if *delivered {
                "delivered"
            } else {
                "undelivered"
            }
        ),
        SimEvent::Dropping => println!("dropping"),
    });

    let console = handle.clone();
    hardware::console::spawn(move |line| console.command(line))
        .context("starting the console thread")?;

    match &args.link {
        Some(l) => println!("ready {}", l.display()),
        None => println!("ready {device_str}"),
    }
    let end = sim.run();
    drop(socat);
    match end {
        SimEnd::Stopped | SimEnd::Dropped => Ok(()),
        SimEnd::LinkLost => bail!("the line to the cash register was lost"),
    }
}
