//! The spec's `my-crm` connector and a CRM stand-in for it to call.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};

/// The API key the stand-in accepts.
pub const API_KEY: &str = "sk-crm-e2e-5c1d7a90b2";

/// The spec's script, unchanged.
pub const SCRIPT: &str = r#"
function listContacts() {
var url = floh.config.baseUrl + '/api/contacts';
url += '?limit=' + (floh.params.limit || 50);
url += '&offset=' + (floh.params.offset || 0);
var resp = floh.http.get(url, {
'Authorization': 'Bearer ' + floh.config.apiKey
});
if (resp.status >= 400) {
return { success: false, error: 'API returned ' + resp.status };
}
return {
success: true,
data: { contacts: resp.body.data, total: resp.body.total }
};
}
function createContact() {
var resp = floh.http.post(
floh.config.baseUrl + '/api/contacts',
JSON.stringify({
email: floh.params.email,
first_name: floh.params.firstName,
last_name: floh.params.lastName
}),
{ 'Authorization': 'Bearer ' + floh.config.apiKey }
);
if (resp.status >= 400) {
return { success: false, error: 'Failed to create contact: ' + resp.status };
}
return { success: true, data: { contactId: resp.body.id } };
}
function test() {
floh.log.info('testing with key ' + floh.config.apiKey);
var resp = floh.http.get(floh.config.baseUrl + '/api/health', {
'Authorization': 'Bearer ' + floh.config.apiKey
});
return { success: resp.status < 400 };
}
"#;

/// Queries the stand-in received.
pub type Seen = Arc<Mutex<Vec<String>>>;

/// Start the CRM stand-in; returns its URL and the queries it saw.
pub async fn start() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let authorized = |headers: &HeaderMap| {
        headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {API_KEY}"))
    };
    let router = axum::Router::new()
        .route(
            "/api/contacts",
            get(move |headers: HeaderMap, uri: axum::http::Uri| {
                let record = record.clone();
                async move {
                    record
                        .lock()
                        .expect("lock")
                        .push(uri.query().unwrap_or("").to_string());
                    if !authorized(&headers) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({})));
                    }
                    (
                        StatusCode::OK,
                        Json(json!({"data": [{"id": "c1"}, {"id": "c2"}], "total": 2})),
                    )
                }
            })
            .post(
                move |headers: HeaderMap, Json(body): Json<Value>| async move {
                    if !authorized(&headers) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({})));
                    }
                    (
                        StatusCode::CREATED,
                        Json(
                            json!({"id": format!("new-{}", body["email"].as_str().unwrap_or(""))}),
                        ),
                    )
                },
            ),
        )
        .route(
            "/api/health",
            get(move |headers: HeaderMap| async move {
                if authorized(&headers) {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }),
        );
    (floh_e2e::upstream(router).await, seen)
}

/// The spec's step 1 definition, pointed at `base_url`.
pub fn definition(name: &str, base_url: &str) -> Value {
    json!({
        "name": name,
        "type": "my-crm",
        "description": "Integration with My CRM",
        "version": "1.0.0",
        "executionModel": "script",
        "category": "crm",
        "tags": ["sales", "contacts"],
        "configSchema": {
            "connectionConfig": {
                "baseUrl": { "type": "string", "required": true, "description": "CRM API base URL" },
                "apiKey": { "type": "string", "required": true, "secret": true, "description": "API key" }
            },
            "commands": {
                "listContacts": {
                    "params": ["limit", "offset"],
                    "description": "List contacts from the CRM",
                    "outputs": ["contacts", "total"],
                    "paramSchema": {
                        "limit": { "type": "number", "default": 50 },
                        "offset": { "type": "number", "default": 0 }
                    }
                },
                "createContact": {
                    "params": ["email", "firstName", "lastName"],
                    "description": "Create a new contact",
                    "outputs": ["contactId"]
                },
                "test": { "params": [], "description": "Test connectivity", "outputs": [] }
            }
        },
        "config": { "baseUrl": base_url, "apiKey": API_KEY },
        "scriptSource": SCRIPT
    })
}
