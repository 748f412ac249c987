//! `floh:connector/http`: the only way out of a sandbox.
//!
//! Every request is checked against the connector's [`EgressPolicy`]: IP
//! literals here, names after resolution (in the client's resolver). Redirects
//! are followed hop by hop so each hop is checked again, credentials are not
//! forwarded to another origin, and every hop is recorded. Responses are read
//! up to a size cap and everything is bounded by the invocation's deadline.
//! Each call is recorded with its headers and the start of its bodies,
//! masked (see [`record`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::bindings::http::{Host, HttpError, Method, Request, Response};
use crate::egress::{EgressPolicy, resolver::denied_reason};
use crate::redact::SecretRedactor;

mod record;
mod renewal;

pub use record::{
    BodyPreview, HttpCall, HttpHeader, PREVIEW_BUDGET_BYTES, PREVIEW_BYTES, is_credential_header,
};
use record::{Previewer, credentials_in, masked_headers};
pub use renewal::AccessTokenRenewal;

/// Caps on the HTTP traffic of one execution.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Requests per execution (redirect hops not counted).
    pub max_requests: u32,
    /// Bytes of one response body.
    pub max_response_bytes: usize,
    /// One request, connect to last body byte (the deadline may be sooner).
    pub request_timeout: Duration,
    /// Redirect hops followed per request.
    pub max_redirects: u8,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_requests: 100,
            max_response_bytes: 10 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_redirects: 10,
        }
    }
}

/// The HTTP import of one execution.
pub struct HttpImport {
    client: reqwest::Client,
    policy: EgressPolicy,
    limits: HttpLimits,
    deadline: Instant,
    /// The connector's secrets, plus credentials learned from token calls.
    redactor: Arc<SecretRedactor>,
    requests: u32,
    calls: Vec<HttpCall>,
    previews: Previewer,
    /// The OAuth2 grant behind `config.accessToken`, if the connector has one.
    renewal: Option<Arc<dyn AccessTokenRenewal>>,
    /// The token a renewal replaced and its successor: requests still
    /// carrying the old one (the script read it before) get the new one.
    renewed: Option<(String, String)>,
}

/// A request that passed [`HttpImport::admit`].
struct Admitted {
    url: Url,
    method: reqwest::Method,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
}

impl Admitted {
    /// This hop as sent at `started`, for its record.
    fn sent(&self, started: Instant) -> Sent<'_> {
        Sent {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            body: self.body.as_deref(),
            started,
        }
    }

    /// Follow a redirect to `location`: a 303, or a 301/302 after a POST,
    /// becomes a GET without a body; credentials stay with their origin.
    fn redirect(
        &mut self,
        status: reqwest::StatusCode,
        location: &HeaderValue,
    ) -> Result<(), HttpError> {
        let next = location
            .to_str()
            .ok()
            .and_then(|location| self.url.join(location).ok())
            .ok_or_else(|| {
                HttpError::InvalidRequest("a redirect has an invalid Location".into())
            })?;
        let method_becomes_get = status == reqwest::StatusCode::SEE_OTHER
            || (matches!(status.as_u16(), 301 | 302) && self.method == reqwest::Method::POST);
        if method_becomes_get {
            self.method = reqwest::Method::GET;
            self.body = None;
            self.headers.remove(header::CONTENT_TYPE);
            self.headers.remove(header::CONTENT_LENGTH);
        }
        if next.origin() != self.url.origin() {
            for name in [
                header::AUTHORIZATION,
                header::COOKIE,
                header::PROXY_AUTHORIZATION,
            ] {
                self.headers.remove(name);
            }
        }
        self.url = next;
        Ok(())
    }
}

/// One hop as sent, for its record.
struct Sent<'a> {
    method: &'a reqwest::Method,
    url: &'a Url,
    headers: &'a HeaderMap,
    body: Option<&'a [u8]>,
    started: Instant,
}

/// What came back, for the record.
#[derive(Default)]
struct Received<'a> {
    status: Option<u16>,
    headers: Option<&'a HeaderMap>,
    body: Option<&'a [u8]>,
    error: Option<&'a HttpError>,
}

impl HttpImport {
    /// When the invocation's time is up.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// An import that sends through `client` (built for `policy`) until `deadline`.
    pub fn new(
        client: reqwest::Client,
        policy: EgressPolicy,
        limits: HttpLimits,
        deadline: Instant,
        redactor: Arc<SecretRedactor>,
    ) -> Self {
        Self {
            client,
            policy,
            limits,
            deadline,
            redactor,
            requests: 0,
            calls: Vec::new(),
            previews: Previewer::default(),
            renewal: None,
            renewed: None,
        }
    }

    /// Renew the access token of `renewal` once when an upstream answers 401
    /// to a request carrying it (see [`AccessTokenRenewal`]).
    pub fn with_renewal(mut self, renewal: Option<Arc<dyn AccessTokenRenewal>>) -> Self {
        self.renewal = renewal;
        self
    }

    /// What was sent, in order.
    pub fn into_calls(mut self) -> Vec<HttpCall> {
        self.take_calls()
    }

    /// What was sent, in order; the record is left empty.
    pub fn take_calls(&mut self) -> Vec<HttpCall> {
        std::mem::take(&mut self.calls)
    }

    /// Send `request` under the policy and limits, following redirects; with
    /// an OAuth2 grant, once more with a renewed access token after a 401.
    /// (The guest-facing `Host::send` is this, wrapped for wasmtime.)
    pub async fn request(&mut self, mut request: Request) -> Result<Response, HttpError> {
        if let Some((old, new)) = &self.renewed
            && renewal::carries(&request.headers, old)
        {
            request.headers = renewal::replaced(&request.headers, old, new);
        }
        let Some(renewal) = self.renewal.clone() else {
            return self.send_following(request).await;
        };
        let token = renewal.current();
        if !renewal::carries(&request.headers, &token) {
            return self.send_following(request).await;
        }
        let again = Request {
            method: request.method,
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let response = self.send_following(request).await?;
        if response.status != 401 {
            return Ok(response);
        }
        let Some(fresh) = renewal.renew(token.clone()).await else {
            return Ok(response);
        };
        self.redactor = Arc::new(self.redactor.extended([fresh.as_str()]));
        let headers = renewal::replaced(&again.headers, &token, &fresh);
        self.renewed = Some((token, fresh));
        self.send_following(Request { headers, ..again }).await
    }

    async fn send_following(&mut self, request: Request) -> Result<Response, HttpError> {
        if self.requests >= self.limits.max_requests {
            return Err(HttpError::LimitExceeded(format!(
                "an execution may send at most {} requests",
                self.limits.max_requests
            )));
        }
        self.requests += 1;
        let mut hop = self.admit(request)?;
        let mut hops = 0;
        loop {
            self.check_destination(&hop.url)?;
            let started = Instant::now();
            let response = self.send_once(&hop).await;
            let response = match response {
                Ok(response) => response,
                Err(error) => {
                    let received = Received {
                        error: Some(&error),
                        ..Received::default()
                    };
                    self.record(hop.sent(started), received);
                    return Err(error);
                }
            };
            let status = response.status();
            if self.followed_redirect(&mut hop, &mut hops, started, status, response.headers())? {
                continue;
            }
            let response_headers = response.headers().clone();
            let result = self.read_response(response).await;
            let received = match &result {
                Ok(response) => {
                    let content_type = response_headers.get(header::CONTENT_TYPE);
                    self.learn(&response.body, content_type);
                    Received {
                        status: Some(status.as_u16()),
                        headers: Some(&response_headers),
                        body: Some(&response.body),
                        error: None,
                    }
                }
                Err(error) => Received {
                    status: Some(status.as_u16()),
                    headers: Some(&response_headers),
                    body: None,
                    error: Some(error),
                },
            };
            self.record(hop.sent(started), received);
            return result;
        }
    }

    /// When `status` and `headers` are a redirect: record the hop, check the
    /// redirect limit, turn `hop` toward the Location and say `true`.
    fn followed_redirect(
        &mut self,
        hop: &mut Admitted,
        hops: &mut u8,
        started: Instant,
        status: reqwest::StatusCode,
        headers: &HeaderMap,
    ) -> Result<bool, HttpError> {
        let Some(location) = headers
            .get(header::LOCATION)
            .filter(|_| status.is_redirection())
        else {
            return Ok(false);
        };
        let received = Received {
            status: Some(status.as_u16()),
            headers: Some(headers),
            ..Received::default()
        };
        self.record(hop.sent(started), received);
        if *hops == self.limits.max_redirects {
            return Err(HttpError::LimitExceeded(format!(
                "more than {} redirects",
                self.limits.max_redirects
            )));
        }
        *hops += 1;
        hop.redirect(status, location)?;
        Ok(true)
    }

    /// A guest's request as the host will send it: an absolute URL, a valid
    /// method and headers; credentials in its body are masked from now on.
    fn admit(&mut self, request: Request) -> Result<Admitted, HttpError> {
        let url = Url::parse(&request.url).map_err(|error| {
            HttpError::InvalidRequest(format!(
                "`{}` is not an absolute URL: {error}",
                self.redactor.redact(&request.url)
            ))
        })?;
        let headers = header_map(&request.headers)?;
        if let Some(body) = &request.body {
            self.learn(body, headers.get(header::CONTENT_TYPE));
        }
        Ok(Admitted {
            url,
            method: reqwest_method(request.method),
            headers,
            body: request.body,
        })
    }

    /// Mask from now on the credentials in a token request or response.
    fn learn(&mut self, body: &[u8], content_type: Option<&HeaderValue>) {
        let content_type = content_type.and_then(|value| value.to_str().ok());
        let found = credentials_in(body, content_type);
        if !found.is_empty() {
            self.redactor = Arc::new(self.redactor.extended(found));
        }
    }

    /// Scheme and IP-literal checks; names are checked after resolution.
    fn check_destination(&self, url: &Url) -> Result<(), HttpError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::InvalidRequest(format!(
                "only http and https URLs are allowed, not `{}:`",
                url.scheme()
            )));
        }
        let address = match url.host() {
            Some(url::Host::Ipv4(v4)) => std::net::IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => std::net::IpAddr::V6(v6),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(HttpError::InvalidRequest("the URL has no host".into())),
        };
        self.policy
            .check(address)
            .map_err(|denied| HttpError::Denied(denied.to_string()))
    }

    async fn send_once(&self, hop: &Admitted) -> Result<reqwest::Response, HttpError> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(HttpError::Timeout);
        }
        let mut builder = self
            .client
            .request(hop.method.clone(), hop.url.clone())
            .headers(hop.headers.clone())
            .timeout(remaining.min(self.limits.request_timeout));
        if let Some(body) = &hop.body {
            builder = builder.body(body.clone());
        }
        builder.send().await.map_err(|error| self.classify(error))
    }

    async fn read_response(&self, mut response: reqwest::Response) -> Result<Response, HttpError> {
        let limit = self.limits.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(HttpError::ResponseTooLarge(limit as u64));
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_string(), value)
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| self.classify(error))?
        {
            if body.len() + chunk.len() > limit {
                return Err(HttpError::ResponseTooLarge(limit as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn classify(&self, error: reqwest::Error) -> HttpError {
        if error.is_timeout() {
            return HttpError::Timeout;
        }
        if let Some(reason) = denied_reason(&error) {
            return HttpError::Denied(reason);
        }
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        HttpError::Connection(self.redactor.redact(&message).into_owned())
    }

    fn record(&mut self, sent: Sent<'_>, received: Received<'_>) {
        let redactor = &*self.redactor;
        let content_type = |headers: &HeaderMap| {
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let request_body = sent.body.and_then(|body| {
            self.previews
                .preview(body, content_type(sent.headers).as_deref(), redactor)
        });
        let response_body = received.body.and_then(|body| {
            let content_type = received.headers.and_then(content_type);
            self.previews
                .preview(body, content_type.as_deref(), redactor)
        });
        self.calls.push(HttpCall {
            method: sent.method.as_str().to_string(),
            url: redactor.redact(sent.url.as_str()).into_owned(),
            status: received.status,
            error: received
                .error
                .map(|error| redactor.redact(&describe(error)).into_owned()),
            duration_ms: sent.started.elapsed().as_millis() as u64,
            request_headers: masked_headers(sent.headers, redactor),
            response_headers: received
                .headers
                .map(|headers| masked_headers(headers, redactor))
                .unwrap_or_default(),
            request_body,
            response_body,
        });
    }
}

impl Host for HttpImport {
    async fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        Ok(self.request(request).await)
    }
}

/// A guest's request and an upstream's answers taken through everything the
/// import does short of the network: for the fuzz targets (`host/fuzz`),
/// which feed both hostile.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod offline {
    use std::sync::LazyLock;

    use super::*;

    /// One upstream answer: a status, headers and a body.
    pub type Answer = (u16, Vec<(String, String)>, Vec<u8>);

    /// Never used to send: the import only needs one to exist.
    static CLIENT: LazyLock<Option<reqwest::Client>> = LazyLock::new(|| {
        crate::egress::resolver::HttpClients::new(Duration::from_secs(1))
            .for_policy(&EgressPolicy::nowhere())
            .ok()
    });

    /// Admit `request` under `policy`, answer each hop with `answers` in
    /// order (redirects are followed as on the network, the last answer is
    /// final), and return the outcome and the recorded calls.
    pub fn exchange(
        policy: EgressPolicy,
        secrets: &[String],
        request: Request,
        answers: &[Answer],
    ) -> (Result<Response, HttpError>, Vec<HttpCall>) {
        let Some(client) = CLIENT.clone() else {
            return (Err(HttpError::Timeout), Vec::new());
        };
        let redactor = Arc::new(SecretRedactor::new(secrets));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut import = HttpImport::new(client, policy, HttpLimits::default(), deadline, redactor);
        let result = import.exchange(request, answers);
        if let Err(error) = &result {
            import.redactor.redact(&describe(error));
        }
        (result, import.into_calls())
    }

    impl HttpImport {
        fn exchange(
            &mut self,
            request: Request,
            answers: &[Answer],
        ) -> Result<Response, HttpError> {
            let mut hop = self.admit(request)?;
            let mut answers = answers.iter();
            let mut hops = 0;
            loop {
                self.check_destination(&hop.url)?;
                let Some((status, pairs, body)) = answers.next() else {
                    return Err(HttpError::Connection("no answer".into()));
                };
                let status = reqwest::StatusCode::from_u16(*status)
                    .map_err(|_| HttpError::Connection("invalid status".into()))?;
                // What an upstream can send: any bytes a header may hold.
                let mut headers = HeaderMap::new();
                for (name, value) in pairs {
                    if let (Ok(name), Ok(value)) = (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_bytes(value.as_bytes()),
                    ) {
                        headers.append(name, value);
                    }
                }
                let started = Instant::now();
                if self.followed_redirect(&mut hop, &mut hops, started, status, &headers)? {
                    continue;
                }
                self.learn(body, headers.get(header::CONTENT_TYPE));
                let received = Received {
                    status: Some(status.as_u16()),
                    headers: Some(&headers),
                    body: Some(body),
                    error: None,
                };
                self.record(hop.sent(started), received);
                return Ok(Response {
                    status: status.as_u16(),
                    headers: Vec::new(),
                    body: body.clone(),
                });
            }
        }
    }
}

/// A one-line description of an HTTP error, for records and messages.
pub fn describe(error: &HttpError) -> String {
    match error {
        HttpError::Denied(reason) => format!("refused by the egress policy: {reason}"),
        HttpError::InvalidRequest(reason) => format!("invalid request: {reason}"),
        HttpError::Timeout => "timed out".to_string(),
        HttpError::Connection(reason) => format!("connection failed: {reason}"),
        HttpError::ResponseTooLarge(limit) => format!("response larger than {limit} bytes"),
        HttpError::LimitExceeded(reason) => reason.clone(),
    }
}

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
        Method::Options => reqwest::Method::OPTIONS,
    }
}

fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap, HttpError> {
    let mut headers = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            HttpError::InvalidRequest(format!("`{name}` is not a valid header name"))
        })?;
        let header_value = HeaderValue::from_str(value).map_err(|_| {
            HttpError::InvalidRequest(format!("the value of header `{name}` is not valid"))
        })?;
        headers.append(header_name, header_value);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(policy: EgressPolicy) -> HttpImport {
        let clients = crate::egress::resolver::HttpClients::new(Duration::from_secs(1));
        let client = clients.for_policy(&policy).expect("client");
        HttpImport::new(
            client,
            policy,
            HttpLimits::default(),
            Instant::now() + Duration::from_secs(5),
            Arc::new(SecretRedactor::new(["s3cret"])),
        )
    }

    fn request(url: &str) -> Request {
        Request {
            method: Method::Get,
            url: url.into(),
            headers: vec![],
            body: None,
        }
    }

    #[tokio::test]
    async fn ip_literals_are_checked_before_connecting() {
        let mut http = import(EgressPolicy::default());
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]:9/",
            "http://169.254.169.254/latest/meta-data",
        ] {
            let result = http.send(request(url)).await.expect("no trap");
            assert!(
                matches!(result, Err(HttpError::Denied(_))),
                "{url}: {result:?}"
            );
        }
        assert_eq!(
            http.into_calls().len(),
            0,
            "refused requests never leave the host"
        );
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let mut http = import(EgressPolicy::default());
        let result = http
            .send(request("http://localhost:9/"))
            .await
            .expect("no trap");
        match result {
            Err(HttpError::Denied(reason)) => assert!(reason.contains("localhost"), "{reason}"),
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn other_schemes_and_bad_headers_are_invalid_requests() {
        let mut http = import(EgressPolicy::unrestricted());
        let result = http
            .send(request("file:///etc/passwd"))
            .await
            .expect("no trap");
        assert!(
            matches!(result, Err(HttpError::InvalidRequest(_))),
            "{result:?}"
        );
        let mut bad_header = request("http://127.0.0.1:9/");
        bad_header.headers.push(("bad header".into(), "x".into()));
        let result = http.send(bad_header).await.expect("no trap");
        assert!(
            matches!(result, Err(HttpError::InvalidRequest(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn the_request_budget_is_enforced() {
        let mut http = import(EgressPolicy::default());
        http.limits.max_requests = 1;
        let _ = http
            .send(request("http://127.0.0.1:9/"))
            .await
            .expect("no trap");
        let result = http
            .send(request("http://127.0.0.1:9/"))
            .await
            .expect("no trap");
        assert!(
            matches!(result, Err(HttpError::LimitExceeded(_))),
            "{result:?}"
        );
    }

    /// A token endpoint and an API echoing what it got, on loopback.
    async fn token_server() -> String {
        use axum::routing::{get, post};
        let router = axum::Router::new()
            .route(
                "/token",
                post(|| async {
                    axum::Json(serde_json::json!({
                        "access_token": "at-learned-77", "token_type": "Bearer", "expires_in": 60
                    }))
                }),
            )
            .route(
                "/echo",
                get(|uri: axum::http::Uri| async move { format!("you asked for {uri}") }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn token_calls_are_recorded_with_the_client_secret_and_the_token_masked() {
        let base = token_server().await;
        let mut http = import(EgressPolicy::unrestricted());
        let token = http
            .request(Request {
                method: Method::Post,
                url: format!("{base}/token"),
                headers: vec![
                    (
                        "content-type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ),
                    ("authorization".into(), "Basic Y2lkOnMzY3JldA==".into()),
                ],
                body: Some(
                    b"grant_type=client_credentials&client_id=cid&client_secret=s3cret".to_vec(),
                ),
            })
            .await
            .expect("a token");
        assert_eq!(token.status, 200);
        let echo = http
            .request(Request {
                method: Method::Get,
                url: format!("{base}/echo?access_token=at-learned-77"),
                headers: vec![("authorization".into(), "Bearer at-learned-77".into())],
                body: None,
            })
            .await
            .expect("an answer");
        assert!(
            String::from_utf8_lossy(&echo.body).contains("at-learned-77"),
            "the guest gets the real response"
        );
        let calls = http.into_calls();
        let recorded = serde_json::to_string(&calls).expect("json");
        for clear in ["s3cret", "at-learned-77", "Y2lkOnMzY3JldA"] {
            assert!(!recorded.contains(clear), "{clear} in {recorded}");
        }
        let [token_call, echo_call] = &calls[..] else {
            panic!("two calls: {calls:?}")
        };
        let header = |call: &HttpCall, name: &str| {
            call.request_headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| h.value.clone())
        };
        assert_eq!(
            header(token_call, "authorization").as_deref(),
            Some("Basic ***")
        );
        assert_eq!(
            token_call
                .request_body
                .as_ref()
                .and_then(|b| b.text.as_deref()),
            Some("grant_type=client_credentials&client_id=cid&client_secret=***")
        );
        let answer = token_call.response_body.as_ref().expect("a response body");
        assert!(
            answer
                .text
                .as_deref()
                .is_some_and(|t| t.contains(r#""access_token":"***""#)),
            "{answer:?}"
        );
        assert!(
            token_call
                .response_headers
                .iter()
                .any(|h| h.name == "content-type" && h.value == "application/json")
        );
        assert!(
            echo_call.url.ends_with("/echo?access_token=***"),
            "{}",
            echo_call.url
        );
        assert_eq!(
            header(echo_call, "authorization").as_deref(),
            Some("Bearer ***")
        );
        assert_eq!(
            echo_call
                .response_body
                .as_ref()
                .and_then(|b| b.text.as_deref()),
            Some("you asked for /echo?access_token=***")
        );
    }

    #[test]
    fn offline_exchanges_follow_redirects_as_the_network_path_does() {
        let token_request = Request {
            method: Method::Post,
            url: "https://a.example/token".into(),
            headers: vec![("authorization".into(), "Bearer s3cret".into())],
            body: Some(b"grant".to_vec()),
        };
        let redirect = (
            303,
            vec![("location".into(), "https://b.example/next".into())],
            Vec::new(),
        );
        let answer = (200, Vec::new(), b"ok s3cret".to_vec());
        let (result, calls) = offline::exchange(
            EgressPolicy::public_only(),
            &["s3cret".into()],
            token_request,
            &[redirect, answer],
        );
        assert!(matches!(&result, Ok(r) if r.status == 200), "{result:?}");
        let [first, second] = &calls[..] else {
            panic!("two hops: {calls:?}")
        };
        assert_eq!(
            (first.method.as_str(), second.method.as_str()),
            ("POST", "GET")
        );
        assert!(second.request_headers.is_empty(), "{second:?}");
        let recorded = serde_json::to_string(&calls).expect("json");
        assert!(!recorded.contains("s3cret"), "{recorded}");
        let (refused, _) = offline::exchange(
            EgressPolicy::public_only(),
            &[],
            request("http://10.0.0.1/"),
            &[],
        );
        assert!(matches!(refused, Err(HttpError::Denied(_))), "{refused:?}");
    }

    #[tokio::test]
    async fn secrets_in_invalid_urls_are_masked() {
        let mut http = import(EgressPolicy::default());
        let result = http
            .send(request("not a url s3cret"))
            .await
            .expect("no trap");
        match result {
            Err(HttpError::InvalidRequest(message)) => {
                assert!(
                    !message.contains("s3cret") && message.contains("***"),
                    "{message}"
                )
            }
            other => panic!("expected invalid request, got {other:?}"),
        }
    }
}
