//! `floh mcp`: MCP on stdin/stdout for clients that launch a process
//! (Claude Desktop, Cursor, …), bridged message by message to a running
//! server's `/mcp`. The tools live once, in the server; this process never
//! opens the data directory (the server owns it) and logs to stderr only,
//! since stdout carries the protocol.

use anyhow::Context as _;
use rmcp::model::{ClientJsonRpcMessage, ErrorData, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::{RoleClient, RoleServer};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{IntoTransport, StreamableHttpClientTransport, Transport};

/// Bridge stdin/stdout to `server`'s `/mcp` with `token` until the client
/// closes stdin or the server goes away. The caller should exit the process
/// afterwards: Tokio's stdin reader is a blocking thread that would keep the
/// runtime alive until the client writes again.
pub async fn run(server: &str, token: Option<String>) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let token = token.filter(|t| !t.is_empty()).context(
        "FLOH_TOKEN is not set: `floh mcp` talks to a running server with an API token (floh token create --name ai --role admin|executor)",
    )?;
    let url = format!("{}{}", server.trim_end_matches('/'), super::http::PATH);
    let config = StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header(token);
    let mut remote = StreamableHttpClientTransport::from_config(config);
    let mut local = IntoTransport::<RoleServer, _, _>::into_transport(rmcp::transport::stdio());
    tracing::info!(%url, "bridging MCP from stdin/stdout");
    // Requests run concurrently (a long tool call must not hold up a
    // cancellation or a second request); failures come back here as
    // JSON-RPC errors for the request that failed. Everything else
    // (the handshake, notifications, replies) is sent in order and
    // acknowledged before the next message is read: a request that overtook
    // the `initialized` notification would reach a session that is not
    // ready, and the server would drop it.
    let (failures, mut failed) = tokio::sync::mpsc::channel::<ServerJsonRpcMessage>(16);
    let mut first = true;
    loop {
        tokio::select! {
            message = local.receive() => {
                let Some(message) = message else { break };
                let id = request_id(&message);
                let in_order = std::mem::take(&mut first) || id.is_none();
                let sending = Transport::<RoleClient>::send(&mut remote, message);
                let failures = failures.clone();
                let url = url.clone();
                let forward = async move {
                    if let Err(error) = sending.await {
                        tracing::error!(%url, %error, "the Floh server did not take a message");
                        if let Some(id) = id {
                            let error = ErrorData::internal_error(
                                format!("the Floh server at {url} did not accept the request: {error}"),
                                None,
                            );
                            let _ = failures.send(ServerJsonRpcMessage::error(error, Some(id))).await;
                        }
                    }
                };
                if in_order {
                    forward.await;
                } else {
                    tokio::spawn(forward);
                }
            }
            message = Transport::<RoleClient>::receive(&mut remote) => {
                let Some(message) = message else {
                    // Tell the client why its requests failed, then stop.
                    while let Ok(failure) = failed.try_recv() {
                        let _ = Transport::<RoleServer>::send(&mut local, failure).await;
                    }
                    tracing::error!(%url, "the connection to the Floh server closed");
                    break;
                };
                Transport::<RoleServer>::send(&mut local, message)
                    .await
                    .context("writing to stdout")?;
            }
            Some(message) = failed.recv() => {
                Transport::<RoleServer>::send(&mut local, message)
                    .await
                    .context("writing to stdout")?;
            }
        }
    }
    let _ = Transport::<RoleClient>::close(&mut remote).await;
    Ok(())
}

fn request_id(message: &ClientJsonRpcMessage) -> Option<rmcp::model::RequestId> {
    match message {
        JsonRpcMessage::Request(request) => Some(request.id.clone()),
        _ => None,
    }
}
