//! The few cookie rules a sign-in at the test authorization server needs:
//! cookies keyed by name and path, sent where their path matches, removed
//! when the server clears them. (Enabling reqwest's `cookies` feature would
//! rebuild reqwest and everything above it for the whole workspace.)

use std::collections::BTreeMap;

/// Cookies set by one server, for one browser-like session.
#[derive(Default)]
pub struct CookieJar {
    /// `(name, path)` → value.
    cookies: BTreeMap<(String, String), String>,
}

impl CookieJar {
    /// Take in one `Set-Cookie` header value.
    pub fn store(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';').map(str::trim);
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let mut path = "/".to_string();
        let mut cleared = value.is_empty();
        for attribute in parts {
            let (key, argument) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.to_ascii_lowercase().as_str() {
                "path" if argument.starts_with('/') => path = argument.to_string(),
                "max-age" => cleared |= argument.trim().starts_with(['0', '-']),
                "expires" => cleared |= argument.contains("1970"),
                _ => {}
            }
        }
        let key = (name.to_string(), path);
        if cleared {
            self.cookies.remove(&key);
        } else {
            self.cookies.insert(key, value.to_string());
        }
    }

    /// The `Cookie` header for a request to `request_path`, if any cookie
    /// applies (RFC 6265 §5.1.4 path matching, longest path first).
    pub fn header_for(&self, request_path: &str) -> Option<String> {
        let mut matching: Vec<_> = self
            .cookies
            .iter()
            .filter(|((_, path), _)| path_matches(path, request_path))
            .collect();
        matching.sort_by_key(|((_, path), _)| std::cmp::Reverse(path.len()));
        let pairs: Vec<String> = matching
            .into_iter()
            .map(|((name, _), value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

#[test]
fn cookies_go_where_their_path_matches_and_leave_when_cleared() {
    let mut jar = CookieJar::default();
    jar.store("_session=s1; path=/; httponly");
    jar.store("_interaction=u1; path=/interaction/u1; httponly; samesite=lax");
    assert_eq!(
        jar.header_for("/interaction/u1/login").as_deref(),
        Some("_interaction=u1; _session=s1")
    );
    assert_eq!(
        jar.header_for("/interaction/u10").as_deref(),
        Some("_session=s1")
    );
    jar.store("_interaction=; path=/interaction/u1; expires=Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(
        jar.header_for("/interaction/u1").as_deref(),
        Some("_session=s1")
    );
}
