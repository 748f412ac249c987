//! Query strings, percent-encoded with the SDK's encoder.

use floh_sdk::http::encode_component;

/// `url` with `pairs` appended to its query string.
pub fn append(url: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return url.to_string();
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", encoded.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_encoded_and_appended() {
        assert_eq!(
            append(
                "http://h/u",
                &[
                    ("filter".into(), "a b&c".into()),
                    ("limit".into(), "5".into())
                ]
            ),
            "http://h/u?filter=a%20b%26c&limit=5"
        );
        assert_eq!(
            append("http://h/u?x=1", &[("y".into(), "2".into())]),
            "http://h/u?x=1&y=2"
        );
    }
}
