//! Rate limits against the real binary: per API token (API and MCP) and per
//! connector for executions, with small explicit limits so that the counts
//! are exact: the tests measure elapsed time and allow what the rate can
//! have refilled during it, and assert no timings.

use std::time::{Duration, Instant};

use floh_e2e::{ADMIN_TOKEN, Api, RateLimits, Server, ServerSettings};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// Concurrent keep-alive connections of the burst.
const CONNECTIONS: usize = 64;
/// Requests each connection sends in the burst.
const REQUESTS_PER_CONNECTION: usize = 4;

/// A trivial script connector (`ping`).
fn ping_connector(name: &str) -> Value {
    json!({
        "name": name,
        "executionModel": "script",
        "scriptSource": "function ping() { return { success: true, data: { pong: true } }; }",
    })
}

fn start(limits: RateLimits) -> (tempfile::TempDir, Server) {
    let data = tempfile::tempdir().expect("data dir");
    let settings = ServerSettings {
        rate_limits: Some(limits),
        ..ServerSettings::default()
    };
    let server = Server::start_with(data.path(), settings).expect("server starts");
    (data, server)
}

/// Issue a token with `role`; returns its secret.
async fn issue_token(admin: &Api, name: &str, role: &str) -> String {
    let (status, issued) = admin
        .post("/api/tokens", json!({"name": name, "role": role}))
        .await;
    assert_eq!(status, 201, "{issued}");
    issued["token"].as_str().expect("token").to_string()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_else(|| panic!("no `{name}` header in {headers:?}"))
}

fn number(headers: &HeaderMap, name: &str) -> u64 {
    header(headers, name)
        .parse()
        .unwrap_or_else(|_| panic!("`{name}` is not a whole number: {headers:?}"))
}

/// A 429 as every front end answers it: the API's error body, `Retry-After`
/// in whole seconds (at least 1) and the `RateLimit-*` fields of `limit`.
fn assert_refused(status: u16, headers: &HeaderMap, body: &Value, limit: u32, window: u64) {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("retry in")),
        "{body}"
    );
    assert!(number(headers, "retry-after") >= 1, "{headers:?}");
    assert_eq!(number(headers, "ratelimit-limit"), u64::from(limit));
    assert_eq!(number(headers, "ratelimit-remaining"), 0);
    assert!(number(headers, "ratelimit-reset") >= 1, "{headers:?}");
    assert_eq!(
        header(headers, "ratelimit-policy"),
        format!("{limit};w={window}")
    );
}

/// Send `method path` with `token`; status, headers and JSON body.
async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_64_connections_gets_the_burst_and_429s_while_others_are_served() {
    const BURST: u32 = 10;
    const PER_SECOND: f64 = 1.0;
    let (_data, server) = start(RateLimits {
        token: "1/s",
        token_burst: BURST,
        execute: "0",
        execute_burst: 1,
    });
    let admin = server.admin();
    let bursting = issue_token(&admin, "bursting", "executor").await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("client");
    let url = format!("{}/api/connectors", server.url);

    // Meanwhile: another token (a few requests, within its own burst),
    // health and metrics, until the burst is over.
    let (done, finished) = tokio::sync::watch::channel(false);
    let bystander = tokio::spawn({
        let (client, base) = (client.clone(), server.url.clone());
        async move {
            let mut answers = Vec::new();
            loop {
                let mut paths = vec![("/api/health", None), ("/metrics", None)];
                if answers.len() < 12 {
                    paths.push(("/api/connectors", Some(ADMIN_TOKEN)));
                }
                for (path, token) in paths {
                    let url = format!("{base}{path}");
                    let (status, _, body) =
                        send(&client, reqwest::Method::GET, &url, token, None).await;
                    answers.push((path, status, body));
                }
                if *finished.borrow() {
                    break answers;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });

    let started = Instant::now();
    let connections: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), bursting.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for _ in 0..REQUESTS_PER_CONNECTION {
                    answers
                        .push(send(&client, reqwest::Method::GET, &url, Some(&token), None).await);
                }
                answers
            })
        })
        .collect();
    let mut answers = Vec::new();
    for connection in connections {
        answers.extend(connection.await.expect("connection"));
    }
    let elapsed = started.elapsed();
    done.send(true).expect("bystander listens");
    let bystanders = bystander.await.expect("bystander");

    let served = answers.iter().filter(|(status, ..)| *status == 200).count();
    let refilled = (elapsed.as_secs_f64() * PER_SECOND).ceil() as usize;
    eprintln!(
        "{} requests in {elapsed:?}: {served} served (burst {BURST}, at most {refilled} refilled), {} refused",
        answers.len(),
        answers.len() - served
    );
    assert!(
        served >= BURST as usize && served <= BURST as usize + refilled,
        "{served} served in {elapsed:?}"
    );
    for (status, headers, body) in &answers {
        if *status == 200 {
            assert_eq!(number(headers, "ratelimit-limit"), u64::from(BURST));
            assert!(number(headers, "ratelimit-remaining") < u64::from(BURST));
            number(headers, "ratelimit-reset");
        } else {
            assert_refused(*status, headers, body, BURST, 10);
        }
    }
    assert!(!bystanders.is_empty());
    for (path, status, body) in &bystanders {
        assert_eq!(*status, 200, "{path}: {body}");
    }

    // Each refusal is counted.
    let refused = answers.len() - served;
    let (status, metrics) = admin.get("/metrics").await;
    assert_eq!(status, 200);
    let line = format!("floh_rate_limited_requests_total{{limit=\"token\"}} {refused}");
    assert!(
        metrics.as_str().is_some_and(|text| text.contains(&line)),
        "no `{line}` in {metrics}"
    );
}

#[tokio::test]
async fn after_waiting_retry_after_the_token_is_served_again() {
    let (_data, server) = start(RateLimits {
        token: "1/s",
        token_burst: 10,
        execute: "0",
        execute_burst: 1,
    });
    let client = reqwest::Client::new();
    let url = format!("{}/api/connectors", server.url);
    let mut refusal = None;
    for _ in 0..100 {
        let (status, headers, body) =
            send(&client, reqwest::Method::GET, &url, Some(ADMIN_TOKEN), None).await;
        if status == 429 {
            refusal = Some((headers, body));
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let (headers, body) = refusal.expect("the burst runs out");
    assert_refused(429, &headers, &body, 10, 10);
    let wait = number(&headers, "retry-after");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, headers, body) =
        send(&client, reqwest::Method::GET, &url, Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(number(&headers, "ratelimit-limit"), 10);

    // MCP spends the same token's requests.
    let mut refused = None;
    for _ in 0..100 {
        let (status, headers, body) = send(
            &client,
            reqwest::Method::POST,
            &format!("{}/mcp", server.url),
            Some(ADMIN_TOKEN),
            Some(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})),
        )
        .await;
        if status == 429 {
            refused = Some((headers, body));
            break;
        }
    }
    let (headers, body) = refused.expect("MCP requests are limited too");
    assert_refused(429, &headers, &body, 10, 10);
}

#[tokio::test]
async fn executions_of_one_connector_are_limited_while_another_still_executes() {
    const BURST: u32 = 5;
    // One an hour: nothing refills during the test, so the counts are exact.
    let (_data, server) = start(RateLimits {
        token: "0",
        token_burst: 1,
        execute: "1/h",
        execute_burst: BURST,
    });
    let admin = server.admin();
    for name in ["busy", "quiet"] {
        let (status, created) = admin.post("/api/connectors", ping_connector(name)).await;
        assert_eq!(status, 201, "{created}");
    }
    let client = reqwest::Client::new();
    let execute = |name: &str| {
        let url = format!("{}/api/connectors/{name}/execute", server.url);
        let client = client.clone();
        async move {
            send(
                &client,
                reqwest::Method::POST,
                &url,
                Some(ADMIN_TOKEN),
                Some(json!({"command": "ping"})),
            )
            .await
        }
    };
    for _ in 0..BURST {
        let (status, _, result) = execute("busy").await;
        assert_eq!(status, 200, "{result}");
        assert_eq!(result["success"], true, "{result}");
    }
    let (status, headers, body) = execute("busy").await;
    assert_refused(status, &headers, &body, BURST, 3600 * u64::from(BURST));
    assert!(number(&headers, "retry-after") > 60, "{headers:?}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("`busy`"), "{message}");
    // A test is an execution too, and by name or id it is one connector.
    let (status, test) = admin.post("/api/connectors/busy/test", json!({})).await;
    assert_eq!(
        (status, &test["error"]["code"]),
        (429, &json!("RATE_LIMITED"))
    );

    let (status, _, result) = execute("quiet").await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    // Reads are not executions.
    let (status, _) = admin.get("/api/connectors/busy").await;
    assert_eq!(status, 200);
}
