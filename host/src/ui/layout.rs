//! The page shell every page shares: head, sidebar, signed-in role, and the
//! security headers of every UI response.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::assets;
use super::session::{CSRF_FIELD, Viewer};

/// The Content-Security-Policy of every UI response: scripts and styles
/// only from our own embedded files (no inline script or style), requests
/// only to this origin, never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// htmx settings: no `eval`, no script tags in swapped content, requests to
/// this origin only, no page snapshots in localStorage (a token shown once
/// must not be kept there), no `style` attribute settling (the CSP allows
/// no inline style), and error responses swapped into their target so their
/// message is seen.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"attributesToSettle":["class","width","height"],"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,"historyCacheSize":0,"refreshOnHistoryMiss":true,"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"[45]..","swap":true,"error":true}]}"#;

/// Add the security headers to a UI response (middleware).
pub async fn add_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Where a page sits in the sidebar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Connectors list, connector pages, the wizard.
    Connectors,
    /// Import from OpenAPI.
    Import,
    /// Executions.
    Executions,
    /// Agents.
    Agents,
    /// Plugins & types.
    Plugins,
    /// API tokens (admin).
    Tokens,
    /// None highlighted (errors).
    None,
}

/// A full page: title, sidebar entry, body, and any extra scripts (the
/// editor bundle, on pages with an editor only).
pub struct Page {
    viewer: Viewer,
    nav: Nav,
    title: String,
    body: Markup,
    scripts: Vec<&'static str>,
    actions: Option<Markup>,
}

impl Page {
    /// A page titled `title` in the `nav` section.
    pub fn new(viewer: &Viewer, nav: Nav, title: impl Into<String>, body: Markup) -> Self {
        Self {
            viewer: viewer.clone(),
            nav,
            title: title.into(),
            body,
            scripts: Vec::new(),
            actions: None,
        }
    }

    /// Also load the embedded script at `asset` (see [`assets::ASSETS`]).
    pub fn script(mut self, asset: &'static str) -> Self {
        self.scripts.push(asset);
        self
    }

    /// Controls shown beside the title (e.g. "New connector").
    pub fn actions(mut self, actions: Markup) -> Self {
        self.actions = Some(actions);
        self
    }

    /// The whole document.
    pub fn render(self) -> Markup {
        let csrf_headers = serde_json::json!({ "x-csrf-token": self.viewer.csrf }).to_string();
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(&self.title, &self.scripts))
                body hx-headers=(csrf_headers) {
                    a class="skip-link" href="#main" { "Skip to content" }
                    div class="shell" {
                        (sidebar(&self.viewer, self.nav))
                        main id="main" tabindex="-1" {
                            header class="page-header" {
                                h1 { (self.title) }
                                @if let Some(actions) = self.actions {
                                    div class="page-actions" { (actions) }
                                }
                            }
                            (self.body)
                        }
                    }
                }
            }
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        self.render().into_response()
    }
}

/// A page for a signed-out visitor (sign-in), without the sidebar.
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, &[]))
            body class="bare" {
                main id="main" class="bare-main" { (body) }
            }
        }
    }
}

fn head(title: &str, scripts: &[&'static str]) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="htmx-config" content=(HTMX_CONFIG);
            title { (title) " · Floh" }
            link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
            link rel="stylesheet" href=(assets::url(assets::APP_CSS));
            script src=(assets::url(assets::HTMX_JS)) defer {}
            script src=(assets::url(assets::APP_JS)) defer {}
            @for script in scripts {
                script src=(assets::url(script)) defer {}
            }
        }
    }
}

fn sidebar(viewer: &Viewer, active: Nav) -> Markup {
    let mut entries = vec![
        (Nav::Connectors, "/connectors", "Connectors"),
        (Nav::Import, "/import", "Import from OpenAPI"),
        (Nav::Executions, "/executions", "Executions"),
        (Nav::Agents, "/agents", "Agents"),
        (Nav::Plugins, "/plugins", "Plugins & types"),
    ];
    if viewer.may_change() {
        entries.push((Nav::Tokens, "/tokens", "Tokens"));
    } else {
        // Importing creates a connector: not for executors.
        entries.retain(|(nav, _, _)| *nav != Nav::Import);
    }
    html! {
        nav class="sidebar" aria-label="Main" {
            a class="brand" href="/connectors" {
                img src=(assets::url("favicon.svg")) alt="" width="24" height="24";
                span { "Floh" }
            }
            ul {
                @for (nav, href, label) in entries {
                    li {
                        a href=(href) aria-current=[(nav == active).then_some("page")] { (label) }
                    }
                }
            }
            div class="whoami" {
                p {
                    span class="muted" { "Signed in as " }
                    strong { (viewer.name) }
                    br;
                    span class={ "role role-" (viewer.role.as_str()) } { (viewer.role.as_str()) }
                }
                form method="post" action="/sign-out" {
                    (csrf_field(viewer))
                    button type="submit" class="button-link" { "Sign out" }
                }
            }
        }
    }
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf); }
}

/// "3 min ago"-style time for a Unix-millisecond timestamp; the exact time
/// is in the `<time>` element's `datetime` and `title`.
/// A time in the future reads "in 3 min".
pub fn time_ago(ms: u64) -> Markup {
    let now = crate::clock::now_ms();
    let ahead = ms > now + 4_999;
    let seconds = now.abs_diff(ms) / 1000;
    let span = match seconds {
        0..=4 => String::new(),
        5..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min", seconds / 60),
        3600..=86_399 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    };
    let text = match (span.is_empty(), ahead) {
        (true, _) => "just now".to_string(),
        (false, true) => format!("in {span}"),
        (false, false) => format!("{span} ago"),
    };
    let iso = iso8601(ms);
    html! { time datetime=(iso) title=(iso) { (text) } }
}

/// A duration in milliseconds for people: `840 ms`, `2.4 s`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// UTC date and time of Unix milliseconds, `2026-12-01T01:02:03Z`.
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

/// An outcome badge: "ok" (green) or the error code (red).
pub fn outcome_badge(success: bool, status: &str) -> Markup {
    html! {
        @if success {
            span class="badge badge-ok" { "ok" }
        } @else {
            span class="badge badge-fail" { (status) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_764_550_923_000), "2025-12-01T01:02:03Z");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(840), "840 ms");
        assert_eq!(duration(2_400), "2.4 s");
        assert_eq!(duration(125_000), "2 min 5 s");
    }
}
