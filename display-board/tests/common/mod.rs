//! A real hub on 127.0.0.1 (`hub::testkit`) with its database in a temp dir, plus a
//! board following it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use display_board::model::{BoardModel, Zone};
use display_board::subscriber::{self, BoardUpdate, SharedBoard, SubscriberOptions};
use protocol::HubClient;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub(crate) use hub::testkit::TestHub;

/// A hub in a fresh temp dir with the test centre (supervisor `sup`, PIN 1234), no
/// business day open yet.
pub(crate) async fn start_hub() -> TestHub {
    let dir = tempfile::tempdir().unwrap().keep();
    TestHub::start_in(dir, hub::testkit::config(""), false).await
}

/// A hub on the data in `dir`, bound to `addr` (a restart takes its old port back).
pub(crate) async fn start_hub_at(dir: PathBuf, addr: SocketAddr) -> TestHub {
    TestHub::start_with(
        dir,
        hub::testkit::config(""),
        hub::store::Clock::new(true),
        false,
        addr,
    )
    .await
}

/// A board model following a hub through the real subscriber.
pub(crate) struct TestBoard {
    pub(crate) model: SharedBoard,
    pub(crate) updates: mpsc::UnboundedReceiver<BoardUpdate>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

pub(crate) fn fast_options() -> SubscriberOptions {
    SubscriberOptions {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..SubscriberOptions::default()
    }
}

impl TestBoard {
    pub(crate) fn start(hub_url: &str, zone: Zone) -> TestBoard {
        TestBoard::resume(hub_url, Arc::new(Mutex::new(BoardModel::new(zone))))
    }

    /// A subscriber for an existing model (it resumes from the model's last sequence).
    pub(crate) fn resume(hub_url: &str, model: SharedBoard) -> TestBoard {
        TestBoard::resume_with(hub_url, model, fast_options())
    }

    pub(crate) fn resume_with(
        hub_url: &str,
        model: SharedBoard,
        opts: SubscriberOptions,
    ) -> TestBoard {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let url = hub_url.to_owned();
        let m = model.clone();
        let task = tokio::spawn(async move {
            subscriber::run(&url, m, tx, opts, async move {
                let _ = stopped.await;
            })
            .await;
        });
        TestBoard {
            model,
            updates: rx,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Waits for the next update matching `f`, failing after 5 s.
    pub(crate) async fn wait_for(
        &mut self,
        mut f: impl FnMut(&BoardUpdate) -> bool,
    ) -> BoardUpdate {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let u = tokio::time::timeout_at(deadline, self.updates.recv())
                .await
                .expect("the board did not update in time")
                .expect("the subscriber stopped");
            if f(&u) {
                return u;
            }
        }
    }

    /// Waits (up to 5 s) until the board has applied every event the hub has published
    /// (its `/health` `last_seq`), then returns the sequences of the calls it reported on
    /// the way. The subscriber sends each update while it holds the model, so once the
    /// model is caught up every update is already in the channel.
    pub(crate) async fn settle(&mut self, hub: &HubClient) -> Vec<i64> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut seqs = Vec::new();
        loop {
            let target = hub.health().await.unwrap().last_seq;
            let applied = subscriber::lock(&self.model).last_seq();
            while let Ok(u) = self.updates.try_recv() {
                if let BoardUpdate::Called { seq, .. } = u {
                    seqs.push(seq);
                }
            }
            if applied == Some(target) {
                return seqs;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the board stayed at {applied:?}; the hub is at {target}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) async fn stop(mut self) -> SharedBoard {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        self.model.clone()
    }
}
