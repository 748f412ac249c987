//! Online backup under a write burst, then restore: every write
//! acknowledged before the backup began is there, and the restored server
//! starts and executes. A wrong or missing key, a non-empty directory and a
//! file that is not a backup are refused before anything is written.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use floh_e2e::{ADMIN_TOKEN, Api, Server, floh_binary};

use super::{create_connectors, floh_local, lists_contacts};
use crate::crm;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_a_write_burst_restores_every_acknowledged_write() {
    let (crm_url, _) = crm::start().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();
    create_connectors(&api, "base", 5, &crm_url).await;

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let (api, acknowledged, stop, crm_url) = (
                api.clone(),
                acknowledged.clone(),
                stop.clone(),
                crm_url.clone(),
            );
            tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let name = format!("burst-{writer}-{n}");
                    let (status, _) = api
                        .post("/api/connectors", crm::definition(&name, &crm_url))
                        .await;
                    if status == 201 {
                        acknowledged.lock().expect("lock").push(name);
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().expect("lock").len() < 30 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Everything acknowledged up to here must be in the backup.
    let before: Vec<String> = acknowledged.lock().expect("lock").clone();
    let work = tempfile::tempdir().expect("work dir");
    let file = work.path().join("floh.backup");
    let backup = {
        let (url, file) = (server.url.clone(), file.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(floh_binary())
                .args(["backup"])
                .arg(&file)
                .env("FLOH_SERVER", url)
                .env("FLOH_TOKEN", ADMIN_TOKEN)
                .output()
                .expect("run floh backup")
        })
        .await
        .expect("backup task")
    };
    let during = acknowledged.lock().expect("lock").len();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("writer");
    }
    let stderr = String::from_utf8_lossy(&backup.stderr);
    assert!(backup.status.success(), "{stderr}");
    assert!(
        stderr.contains("SECRET KEY IS NOT IN THIS BACKUP"),
        "{stderr}"
    );
    assert!(during > before.len(), "writes went on while the backup ran");
    let bytes = std::fs::read(&file).expect("backup file");
    assert!(
        !String::from_utf8_lossy(&bytes).contains(crm::API_KEY),
        "the backup holds sealed configs only"
    );

    // The wrong key: refused, nothing written.
    let wrong_key = work.path().join("wrong.key");
    std::fs::write(
        &wrong_key,
        base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    )
    .expect("wrong key");
    let refused_dir = work.path().join("refused");
    let (ok, _, stderr) = floh_local(
        &[
            &"restore",
            &file,
            &"--data-dir",
            &refused_dir,
            &"--key-file",
            &wrong_key,
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("is not the one this backup was sealed with"),
        "{stderr}"
    );
    assert!(!refused_dir.join("floh.redb").exists());
    // No key at all.
    let (ok, _, stderr) = floh_local(&[&"restore", &file, &"--data-dir", &refused_dir], &[]);
    assert!(!ok);
    assert!(stderr.contains("--key-file"), "{stderr}");
    // Not a backup: the live database.
    let (ok, _, stderr) = floh_local(
        &[
            &"restore",
            &data.path().join("floh.key"),
            &"--data-dir",
            &refused_dir,
            &"--key-file",
            &data.path().join("floh.key"),
        ],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("not a readable Floh backup"), "{stderr}");
    // A directory that holds something.
    let (ok, _, stderr) = floh_local(
        &[
            &"restore",
            &file,
            &"--data-dir",
            &data.path(),
            &"--key-file",
            &data.path().join("floh.key"),
        ],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("not empty"), "{stderr}");

    // The right key.
    let restored_dir = work.path().join("restored");
    let (ok, stdout, stderr) = floh_local(
        &[
            &"restore",
            &file,
            &"--data-dir",
            &restored_dir,
            &"--key-file",
            &data.path().join("floh.key"),
        ],
        &[],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("restored"), "{stdout}");
    drop(server);
    let restored = Server::start(&restored_dir);
    let api = Api::new(&restored.url, Some(ADMIN_TOKEN));
    let (status, listed) = api.get("/api/connectors").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let lost: Vec<&String> = before
        .iter()
        .filter(|n| !names.contains(&n.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged before the backup, missing after restore: {lost:?}"
    );
    assert!(names.len() <= 5 + during, "no write appears twice");
    assert!(
        lists_contacts(&api, "base-0").await,
        "the restored server executes"
    );
    assert!(lists_contacts(&api, &before[before.len() - 1]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_take_backups() {
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let (status, issued) = server
        .admin()
        .post(
            "/api/tokens",
            serde_json::json!({"name": "runner", "role": "executor"}),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let executor = Api::new(&server.url, issued["token"].as_str());
    let (status, body) = executor.post("/api/backup", serde_json::json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    let (status, _) = executor
        .post("/api/keys/rotate", serde_json::json!({}))
        .await;
    assert_eq!(status, 403);
    let _ = create_connectors;
}
