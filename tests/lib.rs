//! Support for end-to-end tests: start the real `floh` binary on a free port
//! with its own data directory, and talk to its API.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

pub mod postgres;

/// The admin token every test server is started with.
pub const ADMIN_TOKEN: &str = "floh_e2e_admin_token_0123456789abcdef";

/// Assert an API error answer: its status, its `error.code`, and a message
/// that mentions `mentions`.
pub fn assert_error(response: (u16, Value), status: u16, code: &str, mentions: &str) {
    let (actual, body) = response;
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(mentions),
        "`{message}` does not mention `{mentions}`"
    );
}

/// Cargo sets `CARGO_MANIFEST_DIR` (and friends) for the test process; a
/// build started from it must not see them, or build scripts that watch
/// them (ring's) look changed, and the outer `cargo test` and this inner
/// build rebuild half the dependencies for each other every run.
fn same_environment_as_the_outer_build(build: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(|name| name == "CARGO_MANIFEST_DIR" || name.starts_with("CARGO_PKG_"))
        {
            build.env_remove(name);
        }
    }
}

/// The `floh` binary (or `FLOH_BIN`). The first call in a test process runs
/// `cargo build` for it, so the tests never run against a stale binary even
/// when only this package is tested.
pub fn floh_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Ok(path) = std::env::var("FLOH_BIN") {
                return PathBuf::from(path);
            }
            // target/<profile>/deps/e2e-… → target/<profile>/floh
            let exe = std::env::current_exe().expect("test executable path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target directory")
                .to_path_buf();
            let mut build = Command::new(env!("CARGO"));
            build.args(["build", "--quiet", "-p", "floh", "--bin", "floh"]);
            same_environment_as_the_outer_build(&mut build);
            if profile_dir
                .file_name()
                .is_some_and(|name| name == "release")
            {
                build.arg("--release");
            }
            if let Some(target_dir) = profile_dir.parent() {
                build.env("CARGO_TARGET_DIR", target_dir);
            }
            let status = build.status().expect("run cargo build for the floh binary");
            assert!(status.success(), "building the floh binary failed");
            profile_dir.join("floh")
        })
        .clone()
}

/// The cargo target directory the tests were built in.
pub fn target_dir() -> PathBuf {
    floh_binary()
        .parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf()
}

/// Build the guest-SDK crate `package` (with `features`) for
/// `wasm32-unknown-unknown` and pack it into a plugin component with
/// `floh plugin pack`. Builds are serialized: feature variants of one crate
/// share an output file.
pub fn build_plugin(package: &str, features: &[&str]) -> Vec<u8> {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    let target = target_dir();
    let mut build = Command::new(env!("CARGO"));
    same_environment_as_the_outer_build(&mut build);
    build
        .args(["build", "--quiet", "-p", package, "--profile", "wasm"])
        .args(["--target", "wasm32-unknown-unknown"])
        .env("CARGO_TARGET_DIR", &target);
    if !features.is_empty() {
        build.arg("--features").arg(features.join(","));
    }
    let status = build.status().expect("run cargo build for a plugin");
    assert!(status.success(), "building plugin {package} failed");
    let module = target
        .join("wasm32-unknown-unknown/wasm")
        .join(format!("{}.wasm", package.replace('-', "_")));
    let packed = tempfile::NamedTempFile::new().expect("temp file");
    let status = Command::new(floh_binary())
        .args(["plugin", "pack"])
        .arg(&module)
        .arg(packed.path())
        .stdout(Stdio::null())
        .status()
        .expect("run floh plugin pack");
    assert!(status.success(), "packing plugin {package} failed");
    std::fs::read(packed.path()).expect("packed plugin")
}

/// Put `bytes` at `dir/name` the way a careful operator does: write a hidden
/// temporary file, then rename it into place.
pub fn install_plugin(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).expect("plugin dir");
    let temporary = dir.join(format!(".{name}.partial"));
    std::fs::write(&temporary, bytes).expect("write plugin");
    std::fs::rename(&temporary, dir.join(name)).expect("rename plugin");
}

/// Poll `check` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running `floh serve`, killed on drop.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Everything the process printed (stdout and stderr), for secret checks.
    pub output: Arc<Mutex<String>>,
    data_dir: PathBuf,
    settings: ServerSettings,
}

/// Extra settings for a server start.
#[derive(Default, Clone)]
pub struct ServerSettings {
    /// `FLOH_SECRET_KEY`.
    pub secret_key: Option<String>,
    /// Refuse private destinations (the default for tests is open egress,
    /// because upstreams run on loopback).
    pub default_egress: bool,
    /// PEM certificate and key files: serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The plugin directory (default: `plugins` in the data directory).
    pub plugins_dir: Option<PathBuf>,
    /// The address to listen on (default `127.0.0.1:0`).
    pub listen: Option<String>,
    /// More arguments for `floh serve`.
    pub extra_args: Vec<String>,
    /// The rate limits; `None` starts the server with limits no test comes
    /// near ([`RateLimits::GENEROUS`]), so that only the rate-limit tests
    /// meet a 429 while every other test still passes through the limiter.
    pub rate_limits: Option<RateLimits>,
}

/// `floh serve --rate-limit-*`: rates as the flags take them (`10/s`, `0`
/// for no limit) and bursts.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// `--rate-limit-token`.
    pub token: &'static str,
    /// `--rate-limit-token-burst`.
    pub token_burst: u32,
    /// `--rate-limit-execute`.
    pub execute: &'static str,
    /// `--rate-limit-execute-burst`.
    pub execute_burst: u32,
}

impl RateLimits {
    /// Far above what any test sends (the contract test's Schemathesis run
    /// included).
    pub const GENEROUS: Self = Self {
        token: "100000/s",
        token_burst: 100_000,
        execute: "100000/s",
        execute_burst: 100_000,
    };

    fn args(&self) -> Vec<String> {
        vec![
            "--rate-limit-token".into(),
            self.token.into(),
            "--rate-limit-token-burst".into(),
            self.token_burst.to_string(),
            "--rate-limit-execute".into(),
            self.execute.into(),
            "--rate-limit-execute-burst".into(),
            self.execute_burst.to_string(),
        ]
    }
}

impl Server {
    /// Start a server on `data_dir`.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, ServerSettings::default()).expect("server starts")
    }

    /// Start a server, or return what it printed if it exits first.
    pub fn start_with(data_dir: &Path, settings: ServerSettings) -> Result<Self, String> {
        let mut command = Command::new(floh_binary());
        let listen = settings.listen.as_deref().unwrap_or("127.0.0.1:0");
        command
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(&settings.extra_args)
            .args(settings.rate_limits.unwrap_or(RateLimits::GENEROUS).args())
            .env("FLOH_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !settings.default_egress {
            command.arg("--open-egress");
        }
        let plugins_dir = settings
            .plugins_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("plugins"));
        // Compiled components are shared by every test server: each would
        // otherwise compile the engine and the shipped plugins again.
        command
            .arg("--plugins-dir")
            .arg(plugins_dir)
            .arg("--cache-dir")
            .arg(target_dir().join("floh-e2e-cache"));
        if let Some(key) = &settings.secret_key {
            command.env("FLOH_SECRET_KEY", key);
        }
        if let Some((cert, key)) = &settings.tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        let mut child = command.spawn().expect("spawn floh");
        let (url_sender, url_receiver) = std::sync::mpsc::channel();
        let output = capture(&mut child, move |line| {
            if let Some(url) = line.strip_prefix("floh listening on ") {
                let _ = url_sender.send(url.to_string());
            }
        });
        match url_receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => Ok(Self {
                child: Some(child),
                url,
                output,
                data_dir: data_dir.to_path_buf(),
                settings,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(200));
                let printed = output.lock().expect("output").clone();
                Err(printed)
            }
        }
    }

    /// Stop with SIGTERM (graceful) and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Stop with SIGKILL (no chance to clean up).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop and start again on the same data directory, settings and port.
    pub fn restart(&mut self) {
        self.stop();
        let mut settings = self.settings.clone();
        settings.listen = Some(self.url.rsplit("//").next().expect("address").to_string());
        *self = Self::start_with(&self.data_dir.clone(), settings).expect("server restarts");
    }

    /// An API client with the admin token.
    pub fn admin(&self) -> Api {
        Api::new(&self.url, Some(ADMIN_TOKEN))
    }

    /// What the process printed so far.
    pub fn printed(&self) -> String {
        self.output.lock().expect("output").clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small API client.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A client for `base` with an optional bearer token.
    pub fn new(base: &str, token: Option<&str>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            http: reqwest::Client::builder().build().expect("client"),
            base: base.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
        }
    }

    /// A client over `http` (e.g. one trusting a test CA).
    pub fn with_client(base: &str, token: Option<&str>, http: reqwest::Client) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
        }
    }

    /// Send a request with an optional JSON body; returns status and JSON.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Send a raw body with a content type.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body.to_string());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GET.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// PUT JSON.
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
}

/// Serve `router` on 127.0.0.1:0; returns its base URL.
pub async fn upstream(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("http://{addr}")
}

/// Collect everything `child` prints (stdout and stderr) into one string;
/// `on_stdout_line` sees each stdout line as it arrives.
fn capture(
    child: &mut Child,
    on_stdout_line: impl Fn(&str) + Send + 'static,
) -> Arc<Mutex<String>> {
    let output = Arc::new(Mutex::new(String::new()));
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    collect(stdout, output.clone(), on_stdout_line);
    collect(stderr, output.clone(), |_| {});
    output
}

fn collect(
    stream: impl std::io::Read + Send + 'static,
    output: Arc<Mutex<String>>,
    on_line: impl Fn(&str) + Send + 'static,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            on_line(&line);
            let mut output = output.lock().expect("output");
            output.push_str(&line);
            output.push('\n');
        }
    });
}

/// A running `floh agent`, killed on drop.
pub struct AgentProcess {
    child: Option<Child>,
    output: Arc<Mutex<String>>,
}

impl AgentProcess {
    /// Start `floh agent --server SERVER --token TOKEN --id ID --connector …`
    /// with its state in `state_dir`, plus `extra` arguments.
    pub fn start(
        server: &str,
        token: &str,
        id: &str,
        connectors: &[&str],
        state_dir: &Path,
        extra: &[&str],
    ) -> Self {
        let mut command = Command::new(floh_binary());
        command
            .args(["agent", "--server", server, "--id", id, "--state-dir"])
            .arg(state_dir)
            .args(["--max-backoff-seconds", "2"])
            .args(extra)
            .env("FLOH_AGENT_TOKEN", token)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for connector in connectors {
            command.args(["--connector", connector]);
        }
        let mut child = command.spawn().expect("spawn floh agent");
        let output = capture(&mut child, |_| {});
        Self {
            child: Some(child),
            output,
        }
    }

    /// What the agent printed so far.
    pub fn printed(&self) -> String {
        self.output.lock().expect("output").clone()
    }

    /// Wait until the agent has printed `needle` `times` times.
    pub async fn wait_for(&self, needle: &str, times: usize, limit: Duration) -> bool {
        eventually(limit, || async {
            (self.printed().matches(needle).count() >= times).then_some(())
        })
        .await
        .is_some()
    }

    /// Wait for the process to exit; its status, or `None` if it still runs.
    pub async fn exit_status(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        eventually(limit, || {
            let status = child.try_wait().ok().flatten();
            async move { status }
        })
        .await
    }

    /// Stop with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Send SIGTERM (a graceful stop); the process keeps running until it
    /// exits by itself.
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run the `floh` CLI against `server` as admin with JSON output: success,
/// stdout as JSON (`Null` when it is not JSON), stderr.
pub fn floh_cli(server: &Server, args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(floh_binary())
        .args(args)
        .env("FLOH_SERVER", &server.url)
        .env("FLOH_TOKEN", ADMIN_TOKEN)
        .env("FLOH_OUTPUT", "json")
        .output()
        .expect("run floh");
    (
        output.status.success(),
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// Run the `floh` CLI against `server` as admin as a person would (no
/// output option): exit code, stdout, stderr.
pub fn floh_cli_for_people(server: &Server, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(floh_binary())
        .args(args)
        .env("FLOH_SERVER", &server.url)
        .env("FLOH_TOKEN", ADMIN_TOKEN)
        .env_remove("FLOH_OUTPUT")
        .output()
        .expect("run floh");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// A self-signed certificate for 127.0.0.1 and localhost, written to
/// `cert.pem` and `key.pem` in a directory.
pub struct TestCertificate {
    /// The certificate (also the CA to trust).
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The certificate's PEM text.
    pub pem: String,
}

impl TestCertificate {
    /// Generate one into `dir`.
    pub fn create(dir: &Path) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .expect("certificate");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        let pem = certified.cert.pem();
        std::fs::write(&cert, &pem).expect("cert");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("key");
        Self { cert, key, pem }
    }

    /// An HTTPS client that trusts this certificate only.
    pub fn client(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let root = reqwest::Certificate::from_pem(self.pem.as_bytes()).expect("root");
        reqwest::Client::builder()
            .tls_certs_only([root])
            .build()
            .expect("client")
    }
}
