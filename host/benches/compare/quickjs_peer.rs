//! The in-process peer of the JSON-shaping report, run beside it: the same
//! handler in quickjs-emscripten (`quickjs_emscripten.mjs --serve`, under
//! Node). The report asks it for a batch of calls after each batch of its
//! own, so both are measured in the same minutes of a machine whose speed
//! drifts by tens of percent from one minute to the next; two runs one after
//! the other gave ratios from 0.7 to 1.8 for the same builds.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// A running peer.
pub struct Peer {
    child: Child,
    requests: ChildStdin,
    answers: BufReader<ChildStdout>,
}

impl Peer {
    /// The peer installed in `FLOH_BENCH_PEER_DIR` (as `just bench-js`
    /// installs it), or `None` when that is not set.
    pub fn from_env() -> Option<Self> {
        let peers = std::env::var_os("FLOH_BENCH_PEER_DIR")?;
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/compare/quickjs_emscripten.mjs"
        );
        let mut child = Command::new("node")
            .arg(script)
            .arg(peers)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the quickjs-emscripten peer (node)");
        let requests = child.stdin.take().expect("piped stdin");
        let answers = BufReader::new(child.stdout.take().expect("piped stdout"));
        Some(Self {
            child,
            requests,
            answers,
        })
    }

    /// The wall times (µs) of `calls` warm `report()` calls, each with its
    /// result brought to the host, alternated with `ping()` calls.
    pub fn report_calls(&mut self, calls: usize) -> Vec<f64> {
        writeln!(self.requests, "{calls}").expect("asking the peer");
        let mut line = String::new();
        self.answers
            .read_line(&mut line)
            .expect("the peer's answer");
        let answer: serde_json::Value = serde_json::from_str(&line).expect("a JSON answer");
        answer["report"]
            .as_array()
            .expect("report timings")
            .iter()
            .filter_map(serde_json::Value::as_f64)
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
