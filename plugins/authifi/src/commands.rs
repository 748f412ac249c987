//! The commands: params in, one or two API calls, the answer mapped to
//! `data`. README.md lists the endpoint each one calls and the shapes it
//! expects.

use floh_sdk::Error;
use floh_sdk::http::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::errors::{api_error, reason_suffix};
use crate::session::Session;
use floh_sdk::transport::{Call, Method};

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page a command asks for.
pub const MAX_LIMIT: u32 = 1000;

/// Execute `command` with `params`; `None` when there is no such command.
pub fn run(command: &str, params: &Value, session: &mut Session) -> Option<Result<Value, Error>> {
    Some(match command {
        "listUsers" => parse(params).and_then(|page| list(session, "users", "listUsers", page)),
        "getUser" => parse(params).and_then(|user| get_user(session, user)),
        "createUser" => parse(params).and_then(|user| create_user(session, user)),
        "updateUser" => parse(params).and_then(|changes| update_user(session, changes)),
        "deleteUser" => parse(params).and_then(|user| delete_user(session, user)),
        "listGroups" => parse(params).and_then(|page| list(session, "groups", "listGroups", page)),
        "addGroupMember" => parse(params).and_then(|m| membership(session, m, Method::Put)),
        "removeGroupMember" => parse(params).and_then(|m| membership(session, m, Method::Delete)),
        "test" => test(session),
        _ => return None,
    })
}

fn parse<T: DeserializeOwned>(params: &Value) -> Result<T, Error> {
    let params = if params.is_null() {
        json!({})
    } else {
        params.clone()
    };
    serde_json::from_value(params).map_err(|e| Error::invalid_input(format!("invalid params: {e}")))
}

/// `limit`, `offset` and `filter` of the list commands.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Page {
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    offset: u32,
    #[serde(default)]
    filter: Option<String>,
}

fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

/// A user by id.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserRef {
    user_id: String,
}

/// The params of `createUser`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUser {
    username: String,
    email: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    #[serde(default)]
    attributes: Option<Map<String, Value>>,
}

fn enabled_by_default() -> bool {
    true
}

/// The params of `updateUser`: the id and the fields to change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserChanges {
    user_id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    attributes: Option<Map<String, Value>>,
}

/// A user in a group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Membership {
    group_id: String,
    user_id: String,
}

/// A list answer: `{items, total}`.
#[derive(Debug, Deserialize)]
struct ListPage {
    items: Vec<Value>,
    #[serde(default)]
    total: Option<u64>,
}

fn url(session: &Session, segments: &[&str]) -> Result<String, Error> {
    session
        .config()
        .api_url(segments)
        .map_err(Error::invalid_input)
}

fn json_call(method: Method, url: String, body: Option<&Value>) -> Call {
    let mut call = Call::new(method, url);
    call.headers
        .push(("accept".into(), "application/json".into()));
    if let Some(body) = body {
        call.headers
            .push(("content-type".into(), "application/json".into()));
        call.body = Some(body.to_string().into_bytes());
    }
    call
}

fn send(session: &mut Session, call: Call) -> Result<Response, Error> {
    session.send(call).map_err(Error::new)
}

fn body<T: DeserializeOwned>(action: &str, response: &Response) -> Result<T, Error> {
    serde_json::from_slice(&response.body).map_err(|e| {
        Error::new(format!(
            "{action}: authifi's answer (HTTP {}) is not the expected JSON: {e}",
            response.status
        ))
    })
}

fn not_found(what: String, response: &Response) -> Error {
    Error::new(format!("{what} not found{}", reason_suffix(response)))
}

fn list(session: &mut Session, collection: &str, action: &str, page: Page) -> Result<Value, Error> {
    if !(1..=MAX_LIMIT).contains(&page.limit) {
        return Err(Error::invalid_input(format!(
            "`limit` must be between 1 and {MAX_LIMIT}"
        )));
    }
    let mut query = vec![
        ("limit".to_string(), page.limit.to_string()),
        ("offset".to_string(), page.offset.to_string()),
    ];
    if let Some(filter) = page.filter.filter(|f| !f.is_empty()) {
        query.push(("filter".into(), filter));
    }
    let url = floh_sdk::http::append_query(&url(session, &[collection])?, &query);
    let response = send(session, json_call(Method::Get, url, None))?;
    if !response.is_success() {
        return Err(Error::new(api_error(action, &response)));
    }
    let listed: ListPage = body(action, &response)?;
    let total = listed.total.unwrap_or(listed.items.len() as u64);
    Ok(json!({ collection: listed.items, "total": total }))
}

fn get_user(session: &mut Session, user: UserRef) -> Result<Value, Error> {
    let url = url(session, &["users", &user.user_id])?;
    let response = send(session, json_call(Method::Get, url, None))?;
    match response.status {
        404 => Err(not_found(format!("user `{}`", user.user_id), &response)),
        _ if !response.is_success() => Err(Error::new(api_error("getUser", &response))),
        _ => Ok(json!({ "user": body::<Value>("getUser", &response)? })),
    }
}

fn create_user(session: &mut Session, user: NewUser) -> Result<Value, Error> {
    let mut fields = Map::new();
    fields.insert("username".into(), user.username.into());
    fields.insert("email".into(), user.email.into());
    insert_some(&mut fields, "firstName", user.first_name.map(Value::from));
    insert_some(&mut fields, "lastName", user.last_name.map(Value::from));
    fields.insert("enabled".into(), user.enabled.into());
    insert_some(
        &mut fields,
        "attributes",
        user.attributes.map(Value::Object),
    );
    let url = url(session, &["users"])?;
    let response = send(
        session,
        json_call(Method::Post, url, Some(&Value::Object(fields))),
    )?;
    if !response.is_success() {
        return Err(Error::new(api_error("createUser", &response)));
    }
    let created: Value = body("createUser", &response)?;
    let user_id = created["id"].clone();
    Ok(json!({ "user": created, "userId": user_id }))
}

fn update_user(session: &mut Session, changes: UserChanges) -> Result<Value, Error> {
    let mut fields = Map::new();
    insert_some(&mut fields, "email", changes.email.map(Value::from));
    insert_some(
        &mut fields,
        "firstName",
        changes.first_name.map(Value::from),
    );
    insert_some(&mut fields, "lastName", changes.last_name.map(Value::from));
    insert_some(&mut fields, "enabled", changes.enabled.map(Value::from));
    insert_some(
        &mut fields,
        "attributes",
        changes.attributes.map(Value::Object),
    );
    if fields.is_empty() {
        return Err(Error::invalid_input(
            "updateUser needs at least one of email, firstName, lastName, enabled, attributes",
        ));
    }
    let url = url(session, &["users", &changes.user_id])?;
    let response = send(
        session,
        json_call(Method::Patch, url, Some(&Value::Object(fields))),
    )?;
    match response.status {
        404 => Err(not_found(format!("user `{}`", changes.user_id), &response)),
        _ if !response.is_success() => Err(Error::new(api_error("updateUser", &response))),
        _ => Ok(json!({ "user": body::<Value>("updateUser", &response)? })),
    }
}

fn delete_user(session: &mut Session, user: UserRef) -> Result<Value, Error> {
    let url = url(session, &["users", &user.user_id])?;
    let response = send(session, json_call(Method::Delete, url, None))?;
    match response.status {
        404 => Err(not_found(format!("user `{}`", user.user_id), &response)),
        _ if !response.is_success() => Err(Error::new(api_error("deleteUser", &response))),
        _ => Ok(json!({ "userId": user.user_id, "deleted": true })),
    }
}

fn membership(session: &mut Session, member: Membership, method: Method) -> Result<Value, Error> {
    let action = if method == Method::Put {
        "addGroupMember"
    } else {
        "removeGroupMember"
    };
    let url = url(
        session,
        &["groups", &member.group_id, "members", &member.user_id],
    )?;
    let response = send(session, json_call(method, url, None))?;
    match response.status {
        404 => Err(not_found(
            format!("group `{}` or user `{}`", member.group_id, member.user_id),
            &response,
        )),
        _ if !response.is_success() => Err(Error::new(api_error(action, &response))),
        _ => Ok(json!({ "groupId": member.group_id, "userId": member.user_id })),
    }
}

/// Fetch a token (always a new one, so the credentials are really checked)
/// and read one user: proves the token endpoint, the client's rights and
/// the tenant id.
fn test(session: &mut Session) -> Result<Value, Error> {
    session.token(true).map_err(Error::new)?;
    let url = floh_sdk::http::append_query(
        &url(session, &["users"])?,
        &[("limit".into(), "1".into()), ("offset".into(), "0".into())],
    );
    let response = send(session, json_call(Method::Get, url, None))?;
    if !response.is_success() {
        return Err(Error::new(api_error("test", &response)));
    }
    let listed: ListPage = body("test", &response)?;
    Ok(json!({
        "tenant": session.config().tenant,
        "tenantId": session.config().tenant_id,
        "userCount": listed.total.unwrap_or(listed.items.len() as u64),
    }))
}

fn insert_some(fields: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(value) = value {
        fields.insert(name.into(), value);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::AuthifiConfig;
    use crate::fake::{BASE, FakeAuthifi, config_json};
    use floh_sdk::oauth2::MemoryTokenCache as MemoryCache;
    use floh_sdk::oauth2::TokenCache;

    /// Run one command as one execution: a fresh session, the shared cache.
    fn exec(
        api: &mut FakeAuthifi,
        cache: &MemoryCache,
        command: &str,
        params: Value,
    ) -> Result<Value, Error> {
        let config = AuthifiConfig::from_json(config_json()).expect("config");
        let mut session = Session::new(&config, api, cache);
        run(command, &params, &mut session).expect("a command")
    }

    fn token_requests(api: &FakeAuthifi) -> usize {
        api.calls
            .iter()
            .filter(|c| c.url.ends_with("/oauth2/token"))
            .count()
    }

    #[test]
    fn the_token_is_fetched_once_reused_and_refetched_once_after_a_401() {
        let (mut api, cache) = (FakeAuthifi::default(), MemoryCache::default());
        for _ in 0..3 {
            exec(&mut api, &cache, "listUsers", json!({})).expect("listed");
        }
        assert_eq!(token_requests(&api), 1, "the token was not reused");
        assert_eq!(cache.token.borrow().clone(), Some(("t-1".into(), 3570)));
        // Authifi revokes the token before it expires.
        api.issued += 1;
        exec(&mut api, &cache, "listUsers", json!({})).expect("listed after a refresh");
        assert_eq!(token_requests(&api), 2);
        assert_eq!(cache.get().as_deref(), Some("t-3"));
    }

    #[test]
    fn users_are_created_read_updated_listed_and_deleted() {
        let (mut api, cache) = (FakeAuthifi::default(), MemoryCache::default());
        let created = exec(
            &mut api,
            &cache,
            "createUser",
            json!({"username": "ada", "email": "ada@example.com", "firstName": "Ada", "attributes": {"dept": "R&D"}}),
        )
        .expect("created");
        assert_eq!(created["userId"], "u1");
        let sent = api.calls.last().expect("call");
        assert_eq!(
            (sent.method, sent.url.as_str()),
            (
                Method::Post,
                format!("{BASE}/api/v1/tenants/42/users").as_str()
            )
        );
        assert_eq!(
            serde_json::from_slice::<Value>(sent.body.as_deref().unwrap_or_default())
                .expect("json"),
            json!({"username": "ada", "email": "ada@example.com", "firstName": "Ada", "enabled": true, "attributes": {"dept": "R&D"}})
        );
        let error = exec(
            &mut api,
            &cache,
            "createUser",
            json!({"username": "ada", "email": "x@example.com"}),
        )
        .expect_err("taken");
        assert_eq!(
            error.message(),
            "createUser failed: authifi answered HTTP 409: conflict: username already exists"
        );
        exec(
            &mut api,
            &cache,
            "createUser",
            json!({"username": "bob", "email": "bob@example.com"}),
        )
        .expect("created");

        let user = exec(
            &mut api,
            &cache,
            "updateUser",
            json!({"userId": "u1", "enabled": false, "attributes": {"floor": 3}}),
        )
        .expect("updated");
        assert_eq!(
            user["user"]["attributes"],
            json!({"dept": "R&D", "floor": 3})
        );
        assert_eq!(user["user"]["enabled"], false);
        assert_eq!(user["user"]["firstName"], "Ada");
        let user = exec(&mut api, &cache, "getUser", json!({"userId": "u1"})).expect("read");
        assert_eq!(user["user"]["enabled"], false);

        let page = exec(
            &mut api,
            &cache,
            "listUsers",
            json!({"limit": 1, "offset": 1}),
        )
        .expect("listed");
        assert_eq!(page["total"], 2);
        assert_eq!(page["users"][0]["username"], "bob");
        assert!(
            api.calls
                .last()
                .expect("call")
                .url
                .ends_with("/users?limit=1&offset=1")
        );
        let page = exec(&mut api, &cache, "listUsers", json!({"filter": "ad"})).expect("listed");
        assert_eq!(
            (page["total"].clone(), page["users"][0]["id"].clone()),
            (json!(1), json!("u1"))
        );

        assert_eq!(
            exec(&mut api, &cache, "deleteUser", json!({"userId": "u1"})).expect("deleted"),
            json!({"userId": "u1", "deleted": true})
        );
        for command in ["getUser", "deleteUser"] {
            let error = exec(&mut api, &cache, command, json!({"userId": "u1"})).expect_err("gone");
            assert_eq!(
                error.message(),
                "user `u1` not found: not_found: user u1 does not exist",
                "{command}"
            );
        }
        assert_eq!(token_requests(&api), 1);
    }

    #[test]
    fn group_members_are_added_and_removed() {
        let (mut api, cache) = (
            FakeAuthifi::default().with_group("g1"),
            MemoryCache::default(),
        );
        exec(
            &mut api,
            &cache,
            "createUser",
            json!({"username": "ada", "email": "a@example.com"}),
        )
        .expect("created");
        let added = exec(
            &mut api,
            &cache,
            "addGroupMember",
            json!({"groupId": "g1", "userId": "u1"}),
        )
        .expect("added");
        assert_eq!(added, json!({"groupId": "g1", "userId": "u1"}));
        let sent = api.calls.last().expect("call");
        assert_eq!(
            (sent.method, sent.url.as_str()),
            (
                Method::Put,
                format!("{BASE}/api/v1/tenants/42/groups/g1/members/u1").as_str()
            )
        );
        let groups = exec(&mut api, &cache, "listGroups", json!({})).expect("listed");
        assert_eq!(
            (
                groups["total"].clone(),
                groups["groups"][0]["memberCount"].clone()
            ),
            (json!(1), json!(1))
        );
        exec(
            &mut api,
            &cache,
            "removeGroupMember",
            json!({"groupId": "g1", "userId": "u1"}),
        )
        .expect("removed");
        assert_eq!(api.calls.last().expect("call").method, Method::Delete);
        let error = exec(
            &mut api,
            &cache,
            "addGroupMember",
            json!({"groupId": "g9", "userId": "u1"}),
        )
        .expect_err("no group");
        assert!(
            error
                .message()
                .starts_with("group `g9` or user `u1` not found"),
            "{error}"
        );
    }

    #[test]
    fn test_fetches_a_new_token_and_names_refused_credentials() {
        let (mut api, cache) = (FakeAuthifi::default(), MemoryCache::default());
        exec(&mut api, &cache, "listUsers", json!({})).expect("listed");
        let data = exec(&mut api, &cache, "test", json!({})).expect("passes");
        assert_eq!(
            data,
            json!({"tenant": "prod", "tenantId": "42", "userCount": 0})
        );
        assert_eq!(
            token_requests(&api),
            2,
            "test must check the credentials afresh"
        );

        let config = AuthifiConfig::from_json(json!({"baseUrl": BASE, "tenant": "prod", "tenantId": "42", "clientId": "cid", "clientSecret": "wrong"}))
            .expect("config");
        let mut session = Session::new(&config, &mut api, &cache);
        let error = run("test", &json!({}), &mut session)
            .expect("command")
            .expect_err("refused");
        assert_eq!(
            error.message(),
            "the token endpoint answered HTTP 401: invalid_client: bad client credentials"
        );
    }

    #[test]
    fn bad_params_are_invalid_input_and_unknown_commands_are_none() {
        let (mut api, cache) = (FakeAuthifi::default(), MemoryCache::default());
        for (command, params) in [
            ("listUsers", json!({"limit": 0})),
            ("listUsers", json!({"limit": 1001})),
            ("updateUser", json!({"userId": "u1"})),
            ("getUser", json!({})),
            ("getUser", json!({"userId": ".."})),
            (
                "createUser",
                json!({"username": "x", "email": "e", "colour": "red"}),
            ),
        ] {
            let error = exec(&mut api, &cache, command, params.clone()).expect_err("invalid");
            assert_eq!(
                error,
                Error::invalid_input(error.message()),
                "{command} {params}"
            );
        }
        assert!(
            api.calls.is_empty(),
            "invalid params must not reach Authifi"
        );
        let config = AuthifiConfig::from_json(config_json()).expect("config");
        assert!(
            run(
                "frobnicate",
                &json!({}),
                &mut Session::new(&config, &mut api, &cache)
            )
            .is_none()
        );
    }
}
