//! The shipped `authifi` plugin against a small real Authifi: the endpoint
//! shapes of `plugins/authifi/README.md`, OAuth2 client credentials with a
//! token endpoint that counts what it issues and accepts only its newest
//! token.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use floh_e2e::{Api, Server, upstream};
use serde_json::{Value, json};

pub(crate) const SECRET: &str = "authifi-secret-5d1e";
pub(crate) const TENANT_ID: &str = "42";

#[derive(Default)]
pub(crate) struct Authifi {
    issued: u32,
    users: BTreeMap<String, Value>,
    admins: BTreeSet<String>,
    next_id: u32,
}

pub(crate) type Shared = Arc<Mutex<Authifi>>;

fn problem(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn authorized(state: &Shared, headers: &HeaderMap) -> bool {
    let newest = format!("Bearer t-{}", state.lock().expect("lock").issued);
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(newest.as_str())
}

async fn token(State(state): State<Shared>, Path(tenant): Path<String>, body: String) -> Response {
    let expected = format!("grant_type=client_credentials&client_id=cid&client_secret={SECRET}");
    if tenant != "acme" || body != expected {
        let refusal =
            json!({"error": "invalid_client", "error_description": "bad client credentials"});
        return (StatusCode::UNAUTHORIZED, Json(refusal)).into_response();
    }
    let mut state = state.lock().expect("lock");
    state.issued += 1;
    let token = json!({"access_token": format!("t-{}", state.issued), "token_type": "Bearer", "expires_in": 3600});
    Json(token).into_response()
}

async fn users(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if !authorized(&state, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized", "bad token");
    }
    let state = state.lock().expect("lock");
    let filter = query.get("filter").cloned().unwrap_or_default();
    let matching: Vec<Value> = state
        .users
        .values()
        .filter(|u| u["username"].as_str().unwrap_or_default().contains(&filter))
        .cloned()
        .collect();
    let offset: usize = query
        .get("offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let page: Vec<Value> = matching.iter().skip(offset).take(limit).cloned().collect();
    Json(json!({"items": page, "total": matching.len()})).into_response()
}

async fn create_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&state, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized", "bad token");
    }
    let mut state = state.lock().expect("lock");
    if state
        .users
        .values()
        .any(|u| u["username"] == body["username"])
    {
        return problem(StatusCode::CONFLICT, "conflict", "username already exists");
    }
    state.next_id += 1;
    let id = format!("u{}", state.next_id);
    let mut user = body.clone();
    user["id"] = json!(id);
    state.users.insert(id, user.clone());
    (StatusCode::CREATED, Json(user)).into_response()
}

async fn user(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((tenant_id, id)): Path<(String, String)>,
    method: axum::http::Method,
    body: String,
) -> Response {
    if !authorized(&state, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized", "bad token");
    }
    assert_eq!(tenant_id, TENANT_ID);
    let mut state = state.lock().expect("lock");
    let Some(user) = state.users.get_mut(&id) else {
        return problem(StatusCode::NOT_FOUND, "not_found", "no such user");
    };
    match method.as_str() {
        "GET" => Json(user.clone()).into_response(),
        "PATCH" => {
            let patch: Value = serde_json::from_str(&body).unwrap_or_default();
            for (key, value) in patch.as_object().cloned().unwrap_or_default() {
                user[key] = value;
            }
            Json(user.clone()).into_response()
        }
        _ => {
            state.users.remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn groups(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized", "bad token");
    }
    let members = state.lock().expect("lock").admins.len();
    let admins = json!({"id": "g1", "name": "admins", "memberCount": members});
    Json(json!({"items": [admins], "total": 1})).into_response()
}

async fn membership(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((_, group, user)): Path<(String, String, String)>,
    method: axum::http::Method,
) -> Response {
    if !authorized(&state, &headers) {
        return problem(StatusCode::UNAUTHORIZED, "unauthorized", "bad token");
    }
    let mut state = state.lock().expect("lock");
    if group != "g1" || !state.users.contains_key(&user) {
        return problem(StatusCode::NOT_FOUND, "not_found", "no such group or user");
    }
    if method == axum::http::Method::PUT {
        state.admins.insert(user);
    } else {
        state.admins.remove(&user);
    }
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) async fn start_authifi() -> (String, Shared) {
    let state: Shared = Arc::default();
    let api = "/api/v1/tenants/{tenant_id}";
    let router = Router::new()
        .route("/{tenant}/oauth2/token", post(token))
        .route(&format!("{api}/users"), get(users).post(create_user))
        .route(
            &format!("{api}/users/{{id}}"),
            get(user).patch(user).delete(user),
        )
        .route(&format!("{api}/groups"), get(groups))
        .route(
            &format!("{api}/groups/{{group}}/members/{{user}}"),
            put(membership).delete(membership),
        )
        .with_state(state.clone());
    (upstream(router).await, state)
}

async fn exec(api: &Api, connector: &str, command: &str, params: Value) -> Value {
    let body = json!({"command": command, "params": params});
    let (status, result) = api
        .post(&format!("/api/connectors/{connector}/execute"), body)
        .await;
    assert_eq!(status, 200, "{command}: {result}");
    result
}

pub(crate) fn issued(state: &Shared) -> u32 {
    state.lock().expect("lock").issued
}

#[tokio::test]
async fn authifi_manages_users_and_groups_with_one_reused_token() {
    let (base_url, state) = start_authifi().await;
    let data = tempfile::tempdir().expect("data dir");
    let server = Server::start(data.path());
    let api = server.admin();

    let (_, types) = api.get("/api/connector-types").await;
    let authifi = types
        .as_array()
        .and_then(|types| types.iter().find(|t| t["name"] == "authifi"))
        .cloned()
        .expect("the shipped authifi type");
    let fields: BTreeSet<&str> = authifi["configSchema"]["connectionConfig"]
        .as_object()
        .expect("fields")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["baseUrl", "tenant", "tenantId", "clientId", "clientSecret"])
    );

    let config = json!({"baseUrl": base_url, "tenant": "acme", "tenantId": TENANT_ID, "clientId": "cid", "clientSecret": SECRET});
    let definition =
        json!({"name": "idp", "type": "authifi", "executionModel": "built_in", "config": config});
    let (status, created) = api.post("/api/connectors", definition).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["config"]["clientSecret"], "***");

    let tested = exec(&api, "idp", "test", json!({})).await;
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(tested["data"]["userCount"], 0);
    // The plugin's OAuth2 token call is in the trace, with the client secret
    // (configured) and the access token (learned from the answer) masked.
    let token = &tested["httpCalls"][0];
    assert!(
        token["url"]
            .as_str()
            .is_some_and(|url| url.ends_with("/acme/oauth2/token")),
        "{token}"
    );
    assert_eq!(
        token["requestBody"]["text"],
        "grant_type=client_credentials&client_id=cid&client_secret=***"
    );
    let answer = token["responseBody"]["text"].as_str().unwrap_or_default();
    assert!(answer.contains(r#""access_token":"***""#), "{token}");
    let calls = tested["httpCalls"].to_string();
    let token_value = format!("t-{}", issued(&state));
    assert!(
        !calls.contains(SECRET) && !calls.contains(&format!("\"{token_value}\"")),
        "{calls}"
    );
    assert!(
        calls.contains(r#"{"name":"authorization","value":"Bearer ***"}"#),
        "{calls}"
    );

    let created = exec(
        &api,
        "idp",
        "createUser",
        json!({"username": "ada", "email": "ada@example.com", "firstName": "Ada"}),
    )
    .await;
    assert_eq!(created["success"], true, "{created}");
    let user_id = created["data"]["userId"]
        .as_str()
        .expect("userId")
        .to_string();
    let duplicate = exec(
        &api,
        "idp",
        "createUser",
        json!({"username": "ada", "email": "a@example.com"}),
    )
    .await;
    assert_eq!(duplicate["success"], false);
    assert!(
        duplicate["error"]
            .as_str()
            .unwrap_or_default()
            .contains("409"),
        "{duplicate}"
    );

    let listed = exec(&api, "idp", "listUsers", json!({"filter": "ad"})).await;
    assert_eq!(listed["data"]["total"], 1, "{listed}");
    assert_eq!(listed["data"]["users"][0]["username"], "ada");
    let updated = exec(
        &api,
        "idp",
        "updateUser",
        json!({"userId": user_id, "enabled": false}),
    )
    .await;
    assert_eq!(updated["data"]["user"]["enabled"], false, "{updated}");
    assert_eq!(updated["data"]["user"]["firstName"], "Ada");

    let added = exec(
        &api,
        "idp",
        "addGroupMember",
        json!({"groupId": "g1", "userId": user_id}),
    )
    .await;
    assert_eq!(added["success"], true, "{added}");
    let groups = exec(&api, "idp", "listGroups", json!({})).await;
    assert_eq!(groups["data"]["groups"][0]["memberCount"], 1, "{groups}");
    let removed = exec(
        &api,
        "idp",
        "removeGroupMember",
        json!({"groupId": "g1", "userId": user_id}),
    )
    .await;
    assert_eq!(removed["success"], true, "{removed}");
    let missing_group = exec(
        &api,
        "idp",
        "addGroupMember",
        json!({"groupId": "g9", "userId": user_id}),
    )
    .await;
    assert_eq!(missing_group["success"], false, "{missing_group}");

    // One token served every command after `test` (which always fetches one).
    let before = issued(&state);
    assert!(before <= 2, "tokens issued: {before}");
    for _ in 0..3 {
        let listed = exec(&api, "idp", "listUsers", json!({})).await;
        assert_eq!(listed["success"], true, "{listed}");
    }
    assert_eq!(issued(&state), before, "the token was not reused");

    // Authifi rotates its token: the next command gets a 401, fetches one
    // new token and succeeds.
    state.lock().expect("lock").issued += 1;
    let rotated = issued(&state);
    let fetched = exec(&api, "idp", "getUser", json!({"userId": user_id})).await;
    assert_eq!(fetched["success"], true, "{fetched}");
    assert_eq!(fetched["data"]["user"]["username"], "ada");
    assert_eq!(issued(&state), rotated + 1);

    let deleted = exec(&api, "idp", "deleteUser", json!({"userId": user_id})).await;
    assert_eq!(deleted["data"]["deleted"], true, "{deleted}");
    let gone = exec(&api, "idp", "getUser", json!({"userId": user_id})).await;
    assert_eq!(gone["success"], false);
    assert!(
        gone["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not found"),
        "{gone}"
    );

    // A wrong secret is refused by the token endpoint, with its reason.
    let wrong = json!({"baseUrl": base_url, "tenant": "acme", "tenantId": TENANT_ID, "clientId": "cid", "clientSecret": "nope-nope"});
    let definition = json!({"name": "idp-wrong", "type": "authifi", "executionModel": "built_in", "config": wrong});
    let (status, _) = api.post("/api/connectors", definition).await;
    assert_eq!(status, 201);
    let refused = exec(&api, "idp-wrong", "listUsers", json!({})).await;
    assert_eq!(refused["success"], false);
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("invalid_client"),
        "{refused}"
    );

    assert!(!server.printed().contains(SECRET));
}
