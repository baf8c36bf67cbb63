//! Virtual serial cables: a pseudo-terminal pair made by `socat`, for the simulated
//! payment terminal of the all-in-one installation and for tests. Never used on an
//! appliance with a real terminal.
//!
//! The pair lives as long as the value; dropping it stops socat and removes the links.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PtyError {
    #[error("cannot start socat (install the socat package): {0}")]
    Socat(std::io::Error),
    #[error("socat stopped before the serial pair was ready ({0})")]
    Exited(String),
    #[error("socat did not create {0} within 5 s")]
    Timeout(PathBuf),
}

/// Two connected serial devices at the paths given: what one end writes, the other reads.
#[derive(Debug)]
pub struct PtyPair {
    child: Child,
    ends: [PathBuf; 2],
}

impl PtyPair {
    pub fn create(a: &Path, b: &Path) -> Result<PtyPair, PtyError> {
        let child = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", a.display()))
            .arg(format!("pty,raw,echo=0,link={}", b.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(PtyError::Socat)?;
        let mut pair = PtyPair {
            child,
            ends: [a.to_path_buf(), b.to_path_buf()],
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(a.exists() && b.exists()) {
            match pair.child.try_wait() {
                Ok(Some(status)) => return Err(PtyError::Exited(status.to_string())),
                Ok(None) => {}
                Err(e) => return Err(PtyError::Exited(e.to_string())),
            }
            if Instant::now() > deadline {
                return Err(PtyError::Timeout(b.to_path_buf()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(pair)
    }

    /// The two device paths, in the order given to [`PtyPair::create`].
    pub fn ends(&self) -> (&Path, &Path) {
        (&self.ends[0], &self.ends[1])
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A killed socat leaves its links behind.
        for l in &self.ends {
            if l.symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                let _ = std::fs::remove_file(l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn bytes_cross_the_pair_and_drop_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let pair = PtyPair::create(&a, &b).unwrap();
        let mut wa = std::fs::OpenOptions::new().write(true).open(&a).unwrap();
        let mut rb = std::fs::File::open(&b).unwrap();
        wa.write_all(b"ENQ").unwrap();
        let mut buf = [0u8; 3];
        rb.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ENQ");
        drop(pair);
        assert!(!a.exists() && !b.exists());
    }
}
