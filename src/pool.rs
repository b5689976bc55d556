//! A few workers draining one queue of items, the first failure ending it
//! all: the plan's checks (one reader each) and the restore's data files
//! (one target connection each) share this. (The copy spawns its workers
//! as tasks and takes ranges in its own order: `copy/queue.rs`.)

use std::collections::VecDeque;
use std::sync::Mutex;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;

/// Runs `work` on every item, in order, with as many at once as there
/// are `workers` (each item gets one worker's state); returns the outputs
/// as they were done. The first error is returned at once and the other
/// workers are dropped (their statements end with their connections).
pub async fn drain<W, I, O>(
    workers: Vec<W>,
    items: Vec<I>,
    work: impl AsyncFn(&mut W, I) -> anyhow::Result<O>,
) -> anyhow::Result<Vec<O>> {
    let queue = Mutex::new(VecDeque::from(items));
    let (queue, work) = (&queue, &work);
    let mut running: FuturesUnordered<_> = workers
        .into_iter()
        .map(|mut worker| async move {
            let mut done = Vec::new();
            loop {
                let next = queue
                    .lock()
                    .map_err(|_| anyhow::anyhow!("work queue poisoned"))?
                    .pop_front();
                let Some(item) = next else {
                    return anyhow::Ok(done);
                };
                done.push(work(&mut worker, item).await?);
            }
        })
        .collect();
    let mut outputs = Vec::new();
    while let Some(result) = running.next().await {
        outputs.extend(result?);
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_item_is_done_once_by_some_worker() {
        let done = drain(
            vec![0_u32, 0, 0],
            (1..=10).collect(),
            async |count: &mut u32, item: u32| {
                *count += 1;
                tokio::task::yield_now().await;
                anyhow::Ok(item * 2)
            },
        )
        .await
        .unwrap();
        let mut done = done;
        done.sort_unstable();
        assert_eq!(done, (1..=10).map(|item| item * 2).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn the_first_failure_ends_the_work() {
        let started = std::sync::atomic::AtomicU32::new(0);
        let result = drain(
            vec![(), ()],
            (1..=100).collect(),
            async |(): &mut (), item: u32| {
                started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
                if item == 3 {
                    anyhow::bail!("item 3 failed");
                }
                anyhow::Ok(item)
            },
        )
        .await;
        assert_eq!(result.unwrap_err().to_string(), "item 3 failed");
        assert!(started.load(std::sync::atomic::Ordering::Relaxed) < 10);
    }
}
