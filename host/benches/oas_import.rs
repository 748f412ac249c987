//! OpenAPI import at scale: GitHub's REST API description (`@octokit/openapi`
//! on npm, ~13 MB, ~1,000 operations) into a draft, and the generated script
//! compiled in the engine.
//!
//! `just bench-oas` installs the package; or set `FLOH_GITHUB_SPEC` to the
//! path of `api.github.com.json`.

use std::time::{Duration, Instant};

use floh::oas::{Selection, draft};
use floh::runtime::{ScriptEngine, ScriptEngineOptions};

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let default = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/node_modules/@octokit/openapi/generated/api.github.com.json"
    );
    let path = std::env::var("FLOH_GITHUB_SPEC").unwrap_or_else(|_| default.to_string());
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "{path} is missing: run `just bench-oas` (it installs @octokit/openapi) or set FLOH_GITHUB_SPEC"
        );
        return;
    };
    let mut timings = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let started = Instant::now();
        let spec: serde_json::Value = serde_json::from_str(&text).expect("GitHub's spec is JSON");
        let result = draft(spec, &Selection::default()).expect("draft");
        timings.push(started.elapsed());
        last = Some(result);
    }
    timings.sort();
    let result = last.expect("a draft");
    let commands = result
        .definition
        .config_schema
        .as_ref()
        .map_or(0, |s| s.commands.len());
    let source = result.definition.script_source.clone().unwrap_or_default();
    println!(
        "GitHub REST API ({:.1} MB): parse + draft median {:.0} ms (min {:.0} ms)",
        text.len() as f64 / 1e6,
        ms(timings[2]),
        ms(timings[0])
    );
    println!(
        "  {commands} commands, {} skipped, script {:.0} KiB",
        result.skipped.len(),
        source.len() as f64 / 1024.0
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let options = ScriptEngineOptions {
        cache_dir: Some(std::env::temp_dir().join("floh-bench-artefacts")),
        limits: floh::runtime::ExecutionLimits {
            max_source_bytes: 16 * 1024 * 1024,
            ..Default::default()
        },
        ..ScriptEngineOptions::default()
    };
    let engine = ScriptEngine::new(options).expect("engine");
    let started = Instant::now();
    let compiled = rt
        .block_on(engine.compile(&source))
        .expect("the generated script compiles");
    println!(
        "  compiled in {:.0} ms to {:.0} KiB of bytecode",
        ms(started.elapsed()),
        compiled.bytecode().len() as f64 / 1024.0
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
