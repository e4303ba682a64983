//! A memory budget shared by concurrent work (photo decodes): each piece of work reserves
//! what it will allocate before it starts, waits a short time when the budget is spent, and
//! is turned away after that rather than pushing the process out of memory.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in KiB, so that large budgets fit a semaphore's `u32` requests.
const UNIT: u64 = 1024;

/// A budget of bytes in flight.
#[derive(Debug)]
pub struct MemoryBudget {
    free: Arc<Semaphore>,
    total: u32,
    wait: Duration,
}

/// Part of a [`MemoryBudget`], given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl MemoryBudget {
    /// A budget of `mib` MiB (at least 1); reservations wait at most `wait` for room.
    pub fn new(mib: u64, wait: Duration) -> MemoryBudget {
        let total = mib.max(1).saturating_mul(1024).min(u64::from(u32::MAX)) as u32;
        MemoryBudget {
            free: Arc::new(Semaphore::new(total as usize)),
            total,
            wait,
        }
    }

    /// Reserves `bytes`, waiting up to the budget's wait for room; `None` when there is
    /// still no room then. Work larger than the whole budget reserves all of it, so it runs
    /// alone rather than never.
    pub async fn reserve(&self, bytes: u64) -> Option<Reservation> {
        let units = bytes.div_ceil(UNIT).clamp(1, u64::from(self.total)) as u32;
        let permit = Arc::clone(&self.free).acquire_many_owned(units);
        match tokio::time::timeout(self.wait, permit).await {
            Ok(Ok(permit)) => Some(Reservation { _permit: permit }),
            // Timed out (or closed, which this budget never is).
            _ => None,
        }
    }
}
