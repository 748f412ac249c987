//! Key rotation: rotate, re-wrap, restart, retire; and a rotation whose
//! re-wrap a `kill -9` interrupts resumes at the next start.

use std::time::Duration;

use floh_e2e::{Server, ServerSettings, assert_error, eventually, floh_cli};

use super::{create_connectors, key_file_versions, key_status, lists_contacts, sealed_by};
use crate::crm;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_re_wraps_everything_survives_a_restart_and_the_old_key_retires() {
    let (crm_url, _) = crm::start().await;
    let data = tempfile::tempdir().expect("data dir");
    let mut server = Server::start(data.path());
    let api = server.admin();
    create_connectors(&api, "rot", 20, &crm_url).await;
    let before = key_status(&api).await;
    assert_eq!(before["activeVersion"], 1);
    assert_eq!(sealed_by(&before, 1), Some(20));

    let (ok, rotated, stderr) = floh_cli(&server, &["key", "rotate"]);
    assert!(ok, "{stderr}");
    assert_eq!(rotated["activeVersion"], 2);
    assert_eq!(
        key_file_versions(data.path()),
        [1, 2],
        "the key file holds the new key"
    );
    let done = eventually(Duration::from_secs(20), || async {
        let status = key_status(&api).await;
        (sealed_by(&status, 1) == Some(0) && status["rewrap"]["running"] == false).then_some(status)
    })
    .await
    .expect("the re-wrap finishes");
    assert_eq!(sealed_by(&done, 2), Some(20), "{done}");
    assert_eq!(done["rewrap"]["remaining"], 0);
    assert!(done["rewrap"]["rewrapped"].as_u64() >= Some(20), "{done}");

    // A connector created now is sealed with version 2 at once.
    create_connectors(&api, "after", 1, &crm_url).await;
    assert_eq!(sealed_by(&key_status(&api).await, 2), Some(21));

    server.restart();
    let api = server.admin();
    assert!(
        lists_contacts(&api, "rot-0").await,
        "a re-wrapped config opens after a restart"
    );
    assert!(lists_contacts(&api, "after-0").await);

    assert_error(
        api.send(reqwest::Method::DELETE, "/api/keys/2", None).await,
        409,
        "KEY_ACTIVE",
        "rotate",
    );
    assert_error(
        api.send(reqwest::Method::DELETE, "/api/keys/9", None).await,
        404,
        "KEY_NOT_FOUND",
        "9",
    );
    assert_error(
        api.send(reqwest::Method::DELETE, "/api/keys/one", None)
            .await,
        400,
        "INVALID_PATH",
        "one",
    );
    let (ok, retired, stderr) = floh_cli(&server, &["key", "retire", "1"]);
    assert!(ok, "{stderr}");
    assert_eq!(retired["retired"], serde_json::json!([1]));
    assert_eq!(
        key_file_versions(data.path()),
        [2],
        "version 1 left the key file"
    );

    server.restart();
    let api = server.admin();
    assert!(
        lists_contacts(&api, "rot-19").await,
        "nothing needed version 1"
    );
    let (ok, rotated, _) = floh_cli(&server, &["key", "rotate"]);
    assert!(ok);
    assert_eq!(
        rotated["activeVersion"], 3,
        "a retired number is never reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_wrap_interrupted_by_kill_9_resumes_at_the_next_start_and_completes() {
    let (crm_url, _) = crm::start().await;
    let data = tempfile::tempdir().expect("data dir");
    // A slow re-wrap: 60 values, 3 per batch, 150 ms apart (about 3 s).
    let slow = ServerSettings {
        extra_args: ["--rewrap-batch", "3", "--rewrap-pause-ms", "150"]
            .map(String::from)
            .to_vec(),
        ..ServerSettings::default()
    };
    let mut server = Server::start_with(data.path(), slow).expect("server starts");
    let api = server.admin();
    create_connectors(&api, "resume", 60, &crm_url).await;
    let (status, _) = api.post("/api/keys/rotate", serde_json::json!({})).await;
    assert_eq!(status, 200);
    let partway = eventually(Duration::from_secs(20), || async {
        let left = sealed_by(&key_status(&api).await, 1)?;
        (left > 0 && left < 60).then_some(left)
    })
    .await
    .expect("the re-wrap makes progress");
    assert_error(
        api.send(reqwest::Method::DELETE, "/api/keys/1", None).await,
        409,
        "KEY_IN_USE",
        "still seals",
    );
    server.kill();

    let mut server = Server::start(data.path());
    let api = server.admin();
    let finished = eventually(Duration::from_secs(20), || async {
        let status = key_status(&api).await;
        (sealed_by(&status, 1) == Some(0)).then_some(status)
    })
    .await
    .expect("the re-wrap resumes and completes after the restart");
    assert_eq!(sealed_by(&finished, 2), Some(60));
    let resumed = finished["rewrap"]["rewrapped"].as_u64().unwrap_or(0);
    assert!(
        resumed > 0 && resumed <= partway,
        "the new process moved what was left ({resumed} of {partway}): {finished}"
    );
    for n in [0, 29, 59] {
        assert!(
            lists_contacts(&api, &format!("resume-{n}")).await,
            "resume-{n}"
        );
    }
    server.stop();
}
