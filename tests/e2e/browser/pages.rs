//! Every page of the UI as an admin and as an executor, with a connector
//! whose config holds a secret and a CRM stand-in it calls.

use serde_json::json;

use super::BrowserGroup;
use crate::crm;

#[tokio::test]
async fn every_page_signed_in_is_accessible_and_leaks_no_secret() {
    let Some(mut group) = BrowserGroup::start().await else {
        return;
    };
    let (crm_url, _) = crm::start().await;
    group.secret(crm::API_KEY);
    let (status, created) = group
        .api
        .post("/api/connectors", crm::definition("my-crm", &crm_url))
        .await;
    assert_eq!(status, 201, "{created}");
    group.run("shell", json!({ "connector": "my-crm" })).await;
}
