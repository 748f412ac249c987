//! The load loop the in-process benchmarks share: concurrent callers
//! repeating one call, a warm-up, then throughput and latency percentiles.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What one run measured.
pub struct Figures {
    /// Completed calls per second.
    pub rate: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
}

/// Run `callers` loops of `call` for a 500 ms warm-up plus `window`.
pub async fn drive<F, Fut>(callers: usize, window: Duration, call: F) -> Figures
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let warmup = Duration::from_millis(500);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (call, stop) = (call.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let measure_from = Instant::now() + warmup;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    call().await;
                    if started >= measure_from {
                        latencies.push(started.elapsed());
                    }
                    // A call can complete without ever waiting; let the
                    // other callers (and the timer) run.
                    tokio::task::yield_now().await;
                }
                latencies
            })
        })
        .collect();
    tokio::time::sleep(warmup).await;
    let measuring = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = measuring.elapsed();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    latencies.sort();
    let count = latencies.len().max(1);
    Figures {
        rate: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: latencies[count / 2],
        p99: latencies[(count * 99 / 100).min(count - 1)],
    }
}

/// Milliseconds, for printing.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
