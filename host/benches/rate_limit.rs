//! The rate limiter's cost per request (it sits on every authenticated
//! one): a hot key, many keys, a refusal, and two threads on their own keys
//! at once. Run with `cargo bench -p floh --bench rate_limit`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use floh::rate_limit::{Quota, Rate, RateLimiter};

/// A limit no benchmark reaches: every check is allowed.
fn unreachable_limit() -> RateLimiter {
    let rate = Rate::per_second(1_000_000_000).expect("rate");
    RateLimiter::new(Quota::new(rate, u32::MAX))
}

fn limiter(c: &mut Criterion) {
    let limiter = unreachable_limit();
    c.bench_function("rate_limit/allowed, one key", |b| {
        b.iter(|| limiter.check(black_box("tok_01J9ZK3W8V6Q4")))
    });

    let keys: Vec<String> = (0..10_000).map(|n| format!("tok_{n:012}")).collect();
    let limiter = unreachable_limit();
    let mut next = 0;
    c.bench_function("rate_limit/allowed, 10k keys", |b| {
        b.iter(|| {
            next = (next + 1) % keys.len();
            limiter.check(black_box(&keys[next]))
        })
    });

    let rate = Rate::new(1, Duration::from_secs(3600)).expect("rate");
    let refusing = RateLimiter::new(Quota::new(rate, 1));
    let _ = refusing.check("tok_busy");
    c.bench_function("rate_limit/refused", |b| {
        b.iter(|| refusing.check(black_box("tok_busy")))
    });

    let limiter = unreachable_limit();
    c.bench_function("rate_limit/allowed, two threads", |b| {
        b.iter_custom(|iterations| {
            let started = Instant::now();
            std::thread::scope(|scope| {
                for thread in 0..2 {
                    let (limiter, keys) = (&limiter, &keys);
                    scope.spawn(move || {
                        for n in 0..iterations as usize {
                            let _ = limiter.check(&keys[(n * 2 + thread) % keys.len()]);
                        }
                    });
                }
            });
            // Per check of one thread: what a request waits, contention included.
            started.elapsed()
        })
    });
}

criterion_group!(benches, limiter);
criterion_main!(benches);
