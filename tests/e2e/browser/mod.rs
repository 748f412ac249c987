//! The web UI in a real browser: Debian's Chromium driven by npm
//! `playwright-core`, with `axe-core`, against the real `floh` binary.
//!
//! A test group is one `floh serve` ([`BrowserGroup`]), seeded through the
//! API, that runs one or more scenario scripts from `tests/browser/scenarios/`
//! (see `tests/browser/harness.mjs` for how to write one). Every scenario
//! checks every response body against the group's secret values, runs axe on
//! every page it visits, and writes a non-blank screenshot per page to
//! `<target>/browser-screenshots/`.
//!
//! To add scenarios: write `tests/browser/scenarios/NAME.mjs`, then either
//! call `group.run("NAME", data)` from an existing group below or add a
//! module beside `pages.rs` with its own `#[tokio::test]` group (declare it
//! in this file's `mod` list).
//!
//! Needs `just e2e-deps` (npm packages) and `/usr/bin/chromium`; skipped with
//! a note when missing, required when `FLOH_REQUIRE_NPM_TESTS` is set (CI).

mod authoring;
mod oauth;
mod pages;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use floh_e2e::{ADMIN_TOKEN, Api, Server};
use serde_json::{Value, json};

/// Where Debian's Chromium lives.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The longest one scenario may take.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The npm packages and Chromium, or `None` (with a note) when missing and
/// not required.
fn browser_available() -> Option<PathBuf> {
    let modules = tests_dir().join("node_modules");
    let ready = modules.join("playwright-core/package.json").exists()
        && modules.join("axe-core/axe.min.js").exists()
        && Path::new(CHROMIUM).exists();
    if ready {
        return Some(modules);
    }
    let message = "browser tests need playwright-core and axe-core (`just e2e-deps`) \
                   and Chromium (`apt-get install chromium`)";
    assert!(
        std::env::var_os("FLOH_REQUIRE_NPM_TESTS").is_none(),
        "{message}"
    );
    eprintln!("skipping: {message}");
    None
}

/// Where screenshots go.
pub fn screenshots_dir() -> PathBuf {
    floh_e2e::target_dir().join("browser-screenshots")
}

/// One `floh serve` for a group of browser scenarios.
pub struct BrowserGroup {
    /// The server.
    pub server: Server,
    /// An admin API client (to seed and inspect).
    pub api: Api,
    /// The executor token created for the group.
    pub executor_token: String,
    secrets: Vec<String>,
    modules: PathBuf,
    _data: tempfile::TempDir,
}

impl BrowserGroup {
    /// Start a server with an admin and an executor token, or `None` when
    /// the browser tooling is missing (and not required).
    pub async fn start() -> Option<Self> {
        let modules = browser_available()?;
        let data = tempfile::tempdir().expect("data dir");
        let server = Server::start(data.path());
        let api = server.admin();
        let (status, issued) = api
            .post(
                "/api/tokens",
                json!({"name": "browser-executor", "role": "executor"}),
            )
            .await;
        assert_eq!(status, 201, "{issued}");
        let executor_token = issued["token"].as_str().expect("token").to_string();
        Some(Self {
            secrets: vec![ADMIN_TOKEN.to_string(), executor_token.clone()],
            server,
            api,
            executor_token,
            modules,
            _data: data,
        })
    }

    /// A value that must never appear in anything the browser receives.
    pub fn secret(&mut self, value: &str) {
        self.secrets.push(value.to_string());
    }

    /// Run `tests/browser/scenarios/NAME.mjs` with `data` (the scenario's
    /// `t.data`); panics with the scenario's output when it fails.
    pub async fn run(&self, name: &str, data: Value) {
        let script = tests_dir().join(format!("browser/scenarios/{name}.mjs"));
        assert!(script.exists(), "no scenario {}", script.display());
        let mut command = Command::new("node");
        command
            .arg(tests_dir().join("browser/run.mjs"))
            .arg(&script)
            .env("FLOH_URL", &self.server.url)
            .env("FLOH_SHOTS_DIR", screenshots_dir())
            .env("FLOH_NODE_MODULES", &self.modules)
            .env("FLOH_CHROMIUM", CHROMIUM)
            .env("FLOH_SECRETS", json!(self.secrets).to_string())
            .env(
                "FLOH_TOKENS",
                json!({"admin": ADMIN_TOKEN, "executor": self.executor_token}).to_string(),
            )
            .env("FLOH_DATA", data.to_string());
        let name = name.to_string();
        let output = tokio::task::spawn_blocking(move || run_with_limit(command, SCENARIO_LIMIT))
            .await
            .expect("scenario task");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        eprintln!("{printed}");
        assert!(
            output.status.success(),
            "browser scenario {name} failed:\n{printed}"
        );
        // The server's own output must not hold a secret either.
        let server_output = self.server.printed();
        for secret in &self.secrets {
            assert!(
                !server_output.contains(secret.as_str()),
                "a secret value appeared in the server's output"
            );
        }
    }
}

/// Run `command`, killing it after `limit`.
fn run_with_limit(mut command: Command, limit: Duration) -> std::process::Output {
    use std::io::Read as _;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start node");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stdout.read_to_end(&mut buffer);
        buffer
    });
    let err = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = stderr.read_to_end(&mut buffer);
        buffer
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}
