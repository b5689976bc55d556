//! The bytes of converted rows in memory at once, across all workers:
//! converted, queued for the sinks, or being sent. A worker holds permits
//! for the rows it is converting and hands them on with each chunk; they
//! return when every sink has dropped the chunk. Large rows then wait for
//! each other instead of piling up.
//!
//! No worker waits for permits while it holds rows it has not sent: the
//! permits it waits for are held only by chunks on their way to a sink,
//! which the sinks drain without needing permits, so the waits end.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes of converted rows in flight across all workers (README: memory).
pub const MEMORY_BUDGET: usize = 64 * 1024 * 1024;

/// The shared budget.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    semaphore: Arc<Semaphore>,
    total: usize,
}

/// Permits one worker holds for the rows it is converting.
#[derive(Debug, Default)]
pub struct Held {
    permit: Option<OwnedSemaphorePermit>,
}

impl Held {
    fn bytes(&self) -> usize {
        self.permit
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits)
    }

    fn add(&mut self, permit: OwnedSemaphorePermit) {
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
    }

    /// The permits for a chunk of `bytes`, leaving the rest held.
    fn take(&mut self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let mut taken = self.permit.take()?;
        if taken.num_permits() > bytes {
            self.permit = taken.split(taken.num_permits() - bytes);
        }
        Some(taken)
    }
}

impl MemoryBudget {
    /// A budget of `total` bytes.
    #[must_use]
    pub fn new(total: usize) -> MemoryBudget {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        MemoryBudget {
            semaphore: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// How many more permits make `held` cover `bytes`: at least `unit`
    /// (fewer, larger acquisitions), never more than the whole budget, so
    /// one row larger than the budget takes all of it and goes alone.
    fn shortfall(&self, held: &Held, bytes: usize, unit: usize) -> usize {
        let wanted = bytes.min(self.total);
        let have = held.bytes();
        if have >= wanted {
            return 0;
        }
        (wanted - have).max(unit).min(self.total - have)
    }

    /// Tries to cover `bytes` without waiting.
    pub fn try_cover(&self, held: &mut Held, bytes: usize, unit: usize) -> bool {
        let more = self.shortfall(held, bytes, unit);
        if more == 0 {
            return true;
        }
        match u32::try_from(more).ok().and_then(|more| {
            Arc::clone(&self.semaphore)
                .try_acquire_many_owned(more)
                .ok()
        }) {
            Some(permit) => {
                held.add(permit);
                true
            }
            None => false,
        }
    }

    /// Covers `bytes`, waiting for permits. Call it holding no unsent rows.
    pub async fn cover(&self, held: &mut Held, bytes: usize, unit: usize) {
        let more = u32::try_from(self.shortfall(held, bytes, unit)).unwrap_or(u32::MAX);
        if more == 0 {
            return;
        }
        // The semaphore is never closed, so acquiring only waits.
        if let Ok(permit) = Arc::clone(&self.semaphore).acquire_many_owned(more).await {
            held.add(permit);
        }
    }
}

/// A converted chunk that gives its permits back when the last sink
/// drops it.
struct Budgeted {
    rows: Vec<u8>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsRef<[u8]> for Budgeted {
    fn as_ref(&self) -> &[u8] {
        &self.rows
    }
}

/// `rows` as a chunk carrying its share of `held`.
pub fn chunk(rows: Vec<u8>, held: &mut Held) -> Bytes {
    let permit = held.take(rows.len());
    Bytes::from_owner(Budgeted {
        rows,
        _permit: permit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn permits_return_when_the_last_clone_of_a_chunk_drops() {
        let budget = MemoryBudget::new(100);
        let mut held = Held::default();
        budget.cover(&mut held, 60, 10).await;
        assert_eq!(held.bytes(), 60);
        let sent = chunk(vec![0; 40], &mut held);
        assert_eq!(held.bytes(), 20);
        let archived = sent.clone();
        assert!(!budget.try_cover(&mut held, 90, 10));
        drop(sent);
        assert!(!budget.try_cover(&mut held, 90, 10));
        drop(archived);
        assert!(budget.try_cover(&mut held, 90, 10));
        assert_eq!(held.bytes(), 90);
    }

    #[tokio::test]
    async fn a_row_larger_than_the_budget_takes_all_of_it() {
        let budget = MemoryBudget::new(100);
        let mut held = Held::default();
        budget.cover(&mut held, 1_000, 10).await;
        assert_eq!(held.bytes(), 100);
        let mut other = Held::default();
        assert!(!budget.try_cover(&mut other, 1, 1));
    }
}
