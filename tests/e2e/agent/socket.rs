//! The agent WebSocket from a hand-written client: refusals and their close
//! codes, size limits, garbage frames, heartbeats, and what a command
//! actually carries (a config only the registered key opens).

use std::time::Duration;

use floh::agent::keys::AgentKey;
use floh::agent::protocol::{AgentCommand, ServerMessage};
use floh::agent::seal;
use floh_e2e::{Server, ServerSettings, eventually};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{agents, fetcher, issue_token};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &Server) -> Socket {
    let url = format!(
        "{}/api/connectors/agents/ws",
        server.url.replace("http://", "ws://")
    );
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects")
        .0
}

fn registration(token: &str, key: &AgentKey, connectors: &[&str]) -> Value {
    json!({
        "agentId": "raw-agent",
        "agentName": "Raw agent",
        "connectorNames": connectors,
        "apiToken": token,
        "publicKey": key.public_base64(),
    })
}

async fn send(socket: &mut Socket, message: Message) {
    socket.send(message).await.expect("send");
}

async fn next_text(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("readable");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

/// Read until the close frame; its code and reason.
async fn close_frame(socket: &mut Socket) -> (CloseCode, String) {
    close_frame_of(socket).await
}

async fn close_frame_of<S>(socket: &mut S) -> (CloseCode, String)
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("closed in time");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (frame.code, frame.reason.to_string());
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Send `first` as the opening frame and expect an `error` message with
/// `code`, then a close frame with `close`.
async fn refused(server: &Server, first: Message, code: &str, close: CloseCode) {
    let mut socket = connect(server).await;
    send(&mut socket, first).await;
    let error = next_text(&mut socket).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["code"], code, "{error}");
    let (close_code, reason) = close_frame(&mut socket).await;
    assert_eq!(close_code, close, "{reason}");
    assert!(reason.starts_with(code), "{reason}");
}

#[tokio::test]
async fn registrations_and_frames_are_policed_with_reasons() {
    let data = tempfile::tempdir().expect("dir");
    let server = Server::start(&data.path().join("data"));
    let api = server.admin();
    let definition = fetcher("ldap", "http://127.0.0.1:9", "k");
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    let token = issue_token(&api, "raw", None).await;
    let key = AgentKey::load_or_create(&data.path().join("key")).expect("key");
    let text = |value: Value| Message::Text(value.to_string().into());

    refused(
        &server,
        Message::Text("hello".into()),
        "INVALID_REGISTRATION",
        CloseCode::Invalid,
    )
    .await;
    refused(
        &server,
        Message::Binary(vec![1, 2, 3].into()),
        "UNSUPPORTED_FRAME",
        CloseCode::Unsupported,
    )
    .await;
    refused(
        &server,
        text(registration("flo_agent_wrong", &key, &["ldap"])),
        "INVALID_TOKEN",
        CloseCode::Policy,
    )
    .await;
    refused(
        &server,
        text(registration(&token, &key, &["ldap", "nope"])),
        "UNKNOWN_CONNECTOR",
        CloseCode::Policy,
    )
    .await;
    // A token scoped to other connectors cannot claim this one.
    let (status, scoped) = api
        .post(
            "/api/agents/tokens",
            json!({"name": "site-b", "connectors": ["crm"]}),
        )
        .await;
    assert_eq!(status, 201, "{scoped}");
    assert_eq!(scoped["connectors"], json!(["crm"]));
    let scoped = scoped["token"].as_str().expect("token");
    refused(
        &server,
        text(registration(scoped, &key, &["ldap"])),
        "FORBIDDEN_CONNECTOR",
        CloseCode::Policy,
    )
    .await;
    let (status, _) = api
        .post("/api/agents/tokens", json!({"name": "x", "connectors": []}))
        .await;
    assert_eq!(status, 400);
    let mut weak = registration(&token, &key, &["ldap"]);
    weak["publicKey"] = json!("AAAA");
    refused(&server, text(weak), "INVALID_PUBLIC_KEY", CloseCode::Policy).await;
    let mut extra = registration(&token, &key, &["ldap"]);
    extra["admin"] = json!(true);
    refused(
        &server,
        text(extra),
        "INVALID_REGISTRATION",
        CloseCode::Invalid,
    )
    .await;

    // After a good registration: garbage, then an oversized frame.
    let mut socket = connect(&server).await;
    send(&mut socket, text(registration(&token, &key, &["ldap"]))).await;
    let registered = next_text(&mut socket).await;
    assert_eq!(registered["type"], "registered", "{registered}");
    assert!(registered["heartbeatSeconds"].as_u64() > Some(0));
    send(&mut socket, Message::Text("{\"type\":\"launch\"}".into())).await;
    let error = next_text(&mut socket).await;
    assert_eq!(error["code"], "INVALID_MESSAGE", "{error}");
    assert_eq!(close_frame(&mut socket).await.0, CloseCode::Invalid);

    let mut socket = connect(&server).await;
    send(&mut socket, text(registration(&token, &key, &["ldap"]))).await;
    assert_eq!(next_text(&mut socket).await["type"], "registered");
    // Send while reading: the server closes before taking the whole frame.
    let (mut sink, mut stream) = socket.split();
    let huge = "x".repeat(2 * 1024 * 1024);
    let sending = tokio::spawn(async move { sink.send(Message::Text(huge.into())).await });
    let (code, reason) = close_frame_of(&mut stream).await;
    let _ = sending.await;
    assert_eq!(code, CloseCode::Size, "{reason}");
    assert!(reason.starts_with("MESSAGE_TOO_LARGE"), "{reason}");
}

#[tokio::test]
async fn an_agent_that_stops_answering_pings_is_dropped() {
    let data = tempfile::tempdir().expect("dir");
    let settings = ServerSettings {
        extra_args: vec!["--agent-heartbeat-seconds".into(), "1".into()],
        ..ServerSettings::default()
    };
    let server = Server::start_with(&data.path().join("data"), settings).expect("server");
    let api = server.admin();
    let definition = fetcher("ldap", "http://127.0.0.1:9", "k");
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    let token = issue_token(&api, "silent", None).await;
    let key = AgentKey::load_or_create(&data.path().join("key")).expect("key");
    let mut socket = connect(&server).await;
    let first = registration(&token, &key, &["ldap"]).to_string();
    send(&mut socket, Message::Text(first.into())).await;
    assert_eq!(next_text(&mut socket).await["type"], "registered");
    // Never read again: no pong goes back.
    let dropped = eventually(Duration::from_secs(30), || async {
        let listed = agents(&api).await;
        (listed[0]["status"] == "disconnected").then_some(())
    })
    .await;
    assert!(dropped.is_some(), "{}", server.printed());
    assert!(server.printed().contains("HEARTBEAT_TIMEOUT"));
    drop(socket);

    // A token that expires while its agent is connected ends the session
    // (the agent keeps answering pings, so only the expiry can end it).
    let expiring = issue_token(&api, "brief", Some(2)).await;
    let mut socket = connect(&server).await;
    let first = registration(&expiring, &key, &["ldap"]).to_string();
    send(&mut socket, Message::Text(first.into())).await;
    assert_eq!(next_text(&mut socket).await["type"], "registered");
    let error = next_text(&mut socket).await;
    assert_eq!(error["code"], "TOKEN_EXPIRED", "{error}");
    assert_eq!(close_frame(&mut socket).await.0, CloseCode::Policy);
}

#[tokio::test]
async fn the_config_in_a_command_opens_only_with_the_registered_key() {
    const API_KEY: &str = "sk-sealed-in-transit-8812";
    let data = tempfile::tempdir().expect("dir");
    let server = Server::start(&data.path().join("data"));
    let api = server.admin();
    let definition = fetcher("vault", "http://10.1.2.3", API_KEY);
    assert_eq!(api.post("/api/connectors", definition).await.0, 201);
    let token = issue_token(&api, "raw", None).await;
    let own = AgentKey::load_or_create(&data.path().join("own")).expect("key");
    let other = AgentKey::load_or_create(&data.path().join("other")).expect("key");

    let mut socket = connect(&server).await;
    let registration = registration(&token, &own, &["vault"]).to_string();
    send(&mut socket, Message::Text(registration.into())).await;
    assert_eq!(next_text(&mut socket).await["type"], "registered");

    let caller = api.clone();
    let execution = tokio::spawn(async move {
        caller
            .post(
                "/api/connectors/vault/execute",
                json!({"command": "fetch", "params": {"path": "/x"}, "variables": {"run": 7}}),
            )
            .await
    });
    let raw = next_text(&mut socket).await;
    assert!(
        !raw.to_string().contains(API_KEY),
        "clear secret on the wire"
    );
    let ServerMessage::Command(command) = serde_json::from_value(raw.clone()).expect("a command")
    else {
        panic!("expected a command: {raw}");
    };
    let command: AgentCommand = *command;
    assert_eq!(command.connector_name, "vault");
    assert_eq!(command.params, json!({"path": "/x"}));
    assert_eq!(command.variables, json!({"run": 7}));
    assert!(command.script_source.is_some());

    // Another agent's key, or the right key for another command: no.
    assert_eq!(
        seal::open(other.secret(), &command.command_id, &command.config),
        Err(seal::SealError::Unopenable)
    );
    assert_eq!(
        seal::open(own.secret(), "cmd_other", &command.config),
        Err(seal::SealError::Unopenable)
    );
    let config: Value = serde_json::from_slice(
        &seal::open(own.secret(), &command.command_id, &command.config).expect("opens"),
    )
    .expect("JSON");
    assert_eq!(config["apiKey"], API_KEY);

    // Answer like an agent would; the API returns it (masked again).
    let response = json!({
        "type": "response",
        "commandId": command.command_id,
        "success": true,
        "data": {"answered": "by hand"},
        "durationMs": 1,
        "logs": [{"level": "info", "message": format!("leaked {API_KEY}"), "atMs": 0}],
        "httpCalls": []
    });
    send(&mut socket, Message::Text(response.to_string().into())).await;
    let (status, result) = execution.await.expect("execution");
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["data"], json!({"answered": "by hand"}));
    assert_eq!(result["logs"][0]["message"], "leaked ***", "{result}");
}
