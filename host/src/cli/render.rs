//! What the CLI prints for people: the API's JSON answers turned into
//! tables and short summaries. `-o json` bypasses all of it.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::table::Table;

fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn or_dash(value: String) -> String {
    if value.is_empty() { "-".into() } else { value }
}

fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn names(value: &Value) -> String {
    items(value).iter().map(text).collect::<Vec<_>>().join(", ")
}

/// "3s ago", "5m ago", "2h ago", "4d ago" for a Unix-milliseconds time.
fn ago(at_ms: &Value) -> String {
    let Some(at_ms) = at_ms.as_u64() else {
        return "-".into();
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(at_ms);
    let seconds = now_ms.saturating_sub(at_ms) / 1000;
    match seconds {
        0..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86400),
    }
}

/// Which agent serves each connector, from `GET /api/agents`: the
/// connected ones first.
fn agent_of(connector: &str, agents: &Value) -> String {
    let serving: Vec<&Value> = items(agents)
        .iter()
        .filter(|a| items(&a["connectorNames"]).iter().any(|n| n == connector))
        .collect();
    let connected: Vec<String> = serving
        .iter()
        .filter(|a| a["status"] == "connected")
        .map(|a| text(&a["agentId"]))
        .collect();
    if !connected.is_empty() {
        connected.join(", ")
    } else if let Some(agent) = serving.first() {
        format!("{} ({})", text(&agent["agentId"]), text(&agent["status"]))
    } else {
        "-".into()
    }
}

fn command_count(descriptor: &Value) -> usize {
    descriptor["configSchema"]["commands"]
        .as_object()
        .map_or(0, |c| c.len())
}

/// `floh connector list`.
pub fn connectors(list: &Value, agents: &Value) -> String {
    let mut table = Table::new(&["NAME", "MODEL", "TYPE", "COMMANDS", "AGENT", "LAST"]);
    for connector in items(list) {
        let name = text(&connector["name"]);
        let last = &connector["lastExecution"];
        let last = if last.is_object() {
            // `status` is `ok` whenever the connector answered, even with
            // `success: false`.
            let outcome = match (last["success"] == true, last["status"].as_str()) {
                (true, _) => "ok".to_string(),
                (false, Some("ok") | None) => "failed".to_string(),
                (false, Some(code)) => code.to_string(),
            };
            format!("{outcome} {}", ago(&last["startedAtMs"]))
        } else {
            "-".into()
        };
        table.row([
            name.clone(),
            text(&connector["executionModel"]),
            or_dash(text(&connector["type"])),
            // The listing names each connector's commands.
            connector["commands"]
                .as_array()
                .map_or(0, Vec::len)
                .to_string(),
            agent_of(&name, agents),
            last,
        ]);
    }
    table.render("no connectors")
}

/// `floh connector get`: the definition as fields, config masked as the
/// API returns it, commands as a table.
pub fn connector(view: &Value) -> String {
    let mut out = String::new();
    let fields = [
        ("Name", &view["name"]),
        ("Id", &view["id"]),
        ("Model", &view["executionModel"]),
        ("Type", &view["type"]),
        ("Version", &view["version"]),
        ("Description", &view["description"]),
        ("Category", &view["category"]),
        ("Endpoint", &view["endpointUrl"]),
        ("Log level", &view["logLevel"]),
        ("OAuth2", &view["oauth"]["state"]),
    ];
    for (label, value) in fields {
        if !value.is_null() {
            let _ = writeln!(out, "{label:<13}{}", text(value));
        }
    }
    for (label, list) in [
        ("Tags", &view["tags"]),
        ("Networks", &view["allowedNetworks"]),
    ] {
        if !items(list).is_empty() {
            let _ = writeln!(out, "{label:<13}{}", names(list));
        }
    }
    if let Some(config) = view["config"].as_object().filter(|c| !c.is_empty()) {
        out.push_str("\nConfig\n");
        let mut table = Table::new(&["  FIELD", "VALUE"]);
        for (field, value) in config {
            table.row([format!("  {field}"), text(value)]);
        }
        out.push_str(&table.render(""));
    }
    if let Some(commands) = view["configSchema"]["commands"].as_object() {
        out.push_str("\nCommands\n");
        let mut table = Table::new(&["  NAME", "PARAMS", "DESCRIPTION"]);
        for (name, command) in commands {
            table.row([
                format!("  {name}"),
                or_dash(names(&command["params"])),
                text(&command["description"]),
            ]);
        }
        out.push_str(&table.render("  none"));
    }
    out
}

/// `floh connector import-openapi` without `--create`: what the draft has.
pub fn draft(draft: &Value) -> String {
    let definition = &draft["definition"];
    let mut out = format!(
        "{} (OpenAPI {}): {} commands, {} operations skipped\n",
        text(&definition["name"]),
        text(&draft["specVersion"]),
        command_count(definition),
        items(&draft["skipped"]).len(),
    );
    out.push_str(&skipped(&draft["skipped"]));
    out.push_str(&warnings(&draft["warnings"]));
    out.push_str("use --create to create it, or -o json for the whole draft\n");
    out
}

/// `floh connector import-openapi --create`.
pub fn imported(created: &Value, skipped_operations: &Value, notes: &Value) -> String {
    let mut out = format!(
        "created connector {} ({}) with {} commands\n",
        text(&created["name"]),
        text(&created["id"]),
        command_count(created),
    );
    out.push_str(&skipped(skipped_operations));
    out.push_str(&warnings(notes));
    out
}

/// A draft's warnings: what to set before connecting.
fn warnings(list: &Value) -> String {
    items(list)
        .iter()
        .map(|warning| format!("before connecting: {}\n", text(warning)))
        .collect()
}

fn skipped(list: &Value) -> String {
    let mut table = Table::new(&["SKIPPED", "REASON"]);
    for operation in items(list) {
        table.row([text(&operation["operation"]), text(&operation["reason"])]);
    }
    table.render("")
}

/// `floh exec` and `floh test`: outcome, data, logs and HTTP calls.
pub fn execution(response: &Value) -> String {
    let mut out = String::new();
    let duration = text(&response["durationMs"]);
    if response["success"] == true {
        let _ = writeln!(out, "ok in {duration} ms");
    } else {
        let code = or_dash(text(&response["errorCode"]));
        let _ = writeln!(
            out,
            "failed in {duration} ms ({code}): {}",
            text(&response["error"])
        );
    }
    for (label, value) in [
        ("data", &response["data"]),
        ("outputVariables", &response["outputVariables"]),
    ] {
        if !value.is_null() {
            let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
            let _ = writeln!(out, "{label}: {pretty}");
        }
    }
    if !items(&response["logs"]).is_empty() {
        out.push_str("logs:\n");
        for entry in items(&response["logs"]) {
            let at = entry.get("atMs").or_else(|| entry.get("at_ms"));
            let _ = writeln!(
                out,
                "  {:>5} ms  {:<5}  {}",
                at.map(text).unwrap_or_default(),
                text(&entry["level"]),
                text(&entry["message"])
            );
        }
    }
    if !items(&response["httpCalls"]).is_empty() {
        let mut table = Table::new(&["  HTTP", "URL", "STATUS", "MS"]);
        for call in items(&response["httpCalls"]) {
            table.row([
                format!("  {}", text(&call["method"])),
                text(&call["url"]),
                or_dash(text(&call["status"])),
                text(&call["durationMs"]),
            ]);
        }
        out.push_str(&table.render(""));
    }
    out
}

/// `floh agent list`.
pub fn agents(list: &Value) -> String {
    let mut table = Table::new(&[
        "ID",
        "NAME",
        "STATUS",
        "CONNECTORS",
        "IN FLIGHT",
        "HEARTBEAT",
        "VERSION",
    ]);
    for agent in items(list) {
        table.row([
            text(&agent["agentId"]),
            text(&agent["agentName"]),
            text(&agent["status"]),
            names(&agent["connectorNames"]),
            text(&agent["inFlight"]),
            ago(&agent["lastHeartbeatMs"]),
            or_dash(text(&agent["version"])),
        ]);
    }
    table.render("no agents")
}

/// `floh agent token list`.
pub fn agent_tokens(list: &Value) -> String {
    let mut table = Table::new(&["ID", "NAME", "CREATED", "EXPIRES", "STATE", "CONNECTORS"]);
    for token in items(list) {
        let state = if !token["revokedAtMs"].is_null() {
            "revoked"
        } else {
            "active"
        };
        table.row([
            text(&token["id"]),
            text(&token["name"]),
            ago(&token["createdAtMs"]),
            token["expiresAtMs"]
                .as_u64()
                .map_or("never".into(), |ms| ms.to_string()),
            state.into(),
            or_dash(names(&token["connectors"])),
        ]);
    }
    table.render("no agent tokens")
}

/// A token just issued: shown once, so it stands on a line of its own.
pub fn issued(kind: &str, issued: &Value) -> String {
    format!(
        "{kind} {} ({}) issued; it is shown only this once:\n{}\n",
        text(&issued["name"]),
        text(&issued["id"]),
        text(&issued["token"]),
    )
}

/// `floh plugin list`.
pub fn plugins(list: &Value) -> String {
    let mut table = Table::new(&["FILE", "STATUS", "TYPE", "VERSION", "REASON"]);
    for plugin in items(list) {
        table.row([
            text(&plugin["file"]),
            text(&plugin["status"]),
            or_dash(text(&plugin["typeName"])),
            or_dash(text(&plugin["version"])),
            text(&plugin["error"]),
        ]);
    }
    table.render("no plugins")
}

/// `floh connector types`.
pub fn types(list: &Value) -> String {
    let mut table = Table::new(&["TYPE", "VERSION", "SOURCE", "COMMANDS", "DESCRIPTION"]);
    for descriptor in items(list) {
        table.row([
            text(&descriptor["name"]),
            text(&descriptor["version"]),
            text(&descriptor["source"]),
            command_count(descriptor).to_string(),
            text(&descriptor["description"]),
        ]);
    }
    table.render("no connector types")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_draft_says_what_to_set_before_connecting() {
        let shown = draft(&json!({
            "definition": {"name": "petstore"},
            "specVersion": "3.0",
            "skipped": [],
            "warnings": ["oauth2.tokenUrl is not set"]
        }));
        assert!(
            shown.contains("before connecting: oauth2.tokenUrl is not set"),
            "{shown}"
        );
        let created = imported(&json!({"name": "p", "id": "con_1"}), &json!([]), &json!([]));
        assert!(!created.contains("before connecting"), "{created}");
    }

    #[test]
    fn a_connector_row_shows_model_type_commands_and_its_agent() {
        let list = json!([{
            "name": "ldap", "executionModel": "script", "type": "ldap",
            "commands": ["search", "test"],
            "lastExecution": {"success": false, "status": "TIMEOUT", "startedAtMs": 0}
        }]);
        let agents =
            json!([{"agentId": "dc-1", "status": "connected", "connectorNames": ["ldap"]}]);
        let text = connectors(&list, &agents);
        let row = text.lines().nth(1).expect("a row");
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells[..6],
            ["ldap", "script", "ldap", "2", "dc-1", "TIMEOUT"],
            "{text}"
        );
    }

    #[test]
    fn a_failed_execution_says_why_on_its_first_line() {
        let response = json!({"success": false, "errorCode": "TIMEOUT", "error": "too slow", "durationMs": 30000,
            "httpCalls": [{"method": "GET", "url": "https://x/y", "status": 200, "durationMs": 3}]});
        let text = execution(&response);
        assert_eq!(
            text.lines().next(),
            Some("failed in 30000 ms (TIMEOUT): too slow")
        );
        assert!(
            text.contains("GET") && text.contains("https://x/y"),
            "{text}"
        );
    }

    #[test]
    fn an_issued_token_stands_on_its_own_line() {
        let issued = issued(
            "token",
            &json!({"name": "ci", "id": "tok-1", "token": "secret-value"}),
        );
        assert_eq!(issued.lines().last(), Some("secret-value"));
    }
}
