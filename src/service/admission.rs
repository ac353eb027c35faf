//! Admission of work that holds resources for a while: how many uploads (reveals, escrow
//! deposits) may run at once, how many submissions may wait for the sequencer at once, and which
//! commitments have a deposit in progress. Over a bound the request is refused at once
//! ([`Busy`]: the server answers 503 with `Retry-After`), before latency or memory grows.
//!
//! Owns: the bounds and the permits. Never: queues a request to wait for a permit, or speaks
//! HTTP.

use std::collections::HashSet;
use std::sync::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// How much concurrent work the log admits (see README, "Limits").
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Reveal and deposit uploads receiving at once (each holds a blocking thread).
    pub uploads: usize,
    /// Submissions (`POST /v1/entries`) being checked or waiting for the sequencer at once.
    pub submissions: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            uploads: 16,
            submissions: 1024,
        }
    }
}

/// Refused at once: the log is at one of its bounds. Retry shortly.
#[derive(Debug, thiserror::Error)]
#[error("the log is receiving {bound} {what} already, its limit; retry in a second")]
pub struct Busy {
    pub what: &'static str,
    pub bound: usize,
}

/// The permits of [`Bounds`], and the commitments with a deposit in progress.
pub struct Admission {
    bounds: Bounds,
    uploads: std::sync::Arc<Semaphore>,
    submissions: std::sync::Arc<Semaphore>,
    depositing: Mutex<HashSet<u64>>,
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new(Bounds::default())
    }
}

fn permit(
    sem: &std::sync::Arc<Semaphore>,
    what: &'static str,
    bound: usize,
) -> Result<OwnedSemaphorePermit, Busy> {
    sem.clone().try_acquire_owned().map_err(|e| match e {
        TryAcquireError::NoPermits | TryAcquireError::Closed => Busy { what, bound },
    })
}

impl Admission {
    pub fn new(bounds: Bounds) -> Admission {
        Admission {
            bounds,
            uploads: std::sync::Arc::new(Semaphore::new(bounds.uploads)),
            submissions: std::sync::Arc::new(Semaphore::new(bounds.submissions)),
            depositing: Mutex::new(HashSet::new()),
        }
    }

    /// A slot for one upload, held while it is received.
    pub fn upload(&self) -> Result<OwnedSemaphorePermit, Busy> {
        permit(&self.uploads, "uploads", self.bounds.uploads)
    }

    /// A slot for one submission, held until the sequencer answers it.
    pub fn submission(&self) -> Result<OwnedSemaphorePermit, Busy> {
        permit(&self.submissions, "submissions", self.bounds.submissions)
    }

    /// Marks commitment `index` as having a deposit in progress; `None` if one already is.
    pub fn start_deposit(&self, index: u64) -> Option<DepositGuard<'_>> {
        // The lock is released before a guard exists: a refused guard built eagerly (and
        // dropped) would take the lock again, and remove the deposit in progress.
        let fresh = self.depositing.lock().unwrap().insert(index);
        fresh.then(|| DepositGuard { a: self, index })
    }
}

/// A deposit in progress for one commitment; released on drop.
pub struct DepositGuard<'a> {
    a: &'a Admission,
    index: u64,
}

impl Drop for DepositGuard<'_> {
    fn drop(&mut self) {
        self.a.depositing.lock().unwrap().remove(&self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_at_once_and_free_on_drop() {
        let a = Admission::new(Bounds {
            uploads: 1,
            submissions: 2,
        });
        let one = a.upload().unwrap();
        assert_eq!(a.upload().unwrap_err().bound, 1);
        drop(one);
        assert!(a.upload().is_ok());
        let (_x, _y) = (a.submission().unwrap(), a.submission().unwrap());
        assert!(a.submission().is_err());
    }

    #[test]
    fn one_deposit_per_commitment_at_a_time() {
        let a = Admission::default();
        let first = a.start_deposit(7).unwrap();
        assert!(a.start_deposit(7).is_none());
        assert!(a.start_deposit(8).is_some());
        drop(first);
        assert!(a.start_deposit(7).is_some());
    }
}
