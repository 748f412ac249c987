//! The operator's tools against the real binary: secret-key rotation with
//! its background re-wrap, and online backup and restore.

mod backup;
mod keys;

use std::path::Path;
use std::process::Command;

use floh_e2e::{Api, floh_binary};
use serde_json::{Value, json};

use crate::crm;

/// Create `count` CRM connectors named `{prefix}-{n}` (each with a sealed
/// API key) pointed at `crm_url`.
pub(crate) async fn create_connectors(api: &Api, prefix: &str, count: usize, crm_url: &str) {
    for n in 0..count {
        let (status, body) = api
            .post(
                "/api/connectors",
                crm::definition(&format!("{prefix}-{n}"), crm_url),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

/// Execute `listContacts` of connector `name`: it succeeds only when the
/// sealed API key opened (the stand-in checks it).
pub(crate) async fn lists_contacts(api: &Api, name: &str) -> bool {
    let (status, body) = api
        .post(
            &format!("/api/connectors/{name}/execute"),
            json!({"command": "listContacts", "params": {}}),
        )
        .await;
    status == 200 && body["success"] == true
}

/// `GET /api/keys`.
pub(crate) async fn key_status(api: &Api) -> Value {
    let (status, body) = api.get("/api/keys").await;
    assert_eq!(status, 200, "{body}");
    body
}

/// How many values key `version` seals, per the status.
pub(crate) fn sealed_by(status: &Value, version: u64) -> Option<u64> {
    status["versions"]
        .as_array()?
        .iter()
        .find(|v| v["version"] == version)
        .and_then(|v| v["values"].as_u64())
}

/// Run `floh` locally (no server) with `args` and `env`: success, stdout
/// and stderr.
pub(crate) fn floh_local(
    args: &[&dyn AsRef<std::ffi::OsStr>],
    env: &[(&str, &str)],
) -> (bool, String, String) {
    let mut command = Command::new(floh_binary());
    command.args(args).env_remove("FLOH_SECRET_KEY");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run floh");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// The key file's version numbers.
pub(crate) fn key_file_versions(data_dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(data_dir.join("floh.key"))
        .expect("key file")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.split_once(':')?.0.parse().ok())
        .collect()
}
