//! Replacing decrypted secret values with `***` in everything that leaves a
//! sandbox as text: log lines, error messages and recorded HTTP calls.

use std::borrow::Cow;

/// What secret values are replaced with.
pub const MASK: &str = "***";

/// The secret values of one connector, ready to be scrubbed from text.
#[derive(Debug, Clone, Default)]
pub struct SecretRedactor {
    /// Longest first, so that a secret containing another is masked whole.
    needles: Vec<String>,
}

impl SecretRedactor {
    /// A redactor for the given secret values. Each value is also matched in
    /// its JSON-escaped and percent-encoded forms, which is how it appears
    /// when a script logs an object or builds a URL.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut redactor = Self::default();
        redactor.add(secrets);
        redactor
    }

    /// This redactor with more secret values (credentials an execution
    /// learned on the way, such as an OAuth2 access token).
    pub fn extended<I, S>(&self, secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut redactor = self.clone();
        redactor.add(secrets);
        redactor
    }

    fn add<I, S>(&mut self, secrets: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let needles = &mut self.needles;
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            needles.push(secret.to_string());
            if let Ok(json) = serde_json::to_string(secret) {
                let escaped = &json[1..json.len() - 1];
                if escaped != secret {
                    needles.push(escaped.to_string());
                }
            }
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            if encoded != secret {
                needles.push(encoded);
            }
        }
        // Longest first; equal ones adjacent, for dedup.
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
    }

    /// Whether there is anything to redact.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for needle in &self.needles {
            if text.contains(needle.as_str()) {
                text = Cow::Owned(text.replace(needle.as_str(), MASK));
            }
        }
        text
    }

    /// Mask secrets in every string (and object key) of a JSON value.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(text) => {
                if let Cow::Owned(clean) = self.redact(text) {
                    *text = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_json(item)),
            Value::Object(fields) => {
                let masked: serde_json::Map<String, Value> = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, mut item)| {
                        self.redact_json(&mut item);
                        (self.redact(&key).into_owned(), item)
                    })
                    .collect();
                *fields = masked;
            }
            _ => {}
        }
    }

    /// The length of the longest end of `text` that is the start of a
    /// secret (but not all of it): what to drop when `text` was cut from
    /// something longer, so that no half of a secret is left behind.
    pub fn trailing_partial(&self, text: &str) -> usize {
        let text = text.as_bytes();
        self.needles
            .iter()
            .filter_map(|needle| {
                let needle = needle.as_bytes();
                (1..needle.len().min(text.len() + 1))
                    .rev()
                    .find(|&k| text.ends_with(&needle[..k]))
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_inside_json_values() {
        let redactor = SecretRedactor::new(["tok-123"]);
        let mut value = serde_json::json!({"a": ["x tok-123 y", 3], "tok-123": {"b": "tok-123"}});
        redactor.redact_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"a": ["x *** y", 3], "***": {"b": "***"}})
        );
    }

    #[test]
    fn masks_plain_json_escaped_and_url_encoded_forms() {
        let redactor = SecretRedactor::new(["sk-1\"2 3"]);
        assert_eq!(redactor.redact("key=sk-1\"2 3!"), "key=***!");
        assert_eq!(redactor.redact(r#"{"k":"sk-1\"2 3"}"#), r#"{"k":"***"}"#);
        assert_eq!(redactor.redact("?k=sk-1%222+3"), "?k=***");
    }

    #[test]
    fn longer_secrets_are_masked_before_their_substrings() {
        let redactor = SecretRedactor::new(["abc", "abcdef"]);
        assert_eq!(redactor.redact("x abcdef y abc"), "x *** y ***");
    }

    #[test]
    fn learned_secrets_are_masked_too() {
        let redactor = SecretRedactor::new(["configured"]).extended(["learned-token"]);
        assert_eq!(redactor.redact("configured learned-token"), "*** ***");
    }

    #[test]
    fn the_start_of_a_cut_secret_is_found() {
        let redactor = SecretRedactor::new(["sk-12345"]);
        assert_eq!(redactor.trailing_partial("text sk-12"), 5);
        assert_eq!(redactor.trailing_partial("text s"), 1);
        assert_eq!(
            redactor.trailing_partial("text sk-12345"),
            0,
            "whole, not partial"
        );
        assert_eq!(redactor.trailing_partial("text"), 0);
        assert_eq!(redactor.trailing_partial(""), 0);
    }

    #[test]
    fn text_without_secrets_is_borrowed_unchanged() {
        let redactor = SecretRedactor::new(["", "secret"]);
        assert!(matches!(redactor.redact("nothing here"), Cow::Borrowed(_)));
        assert!(SecretRedactor::new([""]).is_empty());
    }
}
