//! A request as plain data, and the seam that sends it. A plugin's logic
//! builds [`Call`]s and hands them to a [`Transport`]: [`HostTransport`] in
//! the plugin (the host's HTTP import), a scripted fake in native unit tests,
//! so auth, retry and mapping logic is tested without the host.

use crate::http::{self, Response};

/// The methods the SDK can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// HEAD.
    Head,
    /// OPTIONS.
    Options,
}

impl Method {
    /// The method called `name` (any case); `None` for unknown methods.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "HEAD" => Self::Head,
            "OPTIONS" => Self::Options,
            _ => return None,
        })
    }
}

/// One HTTP request, fully built (URL with its query, all headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Method.
    pub method: Method,
    /// Absolute URL including the query string.
    pub url: String,
    /// Headers in the order they are sent.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Option<Vec<u8>>,
    /// HTTP Basic credentials (user, password), encoded by the SDK when sent.
    pub basic: Option<(String, String)>,
}

impl Call {
    /// A call without headers or body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: None,
            basic: None,
        }
    }

    /// Whether a header called `name` (any case) is set.
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    }
}

/// Sends calls; `Err` is a failure to get any response (denied, timeout,
/// connection), already phrased for users.
pub trait Transport {
    /// Send `call` and return the response, whatever its status.
    fn send(&mut self, call: &Call) -> Result<Response, String>;

    /// Something worth a log line (a token fetched, a retry). The host
    /// transport logs it; fakes may ignore it, since logging natively panics.
    fn note(&mut self, _message: &str) {}
}

/// The host's HTTP import.
pub struct HostTransport;

impl Transport for HostTransport {
    fn send(&mut self, call: &Call) -> Result<Response, String> {
        let mut builder = match call.method {
            Method::Get => http::get(call.url.clone()),
            Method::Post => http::post(call.url.clone()),
            Method::Put => http::put(call.url.clone()),
            Method::Patch => http::patch(call.url.clone()),
            Method::Delete => http::delete(call.url.clone()),
            Method::Head => http::head(call.url.clone()),
            Method::Options => http::options(call.url.clone()),
        };
        for (name, value) in &call.headers {
            builder = builder.header(name, value);
        }
        if let Some((user, password)) = &call.basic {
            builder = builder.basic(user, password);
        }
        if let Some(body) = &call.body {
            builder = builder.body(body.clone());
        }
        builder.send().map_err(|e| e.to_string())
    }

    fn note(&mut self, message: &str) {
        crate::log::write(crate::log::Level::Debug, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_parse_in_any_case() {
        assert_eq!(Method::parse("patch"), Some(Method::Patch));
        assert_eq!(Method::parse("HEAD"), Some(Method::Head));
        assert_eq!(Method::parse("options"), Some(Method::Options));
        assert_eq!(Method::parse("FETCH"), None);
    }
}
