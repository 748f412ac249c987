//! Sign in with an API token, sign out.

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::UiState;
use super::error::UiError;
use super::layout::bare_page;
use super::session::{self, CSRF_FIELD, SIGN_IN_COOKIE, random_token, same_secret};
use crate::auth::token_hash;

pub fn routes() -> Router<UiState> {
    Router::new()
        .route("/sign-in", get(form).post(sign_in))
        .route("/sign-out", post(sign_out))
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// Only a path on this site (not `//elsewhere`) is followed after sign-in.
fn local_path(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/connectors")
}

async fn form(State(state): State<UiState>, Query(next): Query<Next>) -> Response {
    // There is no session to carry a CSRF token yet: the form's token is
    // also set as a cookie, and a sign-in must present both (so another
    // site cannot sign a browser in with the other site's token).
    let csrf = random_token();
    (
        [(header::SET_COOKIE, state.sessions.sign_in_cookie(&csrf))],
        page(&csrf, local_path(next.next.as_deref()), None),
    )
        .into_response()
}

fn page(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    bare_page(
        "Sign in",
        html! {
            div class="card sign-in" {
                h1 { "Sign in to Floh" }
                p class="muted" {
                    "Use an API token (admin or executor). The token is checked once; "
                    "the browser keeps only a session cookie."
                }
                @if let Some(error) = error {
                    div class="alert alert-error" role="alert" id="sign-in-error" { (error) }
                }
                form method="post" action="/sign-in" {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label for="token" { "API token" }
                    input id="token" name="token" type="password" required autocomplete="off"
                        autofocus aria-describedby=[error.map(|_| "sign-in-error")];
                    button type="submit" class="button-primary" { "Sign in" }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct SignIn {
    csrf: String,
    token: String,
    next: Option<String>,
}

async fn sign_in(
    State(state): State<UiState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignIn>,
) -> Result<Response, UiError> {
    let expected = session::cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(&form.csrf, expected) {
        return Err(UiError::new(
            StatusCode::FORBIDDEN,
            "the sign-in form has expired: reload the page and try again",
        ));
    }
    let next = local_path(form.next.as_deref());
    let token = form.token.trim();
    let Some(record) = state.app.auth.lookup(token).await? else {
        let csrf = random_token();
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::SET_COOKIE, state.sessions.sign_in_cookie(&csrf))],
            page(&csrf, next, Some("That token is not valid.")),
        )
            .into_response());
    };
    let cookie = state
        .sessions
        .start(token_hash(token), record.name, record.role);
    let mut response = Redirect::to(next).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response.headers_mut().append(
        header::SET_COOKIE,
        state
            .sessions
            .sign_in_cookie("")
            .to_str()
            .ok()
            .and_then(|c| c.replace("Max-Age=3600", "Max-Age=0").parse().ok())
            .unwrap_or_else(|| header::HeaderValue::from_static("")),
    );
    Ok(response)
}

async fn sign_out(State(state): State<UiState>, request: Request) -> Result<Response, UiError> {
    let id = session::session_id(&state.sessions, request.headers())
        .map(str::to_string)
        .ok_or_else(|| UiError::new(StatusCode::UNAUTHORIZED, "not signed in"))?;
    let (_, viewer) = state
        .sessions
        .touch(&id)
        .ok_or_else(|| UiError::new(StatusCode::UNAUTHORIZED, "not signed in"))?;
    // Signing out changes state: it needs the session's CSRF token too.
    session::check_csrf(request, &viewer.csrf).await?;
    let cookie = state.sessions.end(&id);
    let mut response = Redirect::to("/sign-in").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/agents")), "/agents");
        assert_eq!(local_path(Some("//evil.example")), "/connectors");
        assert_eq!(local_path(Some("https://evil.example")), "/connectors");
        assert_eq!(local_path(Some("/\\evil.example")), "/connectors");
        assert_eq!(local_path(None), "/connectors");
    }
}
