//! Paths nothing answers: a browser gets an HTML 404 page in the UI's
//! layout (signed in or not), an API client a JSON 404.

use floh_e2e::{ADMIN_TOKEN, Server};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Sign in through the form; returns the session cookie (`name=value`).
async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    let form = client
        .get(format!("{base}/sign-in"))
        .send()
        .await
        .expect("sign-in form");
    let form_cookie = form
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("sign-in cookie")
        .to_string();
    let csrf = form_cookie.split_once('=').expect("csrf").1.to_string();
    let signed_in = client
        .post(format!("{base}/sign-in"))
        .header("cookie", &form_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={csrf}&token={ADMIN_TOKEN}&next=%2Fconnectors"
        ))
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed_in.status(), 303, "signed in");
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("floh_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string()
}

async fn get(client: &reqwest::Client, url: &str, cookie: Option<&str>) -> (u16, String, String) {
    let mut request = client.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, content_type, response.text().await.expect("body"))
}

#[tokio::test]
async fn unknown_ui_paths_get_an_html_page_and_unknown_api_paths_json() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let client = client();
    let base = &server.url;

    // Signed out: the page, without the sidebar, offering to sign in.
    for path in [
        "/connectors/nope/x",
        "/whatever",
        "/connectors/new/extra/deep",
    ] {
        let (status, content_type, body) = get(&client, &format!("{base}{path}"), None).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            content_type.starts_with("text/html"),
            "{path}: {content_type}"
        );
        assert!(body.starts_with("<!DOCTYPE html>"), "{path}: {body}");
        assert!(body.contains("Page not found"), "{body}");
        assert!(
            body.contains(&format!("There is no page at {path}.")),
            "{body}"
        );
        assert!(body.contains("href=\"/sign-in\""), "{body}");
        assert!(!body.contains("class=\"sidebar\""), "signed out: {body}");
    }

    // Signed in: the page in the layout, with the sidebar and the role.
    let cookie = sign_in(&client, base).await;
    let (status, content_type, body) =
        get(&client, &format!("{base}/connectors/nope/x"), Some(&cookie)).await;
    assert_eq!(status, 404);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("class=\"sidebar\""), "{body}");
    assert!(body.contains("role-admin"), "{body}");
    assert!(body.contains("Page not found"), "{body}");

    // The UI's security headers apply to it as to every page.
    let response = client
        .get(format!("{base}/whatever"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(
        response
            .headers()
            .get("x-frame-options")
            .and_then(|v| v.to_str().ok()),
        Some("DENY")
    );
    assert!(response.headers().contains_key("content-security-policy"));

    // An htmx request gets the alert fragment, not a whole page.
    let response = client
        .get(format!("{base}/whatever"))
        .header("cookie", &cookie)
        .header("hx-request", "true")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 404);
    let fragment = response.text().await.expect("body");
    assert!(
        fragment.starts_with("<div class=\"alert alert-error\""),
        "{fragment}"
    );

    // The API keeps JSON, with or without a session cookie.
    for path in ["/api/nope", "/api/connectors/x/nope/deeper", "/api"] {
        for cookie in [None, Some(cookie.as_str())] {
            let (status, content_type, body) = get(&client, &format!("{base}{path}"), cookie).await;
            assert_eq!(status, 404, "{path}");
            assert!(
                content_type.starts_with("application/json"),
                "{path}: {content_type}"
            );
            let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            assert_eq!(body["error"]["code"], "NOT_FOUND", "{body}");
        }
    }
    // Known routes are unaffected.
    let (status, _, _) = get(&client, &format!("{base}/api/health"), None).await;
    assert_eq!(status, 200);
    let (status, _, _) = get(&client, &format!("{base}/connectors"), Some(&cookie)).await;
    assert_eq!(status, 200);
}
