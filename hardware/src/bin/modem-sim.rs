//! `modem-sim`: a simulated GSM modem answering AT commands (3GPP TS 27.005/27.007, PDU
//! mode) on a serial device or a pty, for demos and tests of the SMS gateway.
//!
//! ```text
//! modem-sim --device /dev/pts/7        serve on an existing device (a pty end)
//! modem-sim --link /tmp/modem          create a pty pair with socat; the SMS gateway
//!                                      opens /tmp/modem
//! options: --default BEHAVIOUR
//! ```
//!
//! Commands on stdin, one per line: `normal`, `no-network`, `no-credit`, `slow MS`,
//! `silent`, `cms N`, `unresponsive` (queued for the next sends), `default BEHAVIOUR` (the
//! modem's state), `status`, `quit`. Events on stdout, one per line: `ready PATH`, `sent`,
//! `refused`, `ignored`, `abandoned`. Phone numbers are printed masked.

use anyhow::{Context, Result, bail};
use hardware::pty::PtyPair;
use hardware::sms::sim::{ModemSimEnd, SimEvent};
use hardware::sms::{ModemBehaviour, ModemSim};
use hardware::terminal::{LineFormat, SerialLink};
use std::path::PathBuf;

const USAGE: &str = "usage: modem-sim (--device PATH | --link PATH) [--default BEHAVIOUR]";

#[derive(Debug)]
struct Args {
    device: Option<PathBuf>,
    link: Option<PathBuf>,
    default: ModemBehaviour,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        device: None,
        link: None,
        default: ModemBehaviour::Normal,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--device" => args.device = it.next().map(PathBuf::from),
            "--link" => args.link = it.next().map(PathBuf::from),
            "--default" => {
                let v = it.next().context("--default needs a behaviour")?;
                let words: Vec<&str> = v.split_whitespace().collect();
                args.default = ModemBehaviour::parse(&words)
                    .with_context(|| format!("unknown behaviour {v:?}"))?;
            }
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

fn describe(e: &SimEvent) -> String {
    match e {
        SimEvent::Sent(s) => {
            let part = s
                .concatenation
                .map(|c| format!(" part {}/{} ref {}", c.seq, c.total, c.reference))
                .unwrap_or_default();
            format!(
                "sent {} mr {}{part}{} {:?}: {}",
                hardware::mask::mask_phone(&s.to),
                s.message_reference,
                if s.confirmed { "" } else { " unanswered" },
                s.alphabet,
                s.text
            )
        }
        SimEvent::Refused(n) => format!("refused +CMS ERROR: {n}"),
        SimEvent::Ignored(cmd) => format!("ignored {cmd}"),
        SimEvent::Abandoned => "abandoned".into(),
    }
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let (socat, device) = match (&args.device, &args.link) {
        (Some(d), _) => (None, d.clone()),
        (None, Some(l)) => {
            let ours = PathBuf::from(format!("{}.modem", l.display()));
            let pair = PtyPair::create(&ours, l)?;
            (Some(pair), ours)
        }
        (None, None) => bail!("{USAGE}"),
    };
    let device_str = device.to_string_lossy().into_owned();
    // A pty ignores the speed; a real serial line to a gateway would be 115200 8N1.
    let mut link = SerialLink::new(device_str.clone(), 115_200, LineFormat::EightN1);
    link.open()
        .with_context(|| format!("opening {device_str}"))?;
    let (mut sim, handle) = ModemSim::new(link);
    handle.set_default(args.default);
    sim.observe(|e| println!("{}", describe(e)));

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
        ModemSimEnd::Stopped => Ok(()),
        ModemSimEnd::LinkLost => bail!("the line to the SMS gateway was lost"),
    }
}
