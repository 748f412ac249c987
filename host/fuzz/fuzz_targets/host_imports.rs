//! The host side of the `floh` WIT imports with hostile arguments, called
//! directly (no wasm): `http` (a request of any method, URL, headers and
//! body under an egress policy, answered by hostile upstream responses and
//! redirects, recorded and masked), `log` (any level and message under tight
//! limits), `cache` (any keys, values and lifetimes) and `config`.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use arbitrary::Arbitrary;
use floh::bindings::cache::Host as _;
use floh::bindings::config::Host as _;
use floh::bindings::http::{Method, Request};
use floh::bindings::log::{Host as _, Level};
use floh::egress::{EgressPolicy, IpNetwork};
use floh::imports::http::offline;
use floh::imports::{CacheLimits, ConfigImport, LogCapture, LogLevel, LogLimits, SharedCache};
use floh::redact::SecretRedactor;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Policy {
    PublicOnly,
    Unrestricted,
    Nowhere,
    Networks(Vec<String>),
}

/// A URL shaped to reach the interesting checks more often than random text.
#[derive(Arbitrary, Debug)]
enum UrlInput {
    Raw(String),
    Built {
        https: bool,
        host: HostInput,
        port: Option<u16>,
        path: String,
    },
}

#[derive(Arbitrary, Debug)]
enum HostInput {
    V4([u8; 4]),
    V6([u16; 8]),
    /// An IPv4 address written inside IPv6 (`::ffff:a.b.c.d`).
    Mapped([u8; 4]),
    Name(String),
}

impl UrlInput {
    fn text(&self) -> String {
        match self {
            Self::Raw(text) => text.clone(),
            Self::Built {
                https,
                host,
                port,
                path,
            } => {
                let host = match host {
                    HostInput::V4(octets) => Ipv4Addr::from(*octets).to_string(),
                    HostInput::V6(segments) => format!("[{}]", Ipv6Addr::from(*segments)),
                    HostInput::Mapped(octets) => {
                        format!("[{}]", Ipv4Addr::from(*octets).to_ipv6_mapped())
                    }
                    HostInput::Name(name) => name.clone(),
                };
                let scheme = if *https { "https" } else { "http" };
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                format!("{scheme}://{host}{port}/{path}")
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Answer {
    status: u16,
    location: Option<UrlInput>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum CacheCall {
    Get(String),
    Set(String, String, u32),
    Delete(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    policy: Policy,
    secrets: Vec<String>,
    method: u8,
    url: UrlInput,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    answers: Vec<Answer>,
    min_level: u8,
    max_message_bytes: u8,
    logs: Vec<(u8, String)>,
    cache_calls: Vec<CacheCall>,
    config: String,
}

fuzz_target!(|input: Input| {
    let policy = match input.policy {
        Policy::PublicOnly => EgressPolicy::public_only(),
        Policy::Unrestricted => EgressPolicy::unrestricted(),
        Policy::Nowhere => EgressPolicy::nowhere(),
        Policy::Networks(networks) => EgressPolicy::allowing_networks(
            networks.iter().filter_map(|n| n.parse::<IpNetwork>().ok()),
        ),
    };
    let request = Request {
        method: method(input.method),
        url: input.url.text(),
        headers: input.headers,
        body: input.body,
    };
    let answers: Vec<offline::Answer> = input
        .answers
        .into_iter()
        .take(16)
        .map(|answer| {
            let mut headers = answer.headers;
            if let Some(location) = answer.location {
                headers.push(("location".into(), location.text()));
            }
            (answer.status, headers, answer.body)
        })
        .collect();
    let (_, calls) = offline::exchange(policy, &input.secrets, request, &answers);
    if let Err(error) = serde_json::to_string(&calls) {
        panic!("recorded calls always serialize: {error}");
    }

    let redactor = Arc::new(SecretRedactor::new(&input.secrets));
    let limits = LogLimits {
        max_entries: 8,
        max_bytes: 512,
        max_message_bytes: usize::from(input.max_message_bytes),
    };
    let mut log = LogCapture::new("fuzz".into(), log_level(input.min_level), limits, redactor);
    for (level, message) in input.logs.into_iter().take(32) {
        let _ = log.log(wit_level(level), message);
    }
    let _ = log.into_entries();

    let config = serde_json::from_str(&input.config).unwrap_or_default();
    let mut config = ConfigImport::new(&config);
    let _ = config.get();
    let cache = SharedCache::new(CacheLimits {
        max_key_bytes: 16,
        max_value_bytes: 64,
        max_entries_per_scope: 4,
        ..CacheLimits::default()
    });
    let mut cache = cache.import("fuzz".into(), config.json().clone());
    for call in input.cache_calls.into_iter().take(32) {
        let _ = match call {
            CacheCall::Get(key) => cache.get(key).map(drop),
            CacheCall::Set(key, value, ttl) => cache.set(key, value, ttl).map(drop),
            CacheCall::Delete(key) => cache.delete(key),
        };
    }
});

fn method(choice: u8) -> Method {
    match choice % 7 {
        0 => Method::Get,
        1 => Method::Head,
        2 => Method::Post,
        3 => Method::Put,
        4 => Method::Patch,
        5 => Method::Delete,
        _ => Method::Options,
    }
}

fn wit_level(choice: u8) -> Level {
    match choice % 5 {
        0 => Level::Trace,
        1 => Level::Debug,
        2 => Level::Info,
        3 => Level::Warn,
        _ => Level::Error,
    }
}

fn log_level(choice: u8) -> LogLevel {
    match choice % 5 {
        0 => LogLevel::Trace,
        1 => LogLevel::Debug,
        2 => LogLevel::Info,
        3 => LogLevel::Warn,
        _ => LogLevel::Error,
    }
}
