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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn chunk(table: usize, part: usize) -> Chunk {
        Chunk {
            table,
            part,
            parts: 2,
            range: None,
            estimated_bytes: 0,
        }
    }

    fn taken(chunk: Option<Chunk>) -> (usize, usize) {
        let chunk = chunk.unwrap();
        (chunk.table, chunk.part)
    }

    #[tokio::test]
    async fn chunks_are_taken_in_order_and_the_queue_ends() {
        let queue = ChunkQueue::new(vec![chunk(0, 0), chunk(0, 1), chunk(1, 0)], false);
        assert_eq!(taken(queue.next().await.unwrap()), (0, 0));
        // Side by side: a table's second range does not wait for its first.
        assert_eq!(taken(queue.next().await.unwrap()), (0, 1));
        assert_eq!(taken(queue.next().await.unwrap()), (1, 0));
        assert!(queue.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn on_dolt_a_table_loads_one_range_at_a_time() {
        let queue = ChunkQueue::new(vec![chunk(0, 0), chunk(0, 1), chunk(1, 0)], true);
        assert_eq!(taken(queue.next().await.unwrap()), (0, 0));
        // Table 0 is busy: the next worker takes table 1, passing range 0/1.
        assert_eq!(taken(queue.next().await.unwrap()), (1, 0));
        // Only table 0's second range is left, and table 0 is busy: wait.
        let waiting = tokio::time::timeout(Duration::from_millis(100), queue.next()).await;
        assert!(waiting.is_err(), "a busy table's range was handed out");
        queue.finish(1);
        let still = tokio::time::timeout(Duration::from_millis(100), queue.next()).await;
        assert!(still.is_err(), "another table finishing frees nothing");
        queue.finish(0);
        let next = tokio::time::timeout(Duration::from_secs(5), queue.next()).await;
        assert_eq!(taken(next.unwrap().unwrap()), (0, 1));
        assert!(queue.next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_waiting_worker_wakes_when_the_table_is_free() {
        let queue = std::sync::Arc::new(ChunkQueue::new(vec![chunk(0, 0), chunk(0, 1)], true));
        assert_eq!(taken(queue.next().await.unwrap()), (0, 0));
        let worker = {
            let queue = std::sync::Arc::clone(&queue);
            tokio::spawn(async move { taken(queue.next().await.unwrap()) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!worker.is_finished());
        queue.finish(0);
        let next = tokio::time::timeout(Duration::from_secs(5), worker).await;
        assert_eq!(next.unwrap().unwrap(), (0, 1));
    }
}
