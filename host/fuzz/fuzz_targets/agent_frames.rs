//! Agent WebSocket frames, both ways: any text as a frame the server reads
//! from an agent (registration, responses) and as one an agent reads from
//! the server (the registration's answer and the terms it sets, commands
//! with their sealed config).
#![no_main]

use floh::agent::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8: tungstenite refuses anything else before us.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    fuzzing::server_reads(text);
    fuzzing::agent_reads(text);
});
