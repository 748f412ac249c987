//! Authifi's error answers as messages users can act on: the status, what
//! was being done, and the API's own reason.
//!
//! Authifi answers errors as `{"error": {"code", "message"}}`; the SDK's
//! `Response::reason` reads that and the other common shapes.

use floh_sdk::http::Response;

/// `": <reason>"`, or nothing when the API gave none.
pub fn reason_suffix(response: &Response) -> String {
    response
        .reason()
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
