//! Rate limits on the wire, the same for every front end that answers
//! HTTP: `Retry-After` on a refusal (RFC 9110) and the `RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy` fields of
//! the IETF draft `draft-ietf-httpapi-ratelimit-headers` on every answer of
//! a limited route, so that clients can slow down before they are refused.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::{Refusal, Standing};

/// `RateLimit-Limit`: the requests a full bucket allows at once.
pub const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`: the requests the bucket allows now.
pub const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`: seconds until the bucket is full again.
pub const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
/// `RateLimit-Policy`: the limit as `LIMIT;w=WINDOW` (the burst, and the
/// seconds an empty bucket takes to fill).
pub const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// A duration in whole seconds, rounded up: a client that waits that long
/// is never early.
pub fn whole_seconds(duration: &Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// Add the `RateLimit-*` fields of `standing` to `headers`, unless they
/// already carry a limit's (the first limit to speak wins: an execution
/// refused by its connector's limit reports that limit, not the token's).
pub fn add_standing(headers: &mut HeaderMap, standing: &Standing) {
    if headers.contains_key(LIMIT) {
        return;
    }
    let quota = standing.quota;
    headers.insert(LIMIT, HeaderValue::from(quota.burst));
    headers.insert(REMAINING, HeaderValue::from(standing.remaining));
    headers.insert(RESET, HeaderValue::from(whole_seconds(&standing.reset)));
    let window = whole_seconds(&quota.window()).max(1);
    if let Ok(policy) = HeaderValue::from_str(&format!("{};w={window}", quota.burst)) {
        headers.insert(POLICY, policy);
    }
}

/// Add `Retry-After` (whole seconds, at least 1) and the `RateLimit-*`
/// fields of a refusal to `headers`.
pub fn add_refusal(headers: &mut HeaderMap, refusal: &Refusal) {
    add_standing(headers, &refusal.standing);
    let seconds = whole_seconds(&refusal.retry_after).max(1);
    headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::{Quota, Rate};

    fn quota() -> Quota {
        Quota::new(Rate::per_second(20).expect("rate"), 100)
    }

    #[test]
    fn a_standing_becomes_the_draft_fields() {
        let mut headers = HeaderMap::new();
        let standing = Standing {
            quota: quota(),
            remaining: 42,
            reset: Duration::from_millis(2_950),
        };
        add_standing(&mut headers, &standing);
        assert_eq!(headers[LIMIT], "100");
        assert_eq!(headers[REMAINING], "42");
        assert_eq!(headers[RESET], "3");
        assert_eq!(headers[POLICY], "100;w=5");
        assert!(!headers.contains_key("retry-after"));
    }

    #[test]
    fn a_refusal_asks_to_wait_at_least_a_second() {
        let mut headers = HeaderMap::new();
        let refusal = Refusal {
            standing: Standing {
                quota: quota(),
                remaining: 0,
                reset: Duration::from_secs(5),
            },
            retry_after: Duration::from_millis(50),
        };
        add_refusal(&mut headers, &refusal);
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(headers[REMAINING], "0");
    }

    #[test]
    fn the_first_limit_to_speak_is_kept() {
        let mut headers = HeaderMap::new();
        let first = Standing {
            quota: quota(),
            remaining: 0,
            reset: Duration::from_secs(1),
        };
        add_standing(&mut headers, &first);
        add_standing(
            &mut headers,
            &Standing {
                remaining: 99,
                ..first
            },
        );
        assert_eq!(headers[REMAINING], "0");
    }
}
