//! The spec's three ways of creating a connector, through the browser: the
//! built-in flow (an `authifi` instance from the wizard, tested against the
//! fake Authifi), the script flow (`my-crm` from the wizard, its script
//! edited in the editor with a syntax error shown inline and blocking the
//! save, run against a CRM stand-in with the API key masked in the trace)
//! and the OpenAPI flow (the petstore pasted, two commands deselected,
//! created, run against Prism, then re-imported with one operation more).

use serde_json::{Value, json};

use super::BrowserGroup;
use crate::{authifi, crm, prism};

#[tokio::test]
async fn the_built_in_flow_creates_an_authifi_instance_that_passes_its_test() {
    let Some(mut group) = BrowserGroup::start().await else {
        return;
    };
    let (base_url, state) = authifi::start_authifi().await;
    group.secret(authifi::SECRET);
    group
        .run(
            "wizard-built-in",
            json!({
                "baseUrl": base_url, "tenant": "acme", "tenantId": authifi::TENANT_ID,
                "clientId": "cid", "clientSecret": authifi::SECRET,
            }),
        )
        .await;
    let (status, created) = group.api.get("/api/connectors/idp").await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["type"], "authifi");
    assert_eq!(created["executionModel"], "built_in");
    assert_eq!(created["config"]["clientSecret"], "***");
    // The Test button ran against the fake Authifi (a token was issued).
    assert!(authifi::issued(&state) >= 1);
}

#[tokio::test]
async fn the_script_flow_creates_my_crm_edits_its_script_and_runs_it() {
    let Some(mut group) = BrowserGroup::start().await else {
        return;
    };
    let (crm_url, seen) = crm::start().await;
    group.secret(crm::API_KEY);
    let fixture: Value =
        serde_json::from_str(include_str!("../../fixtures/my-crm.json")).expect("fixture");
    group
        .run(
            "wizard-script",
            json!({
                "baseUrl": crm_url, "apiKey": crm::API_KEY,
                "script": fixture["scriptSource"],
            }),
        )
        .await;
    let (status, created) = group.api.get("/api/connectors/my-crm").await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["scriptSource"], fixture["scriptSource"]);
    let commands = created["configSchema"]["commands"]
        .as_object()
        .expect("commands");
    assert_eq!(
        commands.keys().map(String::as_str).collect::<Vec<_>>(),
        ["createContact", "listContacts", "test"]
    );
    assert_eq!(
        created["configSchema"]["commands"]["listContacts"]["paramSchema"]["limit"]["default"],
        50
    );
    assert!(created["configSchema"]["connectionConfig"]["apiKey"]["secret"] == true);
    // The run reached the stand-in with the declared default limit.
    assert!(
        seen.lock()
            .expect("lock")
            .iter()
            .any(|query| query == "limit=50&offset=0"),
        "{:?}",
        seen.lock().expect("lock")
    );
}

#[tokio::test]
async fn the_openapi_flow_imports_the_petstore_runs_it_and_previews_a_reimport() {
    let Some(npm) = prism::npm_packages() else {
        return;
    };
    let Some(group) = BrowserGroup::start().await else {
        return;
    };
    let path = prism::npm_dir().join("@readme/oas-examples/3.0/json/petstore.json");
    let prism = prism::start_prism(&npm, &path);
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("spec")).expect("json");
    // The same spec with one more operation, for the re-import.
    let mut extended = spec.clone();
    extended["paths"]["/pet/{petId}/vaccinations"] = json!({
        "get": {
            "tags": ["pet"], "operationId": "listVaccinations", "summary": "List a pet's vaccinations",
            "parameters": [{"name": "petId", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "ok"}}
        }
    });
    group
        .run(
            "import-openapi",
            json!({
                "spec": serde_json::to_string_pretty(&spec).expect("text"),
                "extended": serde_json::to_string_pretty(&extended).expect("text"),
                "deselect": ["deleteOrder", "updateUser"],
                "baseUrl": prism.url,
                "apiKey": "special-key",
            }),
        )
        .await;
    let (status, created) = group.api.get("/api/connectors/petstore").await;
    assert_eq!(status, 200, "{created}");
    let commands = created["configSchema"]["commands"]
        .as_object()
        .expect("commands");
    assert!(!commands.contains_key("deleteOrder"));
    assert!(!commands.contains_key("updateUser"));
    assert!(commands.contains_key("getPetById"));
    // The preview replaced nothing.
    assert!(!commands.contains_key("listVaccinations"));
}
