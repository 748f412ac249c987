//! The rest of the surface: HTTPS, the CLI, metrics and the OpenAPI document.

use std::process::Command;

use floh_e2e::{ADMIN_TOKEN, Server, ServerSettings, TestCertificate, floh_binary, floh_cli};
use serde_json::{Value, json};

use crate::crm;

#[tokio::test]
async fn the_server_speaks_https_with_a_given_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let certificate = TestCertificate::create(dir.path());
    let data = dir.path().join("data");
    let settings = ServerSettings {
        tls: Some((certificate.cert.clone(), certificate.key.clone())),
        ..ServerSettings::default()
    };
    let server = Server::start_with(&data, settings).expect("https server");
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let client = certificate.client();
    let response = client
        .get(format!("{}/api/connectors", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("https request");
    assert_eq!(response.status(), 200);
    // A client that does not trust the certificate is refused by TLS itself.
    let untrusting = reqwest::Client::builder().build().expect("client");
    assert!(
        untrusting
            .get(format!("{}/api/health", server.url))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_cli_manages_and_runs_connectors() {
    let (crm_url, _) = crm::start().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let definition = data.path().join("my-crm.json");
    std::fs::write(&definition, crm::definition("my-crm", &crm_url).to_string())
        .expect("definition file");
    let server_ref = &server;
    let definition = definition.to_string_lossy().to_string();
    let run = move |args: Vec<String>| async move {
        tokio::task::spawn_blocking({
            let url = server_ref.url.clone();
            move || {
                let output = Command::new(floh_binary())
                    .args(&args)
                    .env("FLOH_SERVER", url)
                    .env("FLOH_TOKEN", ADMIN_TOKEN)
                    .env("FLOH_OUTPUT", "json")
                    .output()
                    .expect("run floh");
                let stdout = String::from_utf8_lossy(&output.stdout).to_string();
                (
                    output.status.success(),
                    serde_json::from_str::<Value>(&stdout).unwrap_or(Value::Null),
                    String::from_utf8_lossy(&output.stderr).to_string(),
                )
            }
        })
        .await
        .expect("cli")
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (ok, created, stderr) = run(args(&["connector", "create", "-f", &definition])).await;
    assert!(ok, "{stderr}");
    assert_eq!(created["config"]["apiKey"], "***");
    let (ok, listed, _) = run(args(&["connector", "list"])).await;
    assert!(ok);
    assert_eq!(listed[0]["name"], "my-crm");
    let (ok, executed, stderr) = run(args(&[
        "exec",
        "my-crm",
        "listContacts",
        "--params",
        r#"{"limit": 3}"#,
    ]))
    .await;
    assert!(ok, "{stderr}");
    assert_eq!(executed["data"]["total"], 2);
    let (ok, tested, _) = run(args(&["test", "my-crm"])).await;
    assert!(ok && tested["success"] == json!(true));
    let (ok, token, _) = run(args(&[
        "token", "create", "--name", "ci", "--role", "executor",
    ]))
    .await;
    assert!(
        ok && token["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("floh_"))
    );
    let (ok, _, stderr) = run(args(&["exec", "my-crm", "nope"])).await;
    assert!(!ok && stderr.contains("UNKNOWN_COMMAND"), "{stderr}");
    let (ok, _, _) = run(args(&["connector", "delete", "my-crm"])).await;
    assert!(ok);
    let (ok, _, stderr) = floh_cli(&server, &["connector", "get", "my-crm"]);
    assert!(!ok && stderr.contains("404"), "{stderr}");
}

// Multi-threaded: the CLI runs synchronously while the upstream it reaches
// is served by this test's runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_tables_for_people_and_one_line_errors_with_exit_codes() {
    let (crm_url, _) = crm::start().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let (status, created) = api
        .post("/api/connectors", crm::definition("my-crm", &crm_url))
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, created) = api
        .post(
            "/api/connectors",
            json!({"name": "flaky", "executionModel": "script",
                   "scriptSource": "function fail() { return { success: false, error: 'upstream said no' }; }"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");

    let people = |args: &[&str]| floh_e2e::floh_cli_for_people(&server, args);
    let (code, listed, stderr) = people(&["connector", "list"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<Vec<&str>> = listed
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["NAME", "MODEL", "TYPE", "COMMANDS", "AGENT", "LAST"],
        "{listed}"
    );
    assert_eq!(lines[1][..4], ["flaky", "script", "flaky", "0"], "{listed}");
    assert_eq!(
        lines[2][..4],
        ["my-crm", "script", "my-crm", "3"],
        "{listed}"
    );
    assert!(!listed.contains("function"), "no script sources: {listed}");

    let (code, shown, _) = people(&["connector", "get", "my-crm"]);
    assert_eq!(code, 0);
    assert!(
        shown
            .lines()
            .any(|l| l.split_whitespace().eq(["apiKey", "***"])),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.trim_start().starts_with("listContacts")),
        "{shown}"
    );

    let (code, ran, stderr) = people(&["exec", "my-crm", "listContacts"]);
    assert_eq!(code, 0, "{ran}{stderr}");
    assert!(ran.starts_with("ok in "), "{ran}");
    assert!(
        ran.contains("/api/contacts"),
        "the HTTP call is listed: {ran}"
    );

    let (code, ran, stderr) = people(&["exec", "flaky", "fail"]);
    assert_eq!(code, 3, "a command that ran and failed: {stderr}");
    assert!(ran.contains("upstream said no"), "{ran}");

    // LAST shows each connector's newest outcome from the listing's
    // `lastExecution` (histories are written in the background).
    let last_column = floh_e2e::eventually(std::time::Duration::from_secs(10), || async {
        let (_, listed, _) = people(&["connector", "list"]);
        let lasts: Vec<String> = listed
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().nth(5).unwrap_or("-").to_string())
            .collect();
        (lasts.iter().all(|last| last != "-")).then_some(lasts)
    })
    .await
    .expect("both connectors show a last execution");
    assert_eq!(last_column, ["failed", "ok"]);

    let (code, _, stderr) = people(&["exec", "my-crm", "nope"]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("UNKNOWN_COMMAND"),
        "{stderr}"
    );

    let (code, _, stderr) = people(&["connector", "list", "--output", "yaml"]);
    assert_eq!(code, 2, "bad usage: {stderr}");

    let (code, types, _) = people(&["connector", "types"]);
    assert_eq!(code, 0);
    assert!(types.lines().any(|l| l.starts_with("authifi ")), "{types}");
    let (code, plugins, _) = people(&["plugin", "list"]);
    assert_eq!(code, 0);
    assert!(
        plugins.lines().any(|l| l.split_whitespace().take(3).eq([
            "shipped:authifi",
            "loaded",
            "authifi"
        ])),
        "{plugins}"
    );
}

#[tokio::test]
async fn metrics_count_executions_and_the_api_describes_itself() {
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
    for _ in 0..2 {
        api.post(
            "/api/connectors/my-crm/execute",
            json!({"command": "listContacts"}),
        )
        .await;
    }
    let (status, metrics) = floh_e2e::Api::new(&server.url, None).get("/metrics").await;
    assert_eq!(status, 200);
    let text = metrics.as_str().expect("text exposition");
    assert!(
        text.contains(
            r#"floh_executions_total{connector="my-crm",model="script",outcome="success"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains("floh_execution_duration_seconds_bucket"),
        "{text}"
    );
    let (status, document) = floh_e2e::Api::new(&server.url, None)
        .get("/api/openapi.json")
        .await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/api/connectors/{id}/execute"]["post"].is_object());
}

#[tokio::test]
async fn the_readme_tour_fixture_is_accepted_as_shipped() {
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/my-crm.json")).expect("fixture is JSON");
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let (status, created) = server.admin().post("/api/connectors", fixture).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["config"]["apiKey"], "***");
    let commands = created["configSchema"]["commands"]
        .as_object()
        .expect("commands");
    assert_eq!(
        commands.keys().collect::<Vec<_>>(),
        ["createContact", "listContacts", "test"]
    );
}
