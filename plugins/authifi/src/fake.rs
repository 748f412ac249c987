//! An in-memory Authifi speaking the endpoint shapes of README.md, and the
//! host cache in memory: the whole plugin runs natively against them.

use std::collections::{BTreeMap, BTreeSet};

use floh_sdk::http::Response;
use serde_json::{Value, json};

use floh_sdk::transport::{Call, Method, Transport};

pub const BASE: &str = "https://auth.example.com/_api";

pub fn config_json() -> Value {
    json!({"baseUrl": BASE, "tenant": "prod", "tenantId": "42", "clientId": "cid", "clientSecret": "s3cret"})
}

/// Tokens are `t-N`; only the newest is accepted.
#[derive(Default)]
pub struct FakeAuthifi {
    pub issued: u32,
    pub users: BTreeMap<String, Value>,
    pub members: BTreeMap<String, BTreeSet<String>>,
    pub calls: Vec<Call>,
    next_id: u32,
}

fn answer(status: u16, body: Value) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: if status == 204 {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        },
    }
}

fn error(status: u16, code: &str, message: &str) -> Response {
    answer(status, json!({"error": {"code": code, "message": message}}))
}

impl FakeAuthifi {
    pub fn with_group(mut self, id: &str) -> Self {
        self.members.insert(id.into(), BTreeSet::new());
        self
    }

    fn token(&mut self, call: &Call) -> Response {
        let form = String::from_utf8_lossy(call.body.as_deref().unwrap_or_default()).into_owned();
        if form != "grant_type=client_credentials&client_id=cid&client_secret=s3cret" {
            return answer(
                401,
                json!({"error": "invalid_client", "error_description": "bad client credentials"}),
            );
        }
        self.issued += 1;
        answer(
            200,
            json!({"access_token": format!("t-{}", self.issued), "token_type": "Bearer", "expires_in": 3600}),
        )
    }

    fn api(&mut self, method: Method, path: &str, query: &str, body: Option<Value>) -> Response {
        let segments: Vec<&str> = path.split('/').collect();
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
                .map(str::to_string)
        };
        let number = |name: &str, default: usize| {
            param(name).and_then(|v| v.parse().ok()).unwrap_or(default)
        };
        match (method, segments.as_slice()) {
            (Method::Get, ["users"]) => {
                let filter = param("filter").unwrap_or_default();
                let all: Vec<&Value> = self
                    .users
                    .values()
                    .filter(|u| u["username"].as_str().unwrap_or_default().contains(&filter))
                    .collect();
                let items: Vec<&Value> = all
                    .iter()
                    .copied()
                    .skip(number("offset", 0))
                    .take(number("limit", 50))
                    .collect();
                answer(200, json!({"items": items, "total": all.len()}))
            }
            (Method::Post, ["users"]) => {
                let mut user = body.unwrap_or_default();
                if self
                    .users
                    .values()
                    .any(|u| u["username"] == user["username"])
                {
                    return error(409, "conflict", "username already exists");
                }
                self.next_id += 1;
                let id = format!("u{}", self.next_id);
                user["id"] = json!(id);
                self.users.insert(id, user.clone());
                answer(201, user)
            }
            (method, ["users", id]) => {
                let Some(user) = self.users.get_mut(*id) else {
                    return error(404, "not_found", &format!("user {id} does not exist"));
                };
                match method {
                    Method::Get => answer(200, user.clone()),
                    Method::Patch => {
                        merge_patch(user, body.unwrap_or_default());
                        answer(200, user.clone())
                    }
                    Method::Delete => {
                        self.users.remove(*id);
                        answer(204, Value::Null)
                    }
                    _ => error(405, "method_not_allowed", "no"),
                }
            }
            (Method::Get, ["groups"]) => {
                let items: Vec<Value> = self
                    .members
                    .iter()
                    .map(
                        |(id, members)| json!({"id": id, "name": id, "memberCount": members.len()}),
                    )
                    .collect();
                answer(200, json!({"items": items, "total": self.members.len()}))
            }
            (method, ["groups", group, "members", user]) => {
                if !self.users.contains_key(*user) {
                    return error(404, "not_found", &format!("user {user} does not exist"));
                }
                let Some(members) = self.members.get_mut(*group) else {
                    return error(404, "not_found", &format!("group {group} does not exist"));
                };
                if method == Method::Put {
                    members.insert(user.to_string());
                } else {
                    members.remove(*user);
                }
                answer(204, Value::Null)
            }
            _ => error(404, "not_found", "no such endpoint"),
        }
    }
}

impl Transport for FakeAuthifi {
    fn send(&mut self, call: &Call) -> Result<Response, String> {
        self.calls.push(call.clone());
        let Some(rest) = call.url.strip_prefix(BASE) else {
            return Err("connection failed: unknown host".into());
        };
        if rest == "/prod/oauth2/token" && call.method == Method::Post {
            return Ok(self.token(call));
        }
        let Some(rest) = rest.strip_prefix("/api/v1/tenants/42/") else {
            return Ok(error(404, "not_found", "no such tenant"));
        };
        let bearer = call
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.as_str());
        if bearer != Some(format!("Bearer t-{}", self.issued).as_str()) {
            return Ok(error(401, "unauthorized", "invalid or expired token"));
        }
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let body = call
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok());
        Ok(self.api(call.method, path, query, body))
    }
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(&key);
                } else {
                    merge_patch(target.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch,
    }
}
