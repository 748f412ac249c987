//! What an execution's HTTP traffic leaves in its record: per call the
//! headers both ways and a bounded preview of both bodies, masked.
//!
//! Masking has two parts. By value: every configured secret (and every
//! credential the execution learned on the way, such as an OAuth2 access
//! token) is replaced wherever it appears, in header values, URLs and
//! bodies. By name: the usual credential headers (`Authorization`,
//! `Cookie`, `X-Api-Key`, …) are masked even when their value is no
//! configured secret, because a script may build one from pieces.
//!
//! Bodies are never copied whole: a preview holds at most
//! [`PREVIEW_BYTES`] of text, cut at a character boundary, and an execution
//! keeps at most [`PREVIEW_BUDGET_BYTES`] of previews in all, so that a
//! chatty execution cannot bloat its stored history.

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::redact::{MASK, SecretRedactor};

/// The most body text one preview keeps, in bytes.
pub const PREVIEW_BYTES: usize = 2 * 1024;

/// The most preview text one execution keeps over all its calls, in bytes.
pub const PREVIEW_BUDGET_BYTES: usize = 64 * 1024;

/// Bodies up to this size are searched for credentials to learn (an OAuth2
/// token response, a form with a `client_secret`); larger ones never hold
/// only credentials.
const LEARN_MAX_BYTES: usize = 16 * 1024;

/// Fields whose values are credentials, in token responses (JSON) and token
/// requests (forms).
const CREDENTIAL_FIELDS: [&str; 7] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "password",
    "assertion",
];

/// One request (or redirect hop) an execution made, for the execution record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpCall {
    /// Upper-case method.
    pub method: String,
    /// The URL, with secrets masked.
    pub url: String,
    /// The response status, when there was a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why there was no response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time from send to the end of the body.
    pub duration_ms: u64,
    /// The headers the execution sent (not those the HTTP client adds, such
    /// as `Host`), in order, masked.
    #[serde(default)]
    pub request_headers: Vec<HttpHeader>,
    /// The response's headers, in order, masked; empty without a response.
    #[serde(default)]
    pub response_headers: Vec<HttpHeader>,
    /// The start of the request body; absent when there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<BodyPreview>,
    /// The start of the response body; absent when there was none or it
    /// was not read (a redirect, an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<BodyPreview>,
}

/// One header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HttpHeader {
    /// Lower-case name.
    pub name: String,
    /// The value, with secrets and credentials masked (`***`).
    pub value: String,
}

/// The start of a body, masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BodyPreview {
    /// The whole body's size in bytes.
    pub size: u64,
    /// Up to 2 KiB of the body as UTF-8 text, cut at a character boundary,
    /// secrets masked. Absent when the body is binary or the execution's
    /// preview budget (64 KiB) was spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether `text` is only the start of the body.
    #[serde(default)]
    pub truncated: bool,
    /// Whether the body is binary (not UTF-8 text), and so not shown.
    #[serde(default)]
    pub binary: bool,
}

impl HttpCall {
    /// Mask `redactor`'s secrets and the credential headers once more, for
    /// calls recorded elsewhere (an agent) before the server keeps them.
    pub fn redact(&mut self, redactor: &SecretRedactor) {
        self.url = redactor.redact(&self.url).into_owned();
        self.error = self.error.take().map(|e| redactor.redact(&e).into_owned());
        for header in self
            .request_headers
            .iter_mut()
            .chain(self.response_headers.iter_mut())
        {
            header.value = mask_header(&header.name, &header.value, redactor);
        }
        for body in [&mut self.request_body, &mut self.response_body]
            .into_iter()
            .flatten()
        {
            if let Some(text) = &mut body.text {
                let truncated = body.truncated;
                *text = mask_text(text, truncated, redactor);
            }
        }
    }
}

/// Whether a header carries credentials by its name alone.
pub fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || [
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "credential",
        "session",
        "signature",
        "x-auth",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// A header's value as recorded: a credential header keeps only its scheme
/// (`Bearer ***`), any other has the secrets in it masked.
pub fn mask_header(name: &str, value: &str, redactor: &SecretRedactor) -> String {
    if !is_credential_header(name) {
        return redactor.redact(value).into_owned();
    }
    if value == MASK {
        return MASK.to_string();
    }
    let lower = name.to_ascii_lowercase();
    if matches!(lower.as_str(), "authorization" | "proxy-authorization")
        && let Some((scheme, _)) = value.split_once(' ')
        && !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return format!("{scheme} {MASK}");
    }
    MASK.to_string()
}

/// Every header of `headers`, masked.
pub fn masked_headers(headers: &HeaderMap, redactor: &SecretRedactor) -> Vec<HttpHeader> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes());
            HttpHeader {
                name: name.as_str().to_string(),
                value: mask_header(name.as_str(), &value, redactor),
            }
        })
        .collect()
}

/// Mask `text`; when it is the start of something longer (`cut`), also drop
/// a tail that could be the beginning of a secret cut in two.
fn mask_text(text: &str, mut cut: bool, redactor: &SecretRedactor) -> String {
    let mut masked = redactor.redact(text).into_owned();
    if masked.len() > PREVIEW_BYTES {
        masked.truncate(masked.floor_char_boundary(PREVIEW_BYTES));
        cut = true;
    }
    if cut {
        let partial = redactor.trailing_partial(&masked);
        masked.truncate(masked.len() - partial);
    }
    masked
}

/// What kind of content a `Content-Type` names, when it says.
fn is_binary_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let textual = essence.starts_with("text/")
        || essence.ends_with("json")
        || essence.ends_with("xml")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/x-www-form-urlencoded"
                | "application/javascript"
                | "application/yaml"
                | "application/x-yaml"
                | "application/graphql"
        );
    !textual
        && (essence.starts_with("image/")
            || essence.starts_with("audio/")
            || essence.starts_with("video/")
            || essence.starts_with("font/")
            || essence == "application/octet-stream"
            || essence == "application/pdf"
            || essence.contains("zip")
            || essence.contains("protobuf"))
}

/// Keeps the previews of one execution within its budget.
#[derive(Debug)]
pub struct Previewer {
    budget: usize,
}

impl Default for Previewer {
    fn default() -> Self {
        Self {
            budget: PREVIEW_BUDGET_BYTES,
        }
    }
}

impl Previewer {
    /// The preview of `body` (`None` when empty), typed by `content_type`.
    /// Copies at most [`PREVIEW_BYTES`] of it.
    pub fn preview(
        &mut self,
        body: &[u8],
        content_type: Option<&str>,
        redactor: &SecretRedactor,
    ) -> Option<BodyPreview> {
        if body.is_empty() {
            return None;
        }
        let size = body.len() as u64;
        let binary = || BodyPreview {
            size,
            text: None,
            truncated: false,
            binary: true,
        };
        if is_binary_type(content_type) {
            return Some(binary());
        }
        let more = body.len() > PREVIEW_BYTES;
        let head = &body[..body.len().min(PREVIEW_BYTES)];
        let text = match std::str::from_utf8(head) {
            Ok(text) => text,
            // A character cut by the bound: keep what precedes it.
            Err(error) if more && error.error_len().is_none() => {
                std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default()
            }
            Err(_) => return Some(binary()),
        };
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Some(binary());
        }
        if self.budget == 0 {
            return Some(BodyPreview {
                size,
                text: None,
                truncated: true,
                binary: false,
            });
        }
        let mut masked = mask_text(text, more, redactor);
        let mut truncated = more;
        if masked.len() > self.budget {
            masked.truncate(masked.floor_char_boundary(self.budget));
            let partial = redactor.trailing_partial(&masked);
            masked.truncate(masked.len() - partial);
            truncated = true;
        }
        self.budget -= masked.len();
        Some(BodyPreview {
            size,
            text: Some(masked),
            truncated,
            binary: false,
        })
    }
}

/// Credentials in a small body (an OAuth2 token response or a token
/// request's form): the values of [`CREDENTIAL_FIELDS`], to be masked by
/// value from then on. Cheap for everything else: large bodies and bodies
/// that do not mention such a field are not parsed.
pub fn credentials_in(body: &[u8], content_type: Option<&str>) -> Vec<String> {
    if body.len() > LEARN_MAX_BYTES || !mentions_credential_field(body) {
        return Vec::new();
    }
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/x-www-form-urlencoded" {
        return form_urlencoded::parse(body)
            .filter(|(key, value)| CREDENTIAL_FIELDS.contains(&key.as_ref()) && !value.is_empty())
            .map(|(_, value)| value.into_owned())
            .collect();
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => CREDENTIAL_FIELDS
            .iter()
            .filter_map(|name| fields.get(*name).and_then(Value::as_str))
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn mentions_credential_field(body: &[u8]) -> bool {
    CREDENTIAL_FIELDS
        .iter()
        .any(|field| memchr::memmem::find(body, field.as_bytes()).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const SECRET: &str = "sk-live-4f9a";

    fn redactor() -> SecretRedactor {
        SecretRedactor::new([SECRET])
    }

    #[test]
    fn secrets_are_masked_by_value_in_any_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-tenant", HeaderValue::from_static("acme sk-live-4f9a"));
        headers.insert("accept", HeaderValue::from_static("application/json"));
        let masked = masked_headers(&headers, &redactor());
        assert_eq!(masked[0].value, "acme ***");
        assert_eq!(masked[1].value, "application/json");
    }

    #[test]
    fn credential_headers_are_masked_by_name_keeping_the_scheme() {
        let redactor = SecretRedactor::default();
        for (name, value, expected) in [
            (
                "Authorization",
                "Bearer eyJhbGciOi.not-configured",
                "Bearer ***",
            ),
            ("authorization", "Basic dXNlcjpwYXNz", "Basic ***"),
            ("Proxy-Authorization", "Digest x", "Digest ***"),
            ("authorization", "rawtoken", "***"),
            ("Cookie", "session=abc; theme=dark", "***"),
            ("set-cookie", "sid=1; HttpOnly", "***"),
            ("X-Api-Key", "k-123", "***"),
            ("x-auth-token", "t", "***"),
            ("Ocp-Apim-Subscription-Key", "k", "***"),
        ] {
            assert_eq!(mask_header(name, value, &redactor), expected, "{name}");
        }
        for name in ["accept", "content-type", "www-authenticate", "x-request-id"] {
            assert!(!is_credential_header(name), "{name}");
        }
    }

    #[test]
    fn secrets_in_bodies_are_masked_in_every_form() {
        let body = format!(r#"{{"key":"{SECRET}","url":"https://x/?k={SECRET}"}}"#);
        let preview = Previewer::default()
            .preview(body.as_bytes(), Some("application/json"), &redactor())
            .expect("a preview");
        assert_eq!(
            preview.text.as_deref(),
            Some(r#"{"key":"***","url":"https://x/?k=***"}"#)
        );
        assert_eq!(preview.size, body.len() as u64);
        assert!(!preview.truncated && !preview.binary);
    }

    #[test]
    fn long_bodies_are_cut_at_a_character_boundary() {
        // Two-byte characters from an odd offset: the bound falls inside one.
        let body = format!("x{}", "é".repeat(PREVIEW_BYTES));
        let preview = Previewer::default()
            .preview(body.as_bytes(), Some("text/plain"), &redactor())
            .expect("a preview");
        let text = preview.text.expect("text");
        assert!(preview.truncated);
        assert_eq!(preview.size, body.len() as u64);
        assert_eq!(text.len(), PREVIEW_BYTES - 1, "the cut é is left out");
        assert!(body.starts_with(&text));
    }

    #[test]
    fn a_secret_cut_by_the_bound_leaves_no_prefix_behind() {
        let mut body = "a".repeat(PREVIEW_BYTES - 5);
        body.push_str(SECRET);
        body.push_str(" and more");
        let preview = Previewer::default()
            .preview(body.as_bytes(), None, &redactor())
            .expect("a preview");
        let text = preview.text.expect("text");
        assert!(
            text.chars().all(|c| c == 'a'),
            "{}",
            &text[text.len() - 8..]
        );
        assert!(preview.truncated);
    }

    #[test]
    fn binary_bodies_are_described_not_dumped() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0];
        for content_type in [Some("image/png"), None] {
            let preview = Previewer::default()
                .preview(&png, content_type, &redactor())
                .expect("a preview");
            assert_eq!(
                preview,
                BodyPreview {
                    size: 10,
                    text: None,
                    truncated: false,
                    binary: true
                }
            );
        }
        assert_eq!(
            Previewer::default().preview(b"", None, &redactor()),
            None,
            "no body, no preview"
        );
    }

    #[test]
    fn the_execution_budget_bounds_all_previews_together() {
        let mut previewer = Previewer::default();
        let body = "y".repeat(PREVIEW_BYTES);
        let mut kept = 0;
        for _ in 0..(PREVIEW_BUDGET_BYTES / PREVIEW_BYTES + 3) {
            let preview = previewer
                .preview(body.as_bytes(), None, &redactor())
                .expect("a preview");
            kept += preview.text.map_or(0, |t| t.len());
        }
        assert_eq!(kept, PREVIEW_BUDGET_BYTES);
        let spent = previewer
            .preview(b"z", None, &redactor())
            .expect("a preview");
        assert_eq!((spent.text, spent.truncated, spent.size), (None, true, 1));
    }

    #[test]
    fn credentials_are_learned_from_token_responses_and_requests() {
        let response = br#"{"access_token":"at-9","token_type":"Bearer","refresh_token":"rt-7"}"#;
        assert_eq!(
            credentials_in(response, Some("application/json;charset=utf-8")),
            ["at-9", "rt-7"]
        );
        let request = b"grant_type=client_credentials&client_id=c&client_secret=s%2B1";
        assert_eq!(
            credentials_in(request, Some("application/x-www-form-urlencoded")),
            ["s+1"]
        );
        assert!(credentials_in(br#"{"data":[1,2]}"#, Some("application/json")).is_empty());
        assert!(credentials_in(br#"{"access_token":"#, Some("application/json")).is_empty());
    }

    #[test]
    fn recorded_calls_can_be_masked_again() {
        let mut call = HttpCall {
            method: "GET".into(),
            url: format!("https://x/?k={SECRET}"),
            status: Some(200),
            error: None,
            duration_ms: 1,
            request_headers: vec![
                HttpHeader {
                    name: "x-api-key".into(),
                    value: "anything".into(),
                },
                HttpHeader {
                    name: "x-echo".into(),
                    value: SECRET.into(),
                },
            ],
            response_headers: vec![],
            request_body: None,
            response_body: Some(BodyPreview {
                size: 20,
                text: Some(format!("said {SECRET}")),
                truncated: false,
                binary: false,
            }),
        };
        call.redact(&redactor());
        let text = serde_json::to_string(&call).expect("json");
        assert!(
            !text.contains(SECRET) && !text.contains("anything"),
            "{text}"
        );
    }

    #[test]
    fn calls_recorded_before_headers_and_bodies_were_kept_still_read() {
        let old: HttpCall = serde_json::from_str(
            r#"{"method":"GET","url":"https://x/","status":200,"durationMs":3}"#,
        )
        .expect("an old record");
        assert!(old.request_headers.is_empty() && old.response_body.is_none());
    }
}
