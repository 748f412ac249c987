//! Rate limits: a token bucket per key (an API token's id, a connector's
//! id), kept as GCRA (the generic cell rate algorithm), which stores one
//! number per key, the bucket's "theoretical arrival time", instead of a
//! count and a timestamp.
//!
//! The limiter sits on every authenticated request, so it is cheap: keys are
//! spread over a few mutex-guarded shards (two requests contend only when
//! their keys share a shard), a lookup allocates nothing, and a bucket that
//! has filled up again is indistinguishable from no bucket at all, so each
//! shard drops those now and then: memory stays proportional to the keys
//! busy in the last refill window, not to every key ever seen.
//!
//! What a refusal looks like on the wire (`429`, `Retry-After`,
//! `RateLimit-*`) is in [`headers`].

pub mod headers;

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

/// Shards of a limiter: enough that two cores rarely wait on each other,
/// few enough that sweeping them all stays trivial.
const SHARDS: usize = 16;

/// A sustained rate: `count` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    period: Duration,
}

impl Rate {
    /// `count` requests per `period` (`count` and `period` above zero).
    pub fn new(count: u32, period: Duration) -> Option<Self> {
        (count > 0 && !period.is_zero()).then_some(Self { count, period })
    }

    /// `count` requests per second.
    pub fn per_second(count: u32) -> Option<Self> {
        Self::new(count, Duration::from_secs(1))
    }

    /// The time one request's worth of the bucket takes to refill, in
    /// nanoseconds (at least 1).
    fn interval_ns(self) -> u64 {
        (self.period.as_nanos() / u128::from(self.count)).clamp(1, u128::from(u64::MAX)) as u64
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            3600 => "h",
            60 => "m",
            _ => "s",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A rate setting as operators write it: `RATE/UNIT` with the unit `s`,
/// `m` or `h` (`20/s`, `600/m`), a bare number of requests per second, or
/// `0` / `off` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateSetting {
    /// No limit.
    Off,
    /// A sustained rate.
    Limited(Rate),
}

impl FromStr for RateSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "0" || text.eq_ignore_ascii_case("off") {
            return Ok(Self::Off);
        }
        let (count, unit) = text.split_once('/').unwrap_or((text, "s"));
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => {
                return Err(format!(
                    "unknown unit `{other}`: write RATE/s, RATE/m or RATE/h (e.g. 20/s), or 0 for no limit"
                ));
            }
        };
        let count: u32 = count.trim().parse().map_err(|_| {
            format!("`{text}` is not a rate: write RATE/s, RATE/m or RATE/h (e.g. 20/s), or 0 for no limit")
        })?;
        Ok(match Rate::new(count, period) {
            Some(rate) => Self::Limited(rate),
            None => Self::Off,
        })
    }
}

/// A limit: a sustained [`Rate`] and a burst, the requests a key may make
/// at once after a quiet spell (the bucket's size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// How fast the bucket refills.
    pub rate: Rate,
    /// How many requests it holds (at least 1).
    pub burst: u32,
}

impl Quota {
    /// `rate` with `burst` (a burst of 0 is taken as 1: a bucket that holds
    /// nothing would refuse everything).
    pub fn new(rate: Rate, burst: u32) -> Self {
        Self {
            rate,
            burst: burst.max(1),
        }
    }

    /// The quota of `setting` with `burst`, or `None` for no limit.
    pub fn of(setting: RateSetting, burst: u32) -> Option<Self> {
        match setting {
            RateSetting::Off => None,
            RateSetting::Limited(rate) => Some(Self::new(rate, burst)),
        }
    }

    /// How long an empty bucket takes to fill up: the window of the
    /// equivalent fixed-window policy (`burst` requests per window).
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.capacity_ns())
    }

    fn capacity_ns(&self) -> u64 {
        self.rate
            .interval_ns()
            .saturating_mul(u64::from(self.burst))
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, burst {}", self.rate, self.burst)
    }
}

/// The default limit of each API token: 100 requests a second sustained,
/// 200 at once. One workflow engine usually runs every step with one token,
/// so the limit only stops a runaway client (a retry loop), not a busy one.
pub const DEFAULT_TOKEN_RATE: &str = "100/s";
/// The default burst of each API token (two seconds at the default rate).
pub const DEFAULT_TOKEN_BURST: u32 = 200;
/// The default limit of each connector's executions, whoever asks: 50 a
/// second sustained, 100 at once, to spare the API behind the connector
/// (most SaaS APIs allow tens of calls a second) and the sandboxes.
pub const DEFAULT_EXECUTION_RATE: &str = "50/s";
/// The default burst of each connector's executions.
pub const DEFAULT_EXECUTION_BURST: u32 = 100;

/// The limits a server enforces; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per API token (by its id), over the API, MCP and the web UI
    /// sessions signed in with it.
    pub token: Option<Quota>,
    /// Executions and tests per connector (by its id), over every front end.
    pub execution: Option<Quota>,
}

impl RateLimits {
    /// No limits (benchmarks measure the host, not the limits).
    pub const UNLIMITED: Self = Self {
        token: None,
        execution: None,
    };
}

impl Default for RateLimits {
    fn default() -> Self {
        let quota = |rate: &str, burst| match rate.parse() {
            Ok(setting) => Quota::of(setting, burst),
            Err(_) => None,
        };
        Self {
            token: quota(DEFAULT_TOKEN_RATE, DEFAULT_TOKEN_BURST),
            execution: quota(DEFAULT_EXECUTION_RATE, DEFAULT_EXECUTION_BURST),
        }
    }
}

/// Where a key stands after a request it was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The limit.
    pub quota: Quota,
    /// Requests it may still make at once.
    pub remaining: u32,
    /// Until its bucket is full again.
    pub reset: Duration,
}

/// A request over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("over the rate limit ({}); retry in {} s", .standing.quota, headers::whole_seconds(.retry_after))]
pub struct Refusal {
    /// Where the key stands (nothing remaining).
    pub standing: Standing,
    /// Until the next request would be allowed.
    pub retry_after: Duration,
}

/// Time as the limiter sees it: nanoseconds since some fixed origin, never
/// going back. Tests drive it by hand.
pub trait Clock: Send + Sync {
    /// Now, in nanoseconds since the clock's origin.
    fn now_ns(&self) -> u64;
}

/// The monotonic system clock, counted from the limiter's creation.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock(Instant);

impl Default for MonotonicClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for MonotonicClock {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One shard: each busy key's theoretical arrival time, and when the shard
/// next drops the full buckets.
#[derive(Default)]
struct Shard {
    arrivals: HashMap<Box<str>, u64>,
    next_sweep_ns: u64,
}

/// Token buckets keyed by string, all with one [`Quota`].
pub struct RateLimiter<C: Clock = MonotonicClock> {
    quota: Quota,
    clock: C,
    shards: [Mutex<Shard>; SHARDS],
    hasher: RandomState,
    refused: Option<Counter>,
}

impl RateLimiter {
    /// A limiter with `quota` on the system clock.
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, MonotonicClock::default())
    }
}

impl<C: Clock> RateLimiter<C> {
    /// A limiter with `quota` on `clock`.
    pub fn with_clock(quota: Quota, clock: C) -> Self {
        Self {
            quota,
            clock,
            shards: std::array::from_fn(|_| Mutex::default()),
            hasher: RandomState::new(),
            refused: None,
        }
    }

    /// Count each refusal in `counter` (the Prometheus metric).
    pub fn counting_refusals(mut self, counter: Counter) -> Self {
        self.refused = Some(counter);
        self
    }

    /// The limit every key has.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Take one request from `key`'s bucket, or say how long to wait.
    pub fn check(&self, key: &str) -> Result<Standing, Refusal> {
        let decision = self.check_at(key, self.clock.now_ns());
        if decision.is_err()
            && let Some(counter) = &self.refused
        {
            counter.inc();
        }
        decision
    }

    /// GCRA at `now`: a request is allowed when the bucket's arrival time,
    /// moved on by one request, stays within one capacity of now.
    fn check_at(&self, key: &str, now: u64) -> Result<Standing, Refusal> {
        let interval = self.quota.rate.interval_ns();
        let capacity = self.quota.capacity_ns();
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now >= shard.next_sweep_ns {
            // A full bucket (arrival time in the past) is the same as none.
            shard.arrivals.retain(|_, arrival| *arrival > now);
            shard.next_sweep_ns = now.saturating_add(capacity.max(1_000_000_000));
        }
        let arrival = shard.arrivals.get(key).copied().unwrap_or(now).max(now);
        let next = arrival.saturating_add(interval);
        let used = next - now;
        if used > capacity {
            return Err(Refusal {
                standing: Standing {
                    quota: self.quota,
                    remaining: 0,
                    reset: Duration::from_nanos(arrival - now),
                },
                retry_after: Duration::from_nanos(used - capacity),
            });
        }
        match shard.arrivals.get_mut(key) {
            Some(stored) => *stored = next,
            None => {
                shard.arrivals.insert(key.into(), next);
            }
        }
        Ok(Standing {
            quota: self.quota,
            remaining: u32::try_from((capacity - used) / interval).unwrap_or(u32::MAX),
            reset: Duration::from_nanos(used),
        })
    }

    /// Keys with a bucket that is not full.
    pub fn tracked_keys(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .arrivals
                    .len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A clock the test moves by hand.
    #[derive(Clone, Default)]
    struct ManualClock(Arc<AtomicU64>);

    impl ManualClock {
        fn advance(&self, by: Duration) {
            self.0.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
        }
    }

    impl Clock for ManualClock {
        fn now_ns(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn limiter(per_second: u32, burst: u32) -> (RateLimiter<ManualClock>, ManualClock) {
        let clock = ManualClock::default();
        let rate = Rate::per_second(per_second).expect("a rate");
        (
            RateLimiter::with_clock(Quota::new(rate, burst), clock.clone()),
            clock,
        )
    }

    #[test]
    fn a_full_bucket_allows_the_burst_then_refuses() {
        let (limiter, _) = limiter(1, 10);
        for expected_remaining in (0..10).rev() {
            let standing = limiter.check("tok_a").expect("within the burst");
            assert_eq!(standing.remaining, expected_remaining);
        }
        let refusal = limiter.check("tok_a").expect_err("over the burst");
        assert_eq!(refusal.standing.remaining, 0);
        assert_eq!(refusal.retry_after, Duration::from_secs(1));
        assert_eq!(refusal.standing.reset, Duration::from_secs(10));
    }

    #[test]
    fn the_bucket_refills_at_the_rate() {
        let (limiter, clock) = limiter(2, 4);
        for _ in 0..4 {
            limiter.check("k").expect("burst");
        }
        assert!(limiter.check("k").is_err());
        clock.advance(Duration::from_millis(499));
        let refusal = limiter.check("k").expect_err("not refilled yet");
        assert_eq!(refusal.retry_after, Duration::from_millis(1));
        clock.advance(Duration::from_millis(1));
        assert_eq!(limiter.check("k").expect("one refilled").remaining, 0);
        assert!(limiter.check("k").is_err());
        // Sustained: one request every interval is always allowed.
        for _ in 0..100 {
            clock.advance(Duration::from_millis(500));
            limiter.check("k").expect("at the sustained rate");
        }
    }

    #[test]
    fn a_refusal_takes_nothing_from_the_bucket() {
        let (limiter, clock) = limiter(1, 1);
        limiter.check("k").expect("first");
        for _ in 0..50 {
            assert!(limiter.check("k").is_err());
        }
        clock.advance(Duration::from_secs(1));
        limiter
            .check("k")
            .expect("refused requests did not push the wait out");
    }

    #[test]
    fn keys_have_their_own_buckets() {
        let (limiter, _) = limiter(1, 3);
        for _ in 0..3 {
            limiter.check("busy").expect("burst");
        }
        assert!(limiter.check("busy").is_err());
        assert_eq!(limiter.check("quiet").expect("unaffected").remaining, 2);
    }

    #[test]
    fn reset_is_the_time_until_the_bucket_is_full() {
        let (limiter, clock) = limiter(10, 5);
        limiter.check("k").expect("first");
        let standing = limiter.check("k").expect("second");
        assert_eq!(standing.reset, Duration::from_millis(200));
        assert_eq!(standing.remaining, 3);
        clock.advance(Duration::from_millis(150));
        let standing = limiter.check("k").expect("third");
        assert_eq!(standing.reset, Duration::from_millis(150));
        assert_eq!(standing.remaining, 3);
    }

    #[test]
    fn full_buckets_are_forgotten() {
        let (limiter, clock) = limiter(100, 100);
        for n in 0..10_000 {
            limiter.check(&format!("key-{n}")).expect("fresh key");
        }
        assert_eq!(limiter.tracked_keys(), 10_000);
        // Every bucket refills within a second; the next request to each
        // shard sweeps it.
        clock.advance(Duration::from_secs(2));
        for n in 0..1_000 {
            limiter.check(&format!("other-{n}")).expect("fresh key");
        }
        assert!(
            limiter.tracked_keys() <= 1_000,
            "{} keys kept",
            limiter.tracked_keys()
        );
    }

    #[test]
    fn a_swept_key_starts_with_a_full_bucket() {
        let (limiter, clock) = limiter(1, 2);
        limiter.check("k").expect("first");
        limiter.check("k").expect("second");
        clock.advance(Duration::from_secs(5));
        limiter.check("sweeps").expect("another key");
        assert_eq!(limiter.check("k").expect("full again").remaining, 1);
    }

    #[test]
    fn refusals_are_counted() {
        let (limiter, _) = limiter(1, 1);
        let counter = Counter::default();
        let limiter = limiter.counting_refusals(counter.clone());
        limiter.check("k").expect("first");
        let _ = limiter.check("k");
        let _ = limiter.check("k");
        assert_eq!(counter.get(), 2);
    }

    #[test]
    fn slow_rates_keep_their_precision() {
        let clock = ManualClock::default();
        let rate = Rate::new(3, Duration::from_secs(3600)).expect("a rate");
        let limiter = RateLimiter::with_clock(Quota::new(rate, 1), clock.clone());
        limiter.check("k").expect("first");
        let refusal = limiter.check("k").expect_err("one per 20 minutes");
        assert_eq!(refusal.retry_after, Duration::from_secs(1200));
    }

    #[test]
    fn rate_settings_parse() {
        let per = |count, secs| {
            RateSetting::Limited(Rate::new(count, Duration::from_secs(secs)).expect("rate"))
        };
        assert_eq!("20/s".parse(), Ok(per(20, 1)));
        assert_eq!("20".parse(), Ok(per(20, 1)));
        assert_eq!("600/m".parse(), Ok(per(600, 60)));
        assert_eq!(" 5/h ".parse(), Ok(per(5, 3600)));
        assert_eq!("0".parse(), Ok(RateSetting::Off));
        assert_eq!("0/s".parse(), Ok(RateSetting::Off));
        assert_eq!("off".parse(), Ok(RateSetting::Off));
        assert!("20/d".parse::<RateSetting>().is_err());
        assert!("fast".parse::<RateSetting>().is_err());
        assert!("-1/s".parse::<RateSetting>().is_err());
        let rate = Rate::new(600, Duration::from_secs(60)).expect("rate");
        assert_eq!(rate.to_string(), "600/m");
    }

    #[test]
    fn the_defaults_parse() {
        let limits = RateLimits::default();
        let token = limits.token.expect("a token limit");
        assert_eq!((token.rate.to_string(), token.burst), ("100/s".into(), 200));
        let execution = limits.execution.expect("an execution limit");
        assert_eq!(
            (execution.rate.to_string(), execution.burst),
            ("50/s".into(), 100)
        );
    }

    #[test]
    fn the_window_is_the_time_to_fill_an_empty_bucket() {
        let rate = Rate::per_second(20).expect("rate");
        assert_eq!(Quota::new(rate, 100).window(), Duration::from_secs(5));
        assert_eq!(Quota::new(rate, 0).burst, 1);
    }
}
