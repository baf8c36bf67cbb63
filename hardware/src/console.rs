//! The simulators' console: each line typed on standard input is one command for a
//! running simulator (`terminal-sim`, `modem-sim`), its reply printed.

use std::io::BufRead;
use std::thread::JoinHandle;

/// Reads standard input on its own thread until it closes, handing each line to
/// `command` and printing a non-empty reply, or `error: ...`.
pub fn spawn(
    command: impl Fn(&str) -> Result<String, String> + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("console".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                match command(&line) {
                    Ok(reply) if reply.is_empty() => {}
                    Ok(reply) => println!("{reply}"),
                    Err(e) => println!("error: {e}"),
                }
            }
        })
}
