//! The operator's tools at scale: a backup of 10,000 connectors (time and
//! size), the checked restore of it, and the re-wrap after a key rotation
//! (values per second), on the service in this process.
//!
//! Run with `cargo bench -p floh --bench operations` (or `just bench-ops`);
//! `FLOH_BENCH_CONNECTORS` changes the count.

use std::time::{Duration, Instant};

use floh::model::ConnectorDefinition;
use floh::server::{ServeOptions, build};
use serde_json::json;

const SCRIPT: &str = "function get() { var r = floh.http.get(floh.config.baseUrl + '/items', \
    {'Authorization': 'Bearer ' + floh.config.apiKey}); return { success: r.status < 400, data: r.body }; }";

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let count: usize = std::env::var("FLOH_BENCH_CONNECTORS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let work = std::env::temp_dir().join(format!("floh-ops-bench-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let data = work.join("data");
        let mut options = ServeOptions::new("127.0.0.1:0".parse().expect("addr"), data.clone());
        options.plugins_dir = Some(work.join("plugins"));
        let app = build(&options).await.expect("app");
        let service = app.state.service.clone();

        let started = Instant::now();
        for n in 0..count {
            let definition: ConnectorDefinition = serde_json::from_value(json!({
                "name": format!("bench-{n:05}"),
                "executionModel": "script",
                "scriptSource": SCRIPT,
                "configSchema": {"connectionConfig": {
                    "baseUrl": {"type": "string"},
                    "apiKey": {"type": "string", "secret": true}}},
                "config": {"baseUrl": "https://api.example.com", "apiKey": format!("sk-{n:05}-0123456789abcdef")}
            }))
            .expect("definition");
            service.create(definition).await.expect("create");
        }
        println!(
            "created {count} connectors in {:.1} s",
            started.elapsed().as_secs_f64()
        );

        let started = Instant::now();
        let backup = service.backup().await.expect("backup");
        let took = started.elapsed();
        println!(
            "backup: {} connectors, {:.1} MiB, {:.2} s (snapshot copied into a new database file)",
            backup.summary.connectors,
            backup.size as f64 / (1024.0 * 1024.0),
            took.as_secs_f64()
        );
        let file = work.join("floh.backup");
        let mut out = std::fs::File::create(&file).expect("backup file");
        let mut source = backup.file;
        std::io::copy(&mut source, &mut out).expect("write backup");
        drop(out);

        let started = Instant::now();
        let restored = floh::restore::restore(
            &file,
            &work.join("restored"),
            floh::restore::RestoreKeys::File(data.join("floh.key")),
        )
        .await
        .expect("restore");
        println!(
            "restore: {} connectors checked and placed in {:.2} s",
            restored.summary.connectors,
            started.elapsed().as_secs_f64()
        );

        let started = Instant::now();
        service.rotate_key().await.expect("rotate");
        loop {
            let status = service.key_status().await.expect("status");
            if status.rewrap.remaining == 0 && !status.rewrap.running {
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "re-wrap: {} values moved to key version {} in {seconds:.2} s ({:.0} values/s, batch {} with a {} ms pause)",
                    status.rewrap.rewrapped,
                    status.active_version,
                    status.rewrap.rewrapped as f64 / seconds,
                    floh::service::RewrapPace::default().batch,
                    floh::service::RewrapPace::default().pause.as_millis(),
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let _ = std::fs::remove_dir_all(&work);
}
