//! The chunks waiting to be copied, largest first. On Dolt the ranges of
//! one table are taken one after another: concurrent transactions on one
//! branch commit under a lock, each merged into the working set, and two
//! that wrote the same keyless table fail with "serialization failure:
//! this transaction conflicts with a committed transaction" (seen on Dolt
//! 1.86.4). Different tables still load side by side.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;

use anyhow::anyhow;
use tokio::sync::Notify;

use super::Chunk;

/// Chunks to copy, shared by the workers.
pub(super) struct ChunkQueue {
    state: Mutex<State>,
    /// a chunk finished: a table's next range may be free
    finished: Notify,
    /// one range of a table at a time (Dolt)
    one_range_per_table: bool,
}

struct State {
    waiting: VecDeque<Chunk>,
    /// tables with a range being copied
    busy: BTreeSet<usize>,
}

impl ChunkQueue {
    pub(super) fn new(chunks: Vec<Chunk>, one_range_per_table: bool) -> ChunkQueue {
        ChunkQueue {
            state: Mutex::new(State {
                waiting: chunks.into(),
                busy: BTreeSet::new(),
            }),
            finished: Notify::new(),
            one_range_per_table,
        }
    }

    /// The next chunk this worker may copy, waiting while every waiting
    /// chunk belongs to a busy table; `None` when nothing is left.
    pub(super) async fn next(&self) -> anyhow::Result<Option<Chunk>> {
        loop {
            // Registered before looking, so a `finish` in between wakes us.
            let finished = self.finished.notified();
            {
                let mut state = self
                    .state
                    .lock()
                    .map_err(|_| anyhow!("chunk queue poisoned"))?;
                if state.waiting.is_empty() {
                    return Ok(None);
                }
                let free = if self.one_range_per_table {
                    state
                        .waiting
                        .iter()
                        .position(|chunk| !state.busy.contains(&chunk.table))
                } else {
                    Some(0)
                };
                if let Some(index) = free {
                    let chunk = state.waiting.remove(index);
                    if let Some(chunk) = &chunk {
                        state.busy.insert(chunk.table);
                    }
                    return Ok(chunk);
                }
            }
            finished.await;
        }
    }

    /// A chunk of `table` is done (copied or failed).
    pub(super) fn finish(&self, table: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.busy.remove(&table);
        }
        self.finished.notify_waiters();
    }
}
