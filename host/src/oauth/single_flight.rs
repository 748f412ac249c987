//! One refresh at a time per connector. Executions that find the access
//! token due all queue on the connector's lock; the first refreshes and
//! stores the result, the others re-read the stored grant once they hold
//! the lock and find it fresh, so a burst of N executions causes one
//! refresh, not N (a rotated refresh token may be used only once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Per-key async locks, created on first use and dropped when unused.
#[derive(Default)]
pub struct SingleFlight {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while one refresh of a key runs.
pub struct Flight {
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl SingleFlight {
    /// Wait for `key`'s lock.
    pub async fn enter(&self, key: &str) -> Flight {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            // Forget locks nobody holds or waits for (only the map refers to them).
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(key.to_string()).or_default().clone()
        };
        Flight {
            _guard: lock.lock_owned().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn one_key_runs_one_at_a_time_and_keys_do_not_block_each_other() {
        let flights = Arc::new(SingleFlight::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (flights, inside, most) = (flights.clone(), inside.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let _flight = flights.enter("con_1").await;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        let held = flights.enter("con_1").await;
        // Another key is free while con_1 is held.
        drop(flights.enter("con_2").await);
        drop(held);
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }
}
