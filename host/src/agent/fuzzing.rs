//! Frames from a hostile peer through everything each side does with them
//! short of I/O: for the fuzz targets in `host/fuzz` (and a unit test that
//! keeps them compiling).

use std::time::Duration;

use x25519_dalek::StaticSecret;

use super::protocol::{AgentMessage, Registration, ServerMessage};
use super::{client, dispatch, endpoint, seal};
use crate::redact::SecretRedactor;
use crate::runtime::{Invocation, InvocationMetadata};
use crate::secrets::secret_values;

/// What the server does with a frame from an agent: the first one as the
/// registration (the checks that need no store), any other as a message;
/// a response becomes the execution the server keeps.
pub fn server_reads(text: &str) {
    if let Ok(registration) = serde_json::from_str::<Registration>(text) {
        let _ = endpoint::check_identity(&registration);
        let _ = seal::parse_public_key(&registration.public_key);
        let _ = format!("{registration:?}");
    }
    if let Ok(AgentMessage::Response(response)) = serde_json::from_str::<AgentMessage>(text) {
        let invocation = Invocation {
            command: "fuzz".into(),
            params: serde_json::json!({}),
            variables: serde_json::json!({}),
            metadata: InvocationMetadata::default(),
        };
        let execution = dispatch::from_response(*response, &invocation, "agent-fuzz");
        let execution = dispatch::masked_again(execution, &SecretRedactor::new(["s3cret"]));
        let _ = execution.outcome.is_ok();
    }
}

/// What an agent does with a frame from the server: the answer to its
/// registration (and the connection's terms it sets), and a command up to
/// running it: the sealed config opened and the secrets to mask found.
pub fn agent_reads(text: &str) {
    if let Ok(Some(terms)) = client::read_registered(text) {
        let slots = terms.slots();
        let _ = slots.available_permits();
        let _ = terms.silence_limit();
        let _ = terms.watchdog_period();
    }
    let Ok(ServerMessage::Command(command)) = serde_json::from_str::<ServerMessage>(text) else {
        return;
    };
    let _ = Duration::from_millis(command.timeout_ms);
    let key = StaticSecret::from([7; 32]);
    let Ok(plaintext) = seal::open(&key, &command.command_id, &command.config) else {
        return;
    };
    if let Ok(config) = serde_json::from_slice::<serde_json::Value>(&plaintext) {
        let schema = command.config_schema.clone().unwrap_or_default();
        let _ = SecretRedactor::new(secret_values(&config, &schema));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_frames_are_read_without_panicking() {
        for frame in [
            "",
            "{}",
            r#"{"type":"registered","serverVersion":"x","heartbeatSeconds":5,"maxInFlight":8}"#,
            r#"{"type":"response","commandId":"c","success":false,"errorCode":"X","durationMs":1}"#,
            r#"{"agentId":"a","agentName":"A","connectorNames":["c"],"apiToken":"t","publicKey":"AAAA"}"#,
        ] {
            server_reads(frame);
            agent_reads(frame);
        }
    }
}
