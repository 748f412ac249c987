//! Real public specs, imported and executed against Prism (an OpenAPI mock
//! server that validates every request against the spec; with `--errors` a
//! violation is answered with an error, so a wrong request fails the
//! command). Needs the npm packages `just e2e-deps` installs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use floh_e2e::Server;
use serde_json::{Value, json};

pub(crate) fn npm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules")
}

/// The npm packages, or `None` (with a note) when they are not installed
/// and the environment does not require them (CI sets FLOH_REQUIRE_NPM_TESTS).
pub(crate) fn npm_packages() -> Option<PathBuf> {
    let dir = npm_dir();
    if dir.join(".bin/prism").exists() && dir.join("@readme/oas-examples").exists() {
        return Some(dir);
    }
    let message = "Prism and @readme/oas-examples are not installed: run `just e2e-deps`";
    assert!(
        std::env::var_os("FLOH_REQUIRE_NPM_TESTS").is_none(),
        "{message}"
    );
    eprintln!("skipping: {message}");
    None
}

pub(crate) struct Prism {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_prism(npm: &Path, spec: &Path) -> Prism {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(npm.join(".bin/prism"))
        .args([
            "mock",
            "--errors",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prism");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "prism did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Prism {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Import `spec`, create the connector against Prism, run each command.
async fn import_and_run(spec: &Path, name: &str, config: Value, commands: &[(&str, Value)]) {
    let Some(npm) = npm_packages() else { return };
    let prism = start_prism(&npm, spec);
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    let text = std::fs::read_to_string(spec).expect("spec");
    let (status, draft) = api
        .post("/api/connectors/parse-oas", json!({ "spec": text }))
        .await;
    assert_eq!(status, 200, "{draft}");
    let mut definition = draft["definition"].clone();
    definition["name"] = json!(name);
    let mut config = config;
    config["baseUrl"] = json!(prism.url);
    definition["config"] = config;
    let (status, created) = api.post("/api/connectors", definition).await;
    assert_eq!(status, 201, "{created}");
    for (command, params) in commands {
        let (status, result) = api
            .post(
                &format!("/api/connectors/{name}/execute"),
                json!({ "command": command, "params": params }),
            )
            .await;
        assert_eq!(status, 200, "{command}: {result}");
        assert_eq!(
            result["success"], true,
            "{command} was refused by Prism: {result}"
        );
    }
}

#[tokio::test]
async fn the_openapi_30_petstore_runs_against_a_validating_mock() {
    let spec = npm_dir().join("@readme/oas-examples/3.0/json/petstore.json");
    let order = json!({"id": 3, "petId": 1, "quantity": 2, "status": "placed", "complete": false});
    let user = json!({"id": 9, "username": "ada", "email": "ada@example.com"});
    import_and_run(
        &spec,
        "petstore",
        json!({ "apiKey": "special-key" }),
        &[
            ("getInventory", json!({})),
            ("getPetById", json!({ "petId": 1 })),
            ("placeOrder", order),
            ("getOrderById", json!({ "orderId": 3 })),
            ("createUser", user),
            (
                "loginUser",
                json!({ "username": "ada", "password": "secret" }),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn the_swagger_20_expanded_petstore_runs_against_a_validating_mock() {
    let spec = npm_dir().join("@readme/oas-examples/2.0/json/petstore-expanded.json");
    import_and_run(
        &spec,
        "petstore-expanded",
        json!({}),
        &[
            ("findPets", json!({ "tags": ["dog", "cat"], "limit": 5 })),
            ("addPet", json!({ "name": "Rex", "tag": "dog" })),
            ("findPetById", json!({ "id": 1 })),
        ],
    )
    .await;
}
