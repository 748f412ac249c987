//! URLs of requests: the base URL joined with a relative path and a query.
//! The guest has no URL crate (and should stay small), so this does the few
//! things the type needs by hand: refuse paths that would leave the base URL,
//! percent-encode what must be, append query pairs.

use floh_sdk::http::append_query;
use serde_json::Value;

/// `base` + relative `path` + `query`. The path may not leave the base URL
/// (no absolute URLs, no `..`, also not percent-encoded), so an instance
/// only ever reaches its own API.
pub fn build_url(
    base: &str,
    path: &str,
    query: &serde_json::Map<String, Value>,
) -> Result<String, String> {
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(format!(
            "baseUrl `{base}` is not an http:// or https:// URL"
        ));
    }
    if path.contains("://") || path.starts_with("//") {
        return Err("`path` must be relative to the connector's baseUrl".into());
    }
    if path.split('/').any(is_dot_dot) {
        return Err("`path` may not contain `..`".into());
    }
    let url = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        encode_path(path.trim_start_matches('/'))
    );
    let mut pairs = Vec::new();
    for (key, value) in query {
        match value {
            Value::Array(items) => pairs.extend(items.iter().map(|item| (key.clone(), text(item)))),
            Value::Null => {}
            other => pairs.push((key.clone(), text(other))),
        }
    }
    Ok(append_query(&url, &pairs))
}

/// A JSON value as header or query text: strings without quotes.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `..`, also spelled with `%2e`, which URL parsers treat the same.
fn is_dot_dot(segment: &str) -> bool {
    segment.to_ascii_lowercase().replace("%2e", ".") == ".."
}

/// Percent-encode what may not appear in a path (spaces, quotes, non-ASCII…)
/// and keep the characters paths legitimately use, as URL parsers do.
fn encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=%?#".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn query(value: Value) -> serde_json::Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        }
    }

    #[test]
    fn query_arrays_repeat_and_values_are_encoded() {
        assert_eq!(
            build_url(
                "https://api.example.com/v1/",
                "/items",
                &query(json!({"id": [1, 2], "q": "a b", "skip": null}))
            )
            .expect("url"),
            "https://api.example.com/v1/items?id=1&id=2&q=a%20b"
        );
    }

    #[test]
    fn paths_cannot_escape_the_base_url() {
        for path in [
            "https://evil.example/x",
            "//evil.example/x",
            "/a/../../admin",
            "/a/%2E%2e/admin",
            "/a/.%2e/admin",
        ] {
            assert!(
                build_url("https://api.example.com/v1", path, &query(json!({}))).is_err(),
                "{path}"
            );
        }
        assert!(build_url("ftp://x", "/a", &query(json!({}))).is_err());
    }

    #[test]
    fn paths_keep_their_structure_and_encode_spaces() {
        assert_eq!(
            build_url("http://h/v1", "users/a b/x..y", &query(json!({}))).expect("url"),
            "http://h/v1/users/a%20b/x..y"
        );
        assert_eq!(
            append_query("http://h/x?a=1", &[("k".into(), "v&".into())]),
            "http://h/x?a=1&k=v%26"
        );
    }
}
