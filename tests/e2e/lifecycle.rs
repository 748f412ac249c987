//! Create → execute → restart → still there, still executes.

use floh_e2e::Server;
use serde_json::json;

use crate::crm;

#[tokio::test]
async fn a_connector_and_its_history_survive_a_restart() {
    let (crm_url, seen) = crm::start().await;
    let data = tempfile::tempdir().expect("data dir");
    let mut server = Server::start(data.path());
    let api = server.admin();

    let (status, created) = api
        .post("/api/connectors", crm::definition("my-crm", &crm_url))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();

    let (status, result) = api
        .post(
            "/api/connectors/my-crm/execute",
            json!({"command": "listContacts"}),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert_eq!(result["data"]["total"], 2);
    assert_eq!(
        seen.lock().expect("lock").last().map(String::as_str),
        Some("limit=50&offset=0")
    );

    let (status, result) = api
        .post(&format!("/api/connectors/{id}/test"), json!({}))
        .await;
    assert_eq!(
        (status, &result["success"]),
        (200, &json!(true)),
        "{result}"
    );

    server.restart();
    let api = server.admin();
    let (status, found) = api.get("/api/connectors/my-crm").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["id"], id.as_str());
    let (_, history) = api.get("/api/connectors/my-crm/executions").await;
    let commands: Vec<_> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["command"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(commands, ["test", "listContacts"]);

    let params = json!({"command": "listContacts", "params": {"limit": 5, "offset": 10}});
    let (status, result) = api.post("/api/connectors/my-crm/execute", params).await;
    assert_eq!(
        (status, &result["success"]),
        (200, &json!(true)),
        "{result}"
    );
    assert_eq!(
        seen.lock().expect("lock").last().map(String::as_str),
        Some("limit=5&offset=10")
    );

    let (status, _) = api
        .send(reqwest::Method::DELETE, "/api/connectors/my-crm", None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = api.get("/api/connectors/my-crm").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn listing_filters_by_category_tag_model_and_text() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let mut crm = crm::definition("crm-a", "https://crm.example.com");
    let (status, body) = api.post("/api/connectors", crm.clone()).await;
    assert_eq!(status, 201, "{body}");
    crm["name"] = json!("hr-b");
    crm["category"] = json!("hr");
    crm["tags"] = json!(["people"]);
    crm["description"] = json!("Human resources");
    assert_eq!(api.post("/api/connectors", crm).await.0, 201);
    let names = |body: serde_json::Value| -> Vec<String> {
        body.as_array()
            .expect("list")
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names(api.get("/api/connectors").await.1), ["crm-a", "hr-b"]);
    assert_eq!(
        names(api.get("/api/connectors?category=hr").await.1),
        ["hr-b"]
    );
    assert_eq!(
        names(api.get("/api/connectors?tag=sales").await.1),
        ["crm-a"]
    );
    assert_eq!(
        names(api.get("/api/connectors?model=script&q=human").await.1),
        ["hr-b"]
    );
    assert_eq!(
        names(api.get("/api/connectors?model=external").await.1),
        Vec::<String>::new()
    );
    assert_eq!(api.get("/api/connectors?model=magic").await.0, 400);
}
