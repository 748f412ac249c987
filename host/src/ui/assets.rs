//! Static files embedded in the binary, served under `/assets/` with a
//! content hash in the URL (`?v=`), so they can be cached for a year; a URL
//! without the current hash is served with `no-cache`. Text assets are
//! gzip-compressed once, on first use, for clients that accept it.
//!
//! To add an asset: put the file in `host/src/ui/assets/`, add a line to
//! [`ASSETS`], and link it with [`url`] (a page loads a script with
//! `layout::Page::script`).

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::OnceLock;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// Its path under `/assets/`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// The stylesheet of every page.
pub const APP_CSS: &str = "app.css";
/// The small script of every page (copy buttons, timers of long work).
pub const APP_JS: &str = "app.js";
/// htmx, vendored and pinned (`just ui-vendor` refetches and verifies it).
pub const HTMX_JS: &str = "htmx.min.js";

/// Every embedded file.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: APP_CSS,
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/app.css"),
    },
    Asset {
        path: APP_JS,
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/app.js"),
    },
    Asset {
        path: HTMX_JS,
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/htmx.min.js"),
    },
    Asset {
        path: super::script_editor::EDITOR_JS,
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/editor.js"),
    },
    Asset {
        path: super::script_editor::FLOH_D_TS,
        content_type: crate::script_api::TYPESCRIPT_MEDIA_TYPE,
        bytes: crate::script_api::TYPESCRIPT_DECLARATIONS.as_bytes(),
    },
    Asset {
        path: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("assets/favicon.svg"),
    },
];

struct Prepared {
    asset: &'static Asset,
    version: String,
    gzipped: Vec<u8>,
}

fn prepared() -> &'static HashMap<&'static str, Prepared> {
    static PREPARED: OnceLock<HashMap<&'static str, Prepared>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let version = hex::encode(&Sha256::digest(asset.bytes)[..6]);
                (
                    asset.path,
                    Prepared {
                        asset,
                        version,
                        gzipped: gzip(asset.bytes),
                    },
                )
            })
            .collect()
    })
}

/// `bytes` gzip-compressed at the best level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// The cacheable URL of the asset at `path` (with its content hash).
pub fn url(path: &str) -> String {
    match prepared().get(path) {
        Some(p) => format!("/assets/{path}?v={}", p.version),
        None => format!("/assets/{path}"),
    }
}

/// The gzip-compressed size of the asset at `path` (what a browser that
/// accepts gzip downloads).
pub fn compressed_size(path: &str) -> Option<usize> {
    prepared().get(path).map(|p| p.gzipped.len())
}

/// The `?v=` of an asset URL.
#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /assets/{path}`.
pub async fn serve(
    Path(path): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    let Some(prepared) = prepared().get(path.as_str()) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let etag = format!("\"{}\"", prepared.version);
    let cache = if version.v.as_deref() == Some(prepared.version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response_headers = vec![
        (
            header::CONTENT_TYPE,
            prepared.asset.content_type.to_string(),
        ),
        (header::CACHE_CONTROL, cache.to_string()),
        (header::ETAG, etag.clone()),
        (header::VARY, "accept-encoding".to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, headers_of(response_headers)).into_response();
    }
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let body = if accepts_gzip && prepared.gzipped.len() < prepared.asset.bytes.len() {
        response_headers.push((header::CONTENT_ENCODING, "gzip".to_string()));
        prepared.gzipped.clone()
    } else {
        prepared.asset.bytes.to_vec()
    };
    (headers_of(response_headers), body).into_response()
}

fn headers_of(pairs: Vec<(header::HeaderName, String)>) -> HeaderMap {
    pairs
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.parse().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_htmx_matches_its_recorded_checksum() {
        let recorded = include_str!("assets/htmx.min.js.sha256");
        let expected = recorded.split_whitespace().next().expect("checksum");
        let actual = hex::encode(Sha256::digest(include_bytes!("assets/htmx.min.js")));
        assert_eq!(actual, expected, "run `just ui-vendor`");
    }

    #[test]
    fn urls_carry_the_content_hash() {
        let css = url(APP_CSS);
        assert!(css.starts_with("/assets/app.css?v="), "{css}");
        assert_eq!(css.len(), "/assets/app.css?v=".len() + 12);
    }
}
