//! HTTP through the host. A plugin has no network of its own: the host sends
//! each request under the connector's egress policy, timeouts and size limits,
//! and records it in the execution's `httpCalls`.

use std::fmt;

use base64::Engine as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::floh::connector::http as wit;

/// Start a GET request.
pub fn get(url: impl Into<String>) -> RequestBuilder {
    RequestBuilder::new(wit::Method::Get, url)
}

/// Start a POST request.
pub fn post(url: impl Into<String>) -> RequestBuilder {
    RequestBuilder::new(wit::Method::Post, url)
}

/// Start a PUT request.
pub fn put(url: impl Into<String>) -> RequestBuilder {
    RequestBuilder::new(wit::Method::Put, url)
}

/// Start a PATCH request.
pub fn patch(url: impl Into<String>) -> RequestBuilder {
    RequestBuilder::new(wit::Method::Patch, url)
}

/// Start a HEAD request.
pub fn head(url: impl Into<String>) -> RequestBuilder {
    RequestBuilder::new(wit::Method::Head, url)
}

/// Start an OPTIONS request.
pub fn options(url: impl Into<String>) -> RequestBuilder {
    RequestBuilder::new(wit::Method::Options, url)
}

/// Start a DELETE request.
pub fn delete(url: impl Into<String>) -> RequestBuilder {
    RequestBuilder::new(wit::Method::Delete, url)
}

/// A request being put together.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: wit::Method,
    url: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl RequestBuilder {
    fn new(method: wit::Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Add a query parameter (percent-encoded here).
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// `Authorization: Basic <user:password>`.
    pub fn basic(self, user: &str, password: &str) -> Self {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("authorization", &format!("Basic {encoded}"))
    }

    /// A JSON body (and its content type).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.body = serde_json::to_vec(body).ok();
        self.header("content-type", "application/json")
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        let encoded: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}={}", encode_component(name), encode_component(value)))
            .collect();
        self.body = Some(encoded.join("&").into_bytes());
        self.header("content-type", "application/x-www-form-urlencoded")
    }

    /// Raw body bytes.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some(bytes.into());
        self
    }

    /// Send it and wait for the response (any status).
    pub fn send(self) -> Result<Response, HttpError> {
        let url = append_query(&self.url, &self.query);
        let request = wit::Request {
            method: self.method,
            url,
            headers: self.headers,
            body: self.body,
        };
        wit::send(&request)
            .map(|response| Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            })
            .map_err(HttpError)
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON into a `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, crate::Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            crate::Error::new(format!(
                "the response (HTTP {}) is not the expected JSON: {e}",
                self.status
            ))
        })
    }

    /// The reason an error answer gives, in whichever common shape: `{"error":
    /// {"code", "message"}}`, OAuth2's `{"error", "error_description"}`, a
    /// bare `{"message"}`, or plain text (proxies answer in their own ways).
    pub fn reason(&self) -> Option<String> {
        let text = self.text();
        let Ok(body) = serde_json::from_str::<serde_json::Value>(&text) else {
            let excerpt: String = text.trim().chars().take(200).collect();
            return (!excerpt.is_empty()).then_some(excerpt);
        };
        let string = |value: &serde_json::Value| value.as_str().map(str::to_string);
        if let Some(message) = body["error"].get("message").and_then(string) {
            return Some(match body["error"].get("code").and_then(string) {
                Some(code) => format!("{code}: {message}"),
                None => message,
            });
        }
        if let Some(code) = string(&body["error"]) {
            return Some(match string(&body["error_description"]) {
                Some(description) => format!("{code}: {description}"),
                None => code,
            });
        }
        string(&body["message"])
    }

    /// `Ok(self)` for 2xx, otherwise an error naming the status and the start
    /// of the body.
    pub fn error_for_status(self) -> Result<Self, crate::Error> {
        if self.is_success() {
            return Ok(self);
        }
        let text = self.text();
        let excerpt: String = text.chars().take(200).collect();
        Err(crate::Error::new(format!(
            "HTTP {}: {excerpt}",
            self.status
        )))
    }
}

/// Why the host delivered no response.
#[derive(Debug, Clone)]
pub struct HttpError(wit::HttpError);

impl HttpError {
    /// Whether the egress policy refused the destination.
    pub fn is_denied(&self) -> bool {
        matches!(self.0, wit::HttpError::Denied(_))
    }

    /// Whether the request ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(self.0, wit::HttpError::Timeout)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            wit::HttpError::Denied(reason) => {
                write!(f, "request denied by the egress policy: {reason}")
            }
            wit::HttpError::InvalidRequest(reason) => write!(f, "invalid request: {reason}"),
            wit::HttpError::Timeout => f.write_str("the request timed out"),
            wit::HttpError::Connection(reason) => write!(f, "connection failed: {reason}"),
            wit::HttpError::ResponseTooLarge(limit) => {
                write!(f, "the response is larger than the limit of {limit} bytes")
            }
            wit::HttpError::LimitExceeded(reason) => write!(f, "request limit exceeded: {reason}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// `url` with `pairs` appended to its query string, percent-encoded.
pub fn append_query(url: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return url.to_string();
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode_component(name), encode_component(value)))
        .collect();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", encoded.join("&"))
}

/// Percent-encode everything but RFC 3986 unreserved characters.
pub fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_shape_yields_its_reason() {
        for (body, expected) in [
            (
                r#"{"error":{"code":"conflict","message":"username taken"}}"#,
                Some("conflict: username taken"),
            ),
            (r#"{"error":{"message":"no"}}"#, Some("no")),
            (
                r#"{"error":"invalid_client","error_description":"bad secret"}"#,
                Some("invalid_client: bad secret"),
            ),
            (r#"{"message":"down"}"#, Some("down")),
            ("Bad Gateway", Some("Bad Gateway")),
            ("{}", None),
            ("", None),
        ] {
            let response = Response {
                status: 500,
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
            };
            assert_eq!(response.reason().as_deref(), expected, "{body}");
        }
    }

    #[test]
    fn query_pairs_are_encoded_and_appended() {
        let pairs = [
            ("filter".to_string(), "a b&c".to_string()),
            ("limit".into(), "5".into()),
        ];
        assert_eq!(
            append_query("http://h/u", &pairs),
            "http://h/u?filter=a%20b%26c&limit=5"
        );
        let more = [("y".to_string(), "2".to_string())];
        assert_eq!(append_query("http://h/u?x=1", &more), "http://h/u?x=1&y=2");
        assert_eq!(append_query("http://h/u", &[]), "http://h/u");
    }

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode_component("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
    }
}
