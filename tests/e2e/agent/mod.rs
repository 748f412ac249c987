//! The on-premise agent: the real server and real `floh agent` processes
//! (or a hand-written WebSocket client, where the test needs to misbehave
//! or look inside the protocol).

mod process;
mod socket;
mod tokens;

use std::time::Duration;

use floh_e2e::{Api, eventually};
use serde_json::{Value, json};

/// Lets an agent reach the loopback upstreams tests run (a stand-in for the
/// private network; the server's own default policy refuses loopback).
pub const LOOPBACK: [&str; 2] = ["--allow-network", "127.0.0.0/8"];

/// Issue an agent token named `name`.
pub async fn issue_token(api: &Api, name: &str, expires_in_seconds: Option<u64>) -> String {
    let mut body = json!({"name": name});
    if let Some(seconds) = expires_in_seconds {
        body["expiresInSeconds"] = json!(seconds);
    }
    let (status, issued) = api.post("/api/agents/tokens", body).await;
    assert_eq!(status, 201, "{issued}");
    issued["token"].as_str().expect("token").to_string()
}

/// `GET /api/agents`, as an array.
pub async fn agents(api: &Api) -> Vec<Value> {
    let (status, listed) = api.get("/api/agents").await;
    assert_eq!(status, 200, "{listed}");
    listed.as_array().expect("array").clone()
}

/// Wait until `count` agents are connected.
pub async fn wait_connected(api: &Api, count: usize) -> Vec<Value> {
    eventually(Duration::from_secs(30), || async {
        let listed = agents(api).await;
        let connected = listed.iter().filter(|a| a["status"] == "connected").count();
        (connected == count).then_some(listed)
    })
    .await
    .unwrap_or_else(|| panic!("{count} agents never connected"))
}

/// A script connector that fetches `floh.params.path` from its `baseUrl`,
/// sending the secret `apiKey` as a bearer token.
pub fn fetcher(name: &str, base_url: &str, api_key: &str) -> Value {
    json!({
        "name": name,
        "executionModel": "script",
        "scriptSource": "function fetch() {\n  var resp = floh.http.get(floh.config.baseUrl + floh.params.path, {'Authorization': 'Bearer ' + floh.config.apiKey});\n  floh.log.info('fetched ' + floh.params.path + ' with ' + floh.config.apiKey);\n  return { success: resp.status < 400, data: resp.body };\n}\nfunction test() { return { success: true }; }",
        "configSchema": {
            "connectionConfig": {
                "baseUrl": {"type": "string", "required": true},
                "apiKey": {"type": "string", "required": true, "secret": true}
            },
            "commands": {
                "fetch": {"params": ["path"], "paramSchema": {"path": {"type": "string", "required": true}}},
                "test": {"params": []}
            }
        },
        "config": {"baseUrl": base_url, "apiKey": api_key}
    })
}
