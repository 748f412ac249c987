//! What a response becomes: `{status, headers, body}` with a JSON body parsed
//! when the response says it is JSON, as the native type returns it.

use floh_sdk::http::Response;
use serde_json::{Map, Value, json};

/// `data` for a response below 400; for 400 and above, the error message:
/// `HTTP <status>: <start of the body>`. (The native type also returns the
/// data with the failure; a plugin's failure carries a message only.)
pub fn response_data(response: &Response) -> Result<Value, String> {
    let mut headers = Map::new();
    let mut is_json = false;
    for (name, value) in &response.headers {
        is_json |= name.eq_ignore_ascii_case("content-type")
            && value.to_ascii_lowercase().contains("json");
        headers.insert(name.clone(), Value::String(value.clone()));
    }
    let text = response.text();
    if response.status >= 400 {
        let excerpt: String = text.chars().take(200).collect();
        return Err(if excerpt.is_empty() {
            format!("HTTP {}", response.status)
        } else {
            format!("HTTP {}: {excerpt}", response.status)
        });
    }
    let body = if is_json {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    } else {
        Value::String(text)
    };
    Ok(json!({"status": response.status, "headers": headers, "body": body}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, content_type: &str, body: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn json_bodies_are_parsed_and_others_kept_as_text() {
        let data = response_data(&response(
            200,
            "application/json; charset=utf-8",
            r#"{"a":1}"#,
        ))
        .expect("data");
        assert_eq!(data["body"], json!({"a": 1}));
        assert_eq!(
            data["headers"]["content-type"],
            "application/json; charset=utf-8"
        );
        let data = response_data(&response(302, "text/plain", "moved")).expect("3xx is no failure");
        assert_eq!(data["body"], "moved");
        let data = response_data(&response(200, "application/json", "not json")).expect("data");
        assert_eq!(data["body"], "not json");
    }

    #[test]
    fn failures_name_the_status_and_the_start_of_the_body() {
        assert_eq!(
            response_data(&response(404, "application/json", r#"{"message":"no"}"#)),
            Err(r#"HTTP 404: {"message":"no"}"#.to_string())
        );
        assert_eq!(
            response_data(&response(500, "text/plain", "")),
            Err("HTTP 500".to_string())
        );
    }
}
