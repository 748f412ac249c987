//! Authifi's error answers as messages users can act on: the status, what
//! was being done, and the API's own reason.
//!
//! Authifi answers errors as `{"error": {"code", "message"}}`; the token
//! endpoint as OAuth2 does, `{"error", "error_description"}`. Both are read,
//! and so are a bare `{"message"}` and plain text, since proxies in front of
//! an IdP answer in their own ways.

use floh_sdk::http::Response;
use serde_json::Value;

/// The API's reason for an error answer, if it gave one.
pub fn reason(response: &Response) -> Option<String> {
    let text = response.text();
    let Ok(body) = serde_json::from_str::<Value>(&text) else {
        let excerpt: String = text.trim().chars().take(200).collect();
        return (!excerpt.is_empty()).then_some(excerpt);
    };
    let string = |value: &Value| value.as_str().map(str::to_string);
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

/// `": <reason>"`, or nothing when the API gave none.
pub fn reason_suffix(response: &Response) -> String {
    reason(response)
        .map(|reason| format!(": {reason}"))
        .unwrap_or_default()
}

/// The message for an error answer to `action` (e.g. "createUser").
pub fn api_error(action: &str, response: &Response) -> String {
    format!(
        "{action} failed: authifi answered HTTP {}{}",
        response.status,
        reason_suffix(response)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

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
            assert_eq!(reason(&answer(500, body)).as_deref(), expected, "{body}");
        }
    }

    #[test]
    fn messages_name_the_action_and_the_status() {
        assert_eq!(
            api_error(
                "createUser",
                &answer(
                    409,
                    r#"{"error":{"code":"conflict","message":"username taken"}}"#
                )
            ),
            "createUser failed: authifi answered HTTP 409: conflict: username taken"
        );
        assert_eq!(
            api_error("listUsers", &answer(502, "")),
            "listUsers failed: authifi answered HTTP 502"
        );
    }
}
