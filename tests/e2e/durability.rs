//! `kill -9` during a burst of creates loses no acknowledged write.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use floh_e2e::Server;

use crate::crm;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_of_creates_loses_no_acknowledged_write() {
    let data = tempfile::tempdir().expect("data dir");
    let mut server = Server::start(data.path());
    let api = server.admin();
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let (api, acknowledged) = (api.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let name = format!("burst-{writer}-{n}");
                    let definition = crm::definition(&name, "https://crm.example.com");
                    let response = tokio::time::timeout(
                        Duration::from_secs(5),
                        api.post("/api/connectors", definition),
                    )
                    .await;
                    match response {
                        Ok((201, _)) => acknowledged.lock().expect("lock").push(name),
                        _ => break,
                    }
                }
            })
        })
        .collect();
    // Let the burst build up, then pull the plug.
    while acknowledged.lock().expect("lock").len() < 40 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    for writer in writers {
        let _ = writer.await;
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    let server = Server::start(data.path());
    let (status, listed) = server.admin().get("/api/connectors").await;
    assert_eq!(status, 200);
    let stored: Vec<String> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|name| !stored.contains(name))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged creates were lost: {lost:?}",
        lost.len()
    );
}
