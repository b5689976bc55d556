//! Where a chunk's converted rows go: the target's load and the archive's
//! data file, each behind a bounded channel (backpressure), both given the
//! same LOAD DATA text.

use std::io;

use bytes::Bytes;
use tokio::sync::mpsc;

/// A sink stopped reading: its own error explains why.
#[derive(Debug, thiserror::Error)]
#[error("the target or the archive stopped reading")]
pub(super) struct SinkStopped;

/// Where converted chunks go: both get the same LOAD DATA text.
pub(super) struct Sinks {
    /// the target's load
    pub(super) load: Option<mpsc::Sender<io::Result<Bytes>>>,
    /// the archive's data file
    pub(super) archive: Option<mpsc::Sender<io::Result<Bytes>>>,
}

impl Sinks {
    /// Sends one chunk to every sink (waiting for room: backpressure).
    pub(super) async fn send(&self, chunk: Bytes) -> Result<(), SinkStopped> {
        if let Some(sender) = &self.archive {
            sender
                .send(Ok(chunk.clone()))
                .await
                .map_err(|_| SinkStopped)?;
        }
        if let Some(sender) = &self.load {
            sender.send(Ok(chunk)).await.map_err(|_| SinkStopped)?;
        }
        Ok(())
    }

    /// Tells every sink the stream failed: loads roll back, archive files
    /// are dropped (either may be gone already).
    pub(super) async fn fail(&self, error: &anyhow::Error) {
        for sender in [&self.load, &self.archive].into_iter().flatten() {
            let _ = sender.send(Err(io::Error::other(error.to_string()))).await;
        }
    }
}

pub(super) type Channel = (
    Option<mpsc::Sender<io::Result<Bytes>>>,
    Option<mpsc::Receiver<io::Result<Bytes>>>,
);

pub(super) fn channel(wanted: bool) -> Channel {
    if wanted {
        let (sender, receiver) = crate::mysql::load::chunk_channel();
        (Some(sender), Some(receiver))
    } else {
        (None, None)
    }
}
