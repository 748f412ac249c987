//! Shared fixtures: an engine with a shared artefact cache, and a recording
//! upstream HTTP server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use floh::egress::EgressPolicy;
use floh::redact::SecretRedactor;
use floh::runtime::{
    Execution, ExecutionContext, ExecutionLimits, Invocation, PoolSizing, ScriptEngine,
    ScriptEngineOptions,
};
use serde_json::Value;

/// An engine for one test (compiled artefacts shared through the cache).
pub fn engine() -> ScriptEngine {
    engine_with(ExecutionLimits::default())
}

/// An engine with specific limits.
pub fn engine_with(limits: ExecutionLimits) -> ScriptEngine {
    let options = ScriptEngineOptions {
        cache_dir: Some(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("floh-artefacts")),
        pool: PoolSizing {
            max_instances: 64,
            ..PoolSizing::default()
        },
        limits,
        ..ScriptEngineOptions::default()
    };
    ScriptEngine::new(options).expect("script engine")
}

/// A context that may reach loopback (where the test servers are).
pub fn open_context(config: Value, secrets: &[&str]) -> ExecutionContext {
    ExecutionContext {
        config,
        redactor: Arc::new(SecretRedactor::new(secrets)),
        egress: EgressPolicy::unrestricted(),
        ..ExecutionContext::new("test")
    }
}

/// Compile `source` and run `command` with `params`.
pub async fn run(
    engine: &ScriptEngine,
    source: &str,
    command: &str,
    params: Value,
    context: &ExecutionContext,
) -> Execution {
    let script = engine.compile(source).await.expect("script compiles");
    let invocation = Invocation {
        command: command.into(),
        params,
        ..Invocation::default()
    };
    engine.execute(&script, &invocation, context).await
}

/// One request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub query: Option<String>,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// An axum server on 127.0.0.1:0 that records every request.
pub struct Upstream {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// Serve `router`, recording requests before they reach it.
    pub async fn start(router: axum::Router) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let recorder = seen.clone();
        let router = router.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let recorder = recorder.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let bytes = axum::body::to_bytes(body, usize::MAX)
                        .await
                        .unwrap_or_default();
                    recorder.lock().expect("lock").push(Seen {
                        method: parts.method.to_string(),
                        query: parts.uri.query().map(str::to_string),
                        headers: parts.headers.clone(),
                        body: bytes.to_vec(),
                    });
                    let request =
                        axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
                    next.run(request).await
                }
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Self { addr, seen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}
