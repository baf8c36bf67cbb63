//! The hub's story tests run on `hub::testkit` (a real hub on 127.0.0.1:0 with its
//! database in a temp dir); these start it with the business day still closed.

#![allow(dead_code, unused_imports)]

use std::net::SocketAddr;
use std::path::PathBuf;

pub(crate) use hub::testkit::{TestHub, config, refusal_code as code};

/// A hub in a fresh temp dir, no business day open yet.
pub(crate) async fn start(cfg: hub::Config) -> TestHub {
    let dir = tempfile::tempdir().unwrap().keep();
    TestHub::start_in(dir, cfg, false).await
}

/// A hub on the data in `dir` with the given clock, no day opened at start.
pub(crate) async fn start_with_clock(
    dir: PathBuf,
    cfg: hub::Config,
    clock: hub::store::Clock,
) -> TestHub {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    TestHub::start_with(dir, cfg, clock, false, any).await
}
