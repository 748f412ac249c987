//! Browser sessions: sign in with an API token, get an HttpOnly,
//! SameSite=Strict cookie; every state-changing request carries the
//! session's CSRF token; roles are checked with the API's own rule.
//!
//! Sessions live in memory, keyed by the SHA-256 of their id (the cookie's
//! value is never kept, so a heap dump or a debug print reveals no usable
//! session). Memory, not redb: a session is a short-lived convenience over
//! an API token the person still holds; a restart signing everyone out is
//! acceptable, and sign-ins and page views then never wait for a durable
//! write. Each session remembers the hash of the API token it came from and
//! re-checks that token on every request, so revoking the token ends its
//! sessions at once, wherever it was revoked (API, CLI or UI).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use super::UiState;
use super::error::UiError;
use crate::auth::access_of;
use crate::rate_limit;
use crate::store::{Access, Role, TokenRecord};

/// A session ends this long after sign-in, however busy.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// A session ends after this long without a request.
pub const SESSION_IDLE: Duration = Duration::from_secs(2 * 60 * 60);
/// At most this many live sessions; the oldest go first beyond it.
const MAX_SESSIONS: usize = 10_000;
/// The largest form body the CSRF check reads (scripts fit many times).
pub const MAX_FORM_BYTES: usize = 4 * 1024 * 1024;

/// The form field and header that carry the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// The header htmx and scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The cookie of the sign-in form's CSRF token (there is no session yet).
pub const SIGN_IN_COOKIE: &str = "floh_sign_in";

/// The signed-in person, as every page handler sees them.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The API token's name.
    pub name: String,
    /// The API token's role.
    pub role: Role,
    /// The CSRF token to embed in forms.
    pub csrf: String,
}

impl Viewer {
    /// Whether this person may change things (admin controls shown).
    pub fn may_change(&self) -> bool {
        self.role.allows(Access::Change)
    }

    /// 403 with `why` (what needs an admin) unless this person may change
    /// things: for pages that only lead to a change, such as the wizard's
    /// steps, which the route rule lets any signed-in person read.
    pub fn require_change(&self, why: &str) -> Result<(), UiError> {
        if self.may_change() {
            Ok(())
        } else {
            Err(UiError::new(StatusCode::FORBIDDEN, why))
        }
    }
}

#[derive(Clone)]
struct Session {
    token_hash: String,
    viewer: Viewer,
    created: Instant,
    last_seen: Instant,
}

/// The live sessions.
pub struct Sessions {
    live: Mutex<HashMap<[u8; 32], Session>>,
    /// `Secure` cookies and the `__Host-` prefix (served over TLS).
    secure: bool,
}

impl Sessions {
    /// An empty session store; `secure` when the server speaks TLS.
    pub fn new(secure: bool) -> Self {
        Self {
            live: Mutex::default(),
            secure,
        }
    }

    /// Whether the UI is served over TLS (its cookies are `Secure`).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-floh_session"
        } else {
            "floh_session"
        }
    }

    /// Start a session for the API token hashed as `token_hash`; the
    /// returned header sets the cookie.
    pub fn start(&self, token_hash: String, name: String, role: Role) -> HeaderValue {
        let id = random_token();
        let now = Instant::now();
        let session = Session {
            token_hash,
            viewer: Viewer {
                name,
                role,
                csrf: random_token(),
            },
            created: now,
            last_seen: now,
        };
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if live.len() >= MAX_SESSIONS {
            live.retain(|_, s| !s.expired(now));
            if live.len() >= MAX_SESSIONS
                && let Some(oldest) = live.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| *k)
            {
                live.remove(&oldest);
            }
        }
        live.insert(digest(&id), session);
        self.cookie(&id, SESSION_LIFETIME.as_secs())
    }

    /// End the session `id` (sign out); the header clears the cookie.
    pub fn end(&self, id: &str) -> HeaderValue {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&digest(id));
        self.cookie("", 0)
    }

    /// End every session of the API token hashed as `token_hash`.
    pub fn end_for_token(&self, token_hash: &str) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, s| s.token_hash != token_hash);
    }

    /// How many sessions are live.
    pub fn count(&self) -> usize {
        let now = Instant::now();
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|s| !s.expired(now))
            .count()
    }

    /// The live session `id`'s viewer (and the hash of its API token).
    pub fn touch(&self, id: &str) -> Option<(String, Viewer)> {
        let now = Instant::now();
        let key = digest(id);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let session = live.get_mut(&key)?;
        if session.expired(now) {
            live.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some((session.token_hash.clone(), session.viewer.clone()))
    }

    fn cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
            self.cookie_name()
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The header setting the sign-in form's CSRF cookie to `value`.
    pub fn sign_in_cookie(&self, value: &str) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{SIGN_IN_COOKIE}={value}; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

impl Session {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.created) > SESSION_LIFETIME
            || now.duration_since(self.last_seen) > SESSION_IDLE
    }
}

pub use crate::ids::random_token;

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Compare secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub use crate::auth::cookie;

/// Whether the request came from htmx (answer with a fragment or an
/// `HX-Redirect`, not a full page).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// Middleware for every signed-in route: find the session, take the request
/// from its API token's rate limit, check the CSRF token of a
/// state-changing request, check the role with the API's rule, and hand the
/// [`Viewer`] to the handler.
pub async fn require_session(
    State(state): State<UiState>,
    request: Request,
    next: Next,
) -> Response {
    let found = match session_token(&state, request.headers()).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let Some((viewer, token)) = found else {
        return sign_in_first(&request);
    };
    // A session spends its API token's requests: the browser is one more
    // client of the token, not a way around its limit.
    let standing = match &state.app.token_limit {
        None => None,
        Some(limit) => match limit.check(&token.id) {
            Ok(standing) => Some(standing),
            Err(refused) => {
                let message = format!("`{}` signs in with a token that is {refused}", viewer.name);
                let mut response =
                    UiError::new(StatusCode::TOO_MANY_REQUESTS, message).into_response();
                rate_limit::headers::add_refusal(response.headers_mut(), &refused);
                return response;
            }
        },
    };
    let mut response = authorized(viewer, request, next).await;
    if let Some(standing) = &standing {
        rate_limit::headers::add_standing(response.headers_mut(), standing);
    }
    response
}

/// The CSRF and role checks of a signed-in request, then the page.
async fn authorized(viewer: Viewer, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    let request = if safe {
        request
    } else {
        match check_csrf(request, &viewer.csrf).await {
            Ok(request) => request,
            Err(error) => return error.into_response(),
        }
    };
    if !viewer
        .role
        .allows(access_of(request.method(), request.uri().path()))
    {
        return UiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "`{}` signs in with role `{}`, which may read and run connectors but not change anything",
                viewer.name,
                viewer.role.as_str()
            ),
        )
        .into_response();
    }
    let mut request = request;
    request.extensions_mut().insert(viewer);
    next.run(request).await
}

/// The viewer of the request's live session, if it has one whose API token
/// is still valid (revoking the token ends the session).
pub async fn signed_in(state: &UiState, headers: &HeaderMap) -> Result<Option<Viewer>, UiError> {
    Ok(session_token(state, headers)
        .await?
        .map(|(viewer, _)| viewer))
}

/// The viewer of the request's live session and the API token it stands on.
async fn session_token(
    state: &UiState,
    headers: &HeaderMap,
) -> Result<Option<(Viewer, TokenRecord)>, UiError> {
    let Some(id) = cookie(headers, state.sessions.cookie_name()) else {
        return Ok(None);
    };
    let Some((token_hash, viewer)) = state.sessions.touch(id) else {
        return Ok(None);
    };
    match state.app.auth.lookup_hash(&token_hash).await? {
        Some(token) => Ok(Some((viewer, token))),
        None => {
            state.sessions.end_for_token(&token_hash);
            Ok(None)
        }
    }
}

fn sign_in_first(request: &Request) -> Response {
    if request.method() != Method::GET {
        return UiError::new(StatusCode::UNAUTHORIZED, "sign in first").into_response();
    }
    let next = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let target = format!(
        "/sign-in?next={}",
        form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    );
    if is_htmx(request.headers()) {
        // htmx follows this header with a full navigation.
        return (
            StatusCode::UNAUTHORIZED,
            [("hx-redirect", target.as_str())],
            "",
        )
            .into_response();
    }
    Redirect::to(&target).into_response()
}

/// Refuse a state-changing request whose CSRF token (header, or the `csrf`
/// field of a form) is missing or wrong. A form body is read (bounded) and
/// put back for the handler.
pub async fn check_csrf(request: Request, expected: &str) -> Result<Request, UiError> {
    let refused = || {
        UiError::new(
            StatusCode::FORBIDDEN,
            "the request has no valid CSRF token: reload the page and try again",
        )
    };
    if let Some(sent) = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return if same_secret(sent, expected) {
            Ok(request)
        } else {
            Err(refused())
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| UiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"))?;
    let sent = form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == CSRF_FIELD)
        .map(|(_, value)| value.into_owned());
    match sent {
        Some(sent) if same_secret(&sent, expected) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(refused()),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .ok_or_else(|| UiError::new(StatusCode::UNAUTHORIZED, "sign in first"))
    }
}

/// The session id from the request's cookie, if any.
pub fn session_id<'a>(sessions: &Sessions, headers: &'a HeaderMap) -> Option<&'a str> {
    cookie(headers, sessions.cookie_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_end_and_end_with_their_token() {
        let sessions = Sessions::new(false);
        let cookie = sessions.start("hash-a".into(), "alice".into(), Role::Admin);
        let cookie = cookie.to_str().expect("ascii");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains("Secure"));
        let id = cookie
            .strip_prefix("floh_session=")
            .and_then(|rest| rest.split(';').next())
            .expect("cookie value");
        assert_eq!(sessions.touch(id).expect("live").1.name, "alice");
        assert!(sessions.touch("not-a-session").is_none());
        sessions.end_for_token("hash-a");
        assert!(sessions.touch(id).is_none(), "revoking the token ends it");

        let cookie = sessions.start("hash-b".into(), "bob".into(), Role::Executor);
        let id = cookie.to_str().expect("ascii")["floh_session=".len()..]
            .split(';')
            .next()
            .expect("value")
            .to_string();
        sessions
            .live
            .lock()
            .expect("lock")
            .values_mut()
            .for_each(|s| s.last_seen -= SESSION_IDLE + Duration::from_secs(1));
        assert!(sessions.touch(&id).is_none(), "idle sessions expire");
        let cleared = sessions.end(&id);
        assert!(cleared.to_str().expect("ascii").contains("Max-Age=0"));
    }

    #[test]
    fn secure_sessions_use_host_prefixed_secure_cookies() {
        let sessions = Sessions::new(true);
        let cookie = sessions.start("h".into(), "n".into(), Role::Admin);
        let cookie = cookie.to_str().expect("ascii");
        assert!(cookie.starts_with("__Host-floh_session="), "{cookie}");
        assert!(cookie.contains("; Secure"));
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn executors_may_run_but_not_change() {
        let get = access_of(&Method::GET, "/connectors/x");
        let run = access_of(&Method::POST, "/connectors/x/execute");
        let delete = access_of(&Method::POST, "/connectors/x/delete");
        assert!(Role::Executor.allows(get) && Role::Executor.allows(run));
        assert!(!Role::Executor.allows(delete));
        assert!(Role::Admin.allows(delete));
    }
}
