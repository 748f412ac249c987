//! Secrets: encrypted at rest, masked on read, kept across a masked PUT,
//! never logged, and a wrong key or tampered data is refused.

use floh_e2e::{Server, ServerSettings};
use serde_json::{Value, json};

use crate::crm;

#[tokio::test]
async fn the_secret_is_nowhere_in_the_database_or_the_logs_and_reads_are_masked() {
    let (crm_url, _) = crm::start().await;
    let data = tempfile::tempdir().expect("data dir");
    // A directory the server creates itself, so its permissions are Floh's.
    let mut server = Server::start(&data.path().join("data"));
    let api = server.admin();
    let (status, created) = api
        .post("/api/connectors", crm::definition("my-crm", &crm_url))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["config"],
        json!({"baseUrl": crm_url, "apiKey": "***"})
    );

    // A script that logs the key gets the log back masked.
    let mut leaky = crm::definition("leaky", &crm_url);
    leaky["scriptSource"] = json!(
        "function test() { floh.log.info('testing with key ' + floh.config.apiKey); return { success: true }; }"
    );
    assert_eq!(api.post("/api/connectors", leaky).await.0, 201);
    let (_, tested) = api.post("/api/connectors/leaky/test", json!({})).await;
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(tested["logs"][0]["message"], "testing with key ***");

    // Sending the mask back keeps the stored secret (the key still works).
    let (_, mut read) = api.get("/api/connectors/my-crm").await;
    assert_eq!(read["config"]["apiKey"], "***");
    read["config"]["baseUrl"] = json!(crm_url);
    let (status, updated) = api
        .put(
            "/api/connectors/my-crm",
            json!({"config": read["config"], "description": "renamed"}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    let (_, result) = api
        .post(
            "/api/connectors/my-crm/execute",
            json!({"command": "listContacts"}),
        )
        .await;
    assert_eq!(
        result["success"], true,
        "the key was lost by the masked PUT: {result}"
    );

    server.stop();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &std::path::Path| {
            std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(
            mode(&data.path().join("data")),
            0o700,
            "the data directory is not private"
        );
        assert_eq!(
            mode(&data.path().join("data/floh.key")),
            0o600,
            "the key file is not private"
        );
    }
    let database = std::fs::read(data.path().join("data/floh.redb")).expect("database file");
    assert!(
        !contains(&database, crm::API_KEY.as_bytes()),
        "the API key is in the database file in clear"
    );
    assert!(
        !server.printed().contains(crm::API_KEY),
        "the API key was printed by the server"
    );
}

#[tokio::test]
async fn execution_results_show_headers_and_body_previews_with_secrets_masked() {
    let (crm_url, _) = crm::start().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    assert_eq!(
        api.post("/api/connectors", crm::definition("my-crm", &crm_url))
            .await
            .0,
        201
    );
    let (_, listed) = api
        .post(
            "/api/connectors/my-crm/execute",
            json!({"command": "listContacts"}),
        )
        .await;
    assert_eq!(listed["success"], true, "{listed}");
    let call = &listed["httpCalls"][0];
    assert_eq!(
        call["requestHeaders"],
        json!([{"name": "authorization", "value": "Bearer ***"}]),
        "the script's one header, masked by name: {call}"
    );
    assert!(
        call["responseHeaders"]
            .as_array()
            .expect("response headers")
            .contains(&json!({"name": "content-type", "value": "application/json"})),
        "{call}"
    );
    let body = r#"{"data":[{"id":"c1"},{"id":"c2"}],"total":2}"#;
    assert_eq!(
        call["responseBody"],
        json!({"size": body.len(), "text": body, "truncated": false, "binary": false})
    );
    assert!(
        call.get("requestBody").is_none(),
        "a GET sends no body: {call}"
    );

    // A script that puts the key in an ordinary header and in the body, and
    // gets it echoed back: masked by value everywhere.
    let mut chatty = crm::definition("chatty", &crm_url);
    chatty["scriptSource"] = json!(
        "function createContact() {\n\
           var resp = floh.http.post(floh.config.baseUrl + '/api/contacts',\n\
             JSON.stringify({ email: floh.config.apiKey, note: floh.params.email }),\n\
             { 'Authorization': 'Bearer ' + floh.config.apiKey, 'Content-Type': 'application/json',\n\
               'X-Client-Tag': 'tag-' + floh.config.apiKey });\n\
           return { success: resp.status < 400 };\n\
         }\n\
         function listContacts() { return { success: true }; }\n\
         function test() { return { success: true }; }"
    );
    assert_eq!(api.post("/api/connectors", chatty).await.0, 201);
    let (_, created) = api
        .post(
            "/api/connectors/chatty/execute",
            json!({"command": "createContact", "params": {"email": "ada@example.com", "firstName": "Ada", "lastName": "L"}}),
        )
        .await;
    assert_eq!(created["success"], true, "{created}");
    let call = &created["httpCalls"][0];
    assert_eq!(call["status"], 201, "{call}");
    let header = |name: &str| {
        call["requestHeaders"]
            .as_array()
            .and_then(|headers| headers.iter().find(|h| h["name"] == name))
            .map(|h| h["value"].clone())
    };
    assert_eq!(header("x-client-tag"), Some(json!("tag-***")), "{call}");
    assert_eq!(header("authorization"), Some(json!("Bearer ***")));
    assert_eq!(
        call["requestBody"]["text"],
        r#"{"email":"***","note":"ada@example.com"}"#
    );
    assert_eq!(call["responseBody"]["text"], r#"{"id":"new-***"}"#);
    let text = created.to_string();
    assert!(!text.contains(crm::API_KEY), "the key in clear: {text}");

    // The stored history (written in the background) keeps the same
    // masked record.
    let mut history = Value::Null;
    for _ in 0..100 {
        let (status, read) = api.get("/api/connectors/chatty/executions").await;
        assert_eq!(status, 200, "{read}");
        history = read;
        if history.as_array().is_some_and(|h| !h.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        history[0]["httpCalls"][0]["responseBody"]["text"],
        r#"{"id":"new-***"}"#
    );
    let stored = serde_json::to_string(&history).expect("json");
    assert!(
        stored.contains("tag-***") && !stored.contains(crm::API_KEY),
        "{stored}"
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_at_start_with_a_clear_message() {
    let data = stopped_server_with_a_connector().await;
    let wrong_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let settings = ServerSettings {
        secret_key: Some(wrong_key.into()),
        ..ServerSettings::default()
    };
    match Server::start_with(data.path(), settings) {
        Ok(_) => panic!("the server started with the wrong key"),
        Err(printed) => assert!(
            printed.contains("does not match"),
            "unclear refusal: {printed}"
        ),
    }
    std::fs::remove_file(data.path().join("floh.key")).expect("remove key");
    match Server::start_with(data.path(), ServerSettings::default()) {
        Ok(_) => panic!("the server started without its key"),
        Err(printed) => assert!(
            printed.contains("floh.key") && printed.contains("missing"),
            "unclear refusal: {printed}"
        ),
    }
}

#[tokio::test]
async fn a_tampered_sealed_config_is_refused() {
    let data = stopped_server_with_a_connector().await;
    // Flip one base64 character inside the sealed config, in place.
    let path = data.path().join("floh.redb");
    let mut database = std::fs::read(&path).expect("database");
    let marker = b"\"sealedConfig\":\"";
    let start = find(&database, marker).expect("sealed config in the file") + marker.len() + 40;
    database[start] = if database[start] == b'A' { b'B' } else { b'A' };
    std::fs::write(&path, &database).expect("write");
    // Either the database notices (page checksum) or the cipher does; the
    // secret never comes back and the failure is explicit.
    match Server::start_with(data.path(), ServerSettings::default()) {
        Err(printed) => assert!(!printed.is_empty()),
        Ok(server) => {
            let (status, body) = server
                .admin()
                .post(
                    "/api/connectors/my-crm/execute",
                    json!({"command": "listContacts"}),
                )
                .await;
            assert_eq!(status, 500, "{body}");
            assert_eq!(body["error"]["code"], "CONFIG_UNREADABLE", "{body}");
            let (status, body) = server.admin().get("/api/connectors/my-crm").await;
            assert_eq!(status, 500, "{body}");
        }
    }
}

/// A data directory holding one connector with a secret, its server stopped.
async fn stopped_server_with_a_connector() -> tempfile::TempDir {
    let data = tempfile::tempdir().expect("data dir");
    let mut server = Server::start(data.path());
    let definition = crm::definition("my-crm", "https://crm.example.com");
    let (status, _) = server.admin().post("/api/connectors", definition).await;
    assert_eq!(status, 201);
    server.stop();
    data
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}
