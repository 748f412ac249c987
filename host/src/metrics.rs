//! Prometheus metrics: executions by connector, model and outcome, a
//! latency histogram by model, and the on-premise agents (connected or not,
//! commands in flight), read from the hub at scrape time, the requests
//! refused by a rate limit, and how script executions started (from their
//! snapshot or from bytecode).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::agent::hub::AgentStatus;
use crate::runtime::{ScriptRuns, SnapshotStats};
use crate::service::ExecutionResponse;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExecutionLabels {
    connector: String,
    model: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StartLabels {
    start: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SnapshotLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AgentLabels {
    agent: String,
}

/// The registry and the metrics in it.
pub struct Metrics {
    registry: Mutex<Registry>,
    executions: Family<ExecutionLabels, Counter>,
    latency: Family<ModelLabels, Histogram>,
    agent_connected: Family<AgentLabels, Gauge>,
    agent_in_flight: Family<AgentLabels, Gauge>,
    rate_limited: Family<LimitLabels, Counter>,
    script_runs: Family<StartLabels, Counter>,
    script_snapshots: Family<SnapshotLabels, Counter>,
    script_snapshots_loaded: Gauge,
    script_spares_used: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let executions = Family::<ExecutionLabels, Counter>::default();
        let latency = Family::<ModelLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0,
            ])
        });
        let mut registry = Registry::with_prefix("floh");
        registry.register(
            "executions",
            "Connector executions by outcome",
            executions.clone(),
        );
        registry.register(
            "execution_duration_seconds",
            "Connector execution wall time",
            latency.clone(),
        );
        let agent_connected = Family::<AgentLabels, Gauge>::default();
        registry.register(
            "agent_connected",
            "1 while the on-premise agent is connected, 0 after it went away",
            agent_connected.clone(),
        );
        let agent_in_flight = Family::<AgentLabels, Gauge>::default();
        registry.register(
            "agent_commands_in_flight",
            "Commands sent to the agent and not yet answered",
            agent_in_flight.clone(),
        );
        let rate_limited = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rate_limited_requests",
            "Requests refused by a rate limit (`token` or `execution`)",
            rate_limited.clone(),
        );
        let script_runs = Family::<StartLabels, Counter>::default();
        registry.register(
            "script_runs",
            "Script executions by where they started: `snapshot` (the script's \
             image after its top level) or `bytecode` (top level evaluated)",
            script_runs.clone(),
        );
        let script_snapshots = Family::<SnapshotLabels, Counter>::default();
        registry.register(
            "script_snapshots",
            "Script snapshot events: `built`, `loaded_from_disk`, `refused`, \
             `failed`, `corrupt_file`, `unloaded`",
            script_snapshots.clone(),
        );
        let script_snapshots_loaded = Gauge::default();
        registry.register(
            "script_snapshots_loaded",
            "Script snapshots loaded now",
            script_snapshots_loaded.clone(),
        );
        let script_spares_used = Counter::default();
        registry.register(
            "script_spare_instances_used",
            "Script executions that started in an instance made ahead of \
             need (fresh, never run in) rather than instantiated inline",
            script_spares_used.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            executions,
            latency,
            agent_connected,
            agent_in_flight,
            rate_limited,
            script_runs,
            script_snapshots,
            script_snapshots_loaded,
            script_spares_used,
        }
    }
}

impl Metrics {
    /// Count one execution. The outcome is `success`, `failure` (the
    /// connector returned `success: false`) or the execution error code.
    pub fn observe(&self, response: &ExecutionResponse) {
        let model = response.execution_model.as_str().to_string();
        let outcome = match (&response.error_code, response.success) {
            (Some(code), _) => code.to_lowercase(),
            (None, true) => "success".into(),
            (None, false) => "failure".into(),
        };
        self.executions
            .get_or_create(&ExecutionLabels {
                connector: response.connector.clone(),
                model: model.clone(),
                outcome,
            })
            .inc();
        self.latency
            .get_or_create(&ModelLabels { model })
            .observe(response.duration_ms as f64 / 1000.0);
    }

    /// The counter of requests refused by the `limit` rate limit (`token`,
    /// `execution`); the limiter increments it itself.
    pub fn rate_limit_refusals(&self, limit: &str) -> Counter {
        self.rate_limited
            .get_or_create(&LimitLabels {
                limit: limit.to_string(),
            })
            .clone()
    }

    /// The text exposition format, with the agents and the script engine's
    /// counters as they are now.
    pub fn render(&self, agents: &[AgentStatus], scripts: (SnapshotStats, ScriptRuns)) -> String {
        self.observe_scripts(scripts);
        self.agent_connected.clear();
        self.agent_in_flight.clear();
        for agent in agents {
            let labels = AgentLabels {
                agent: agent.agent_id.clone(),
            };
            self.agent_connected
                .get_or_create(&labels)
                .set(i64::from(agent.status == "connected"));
            self.agent_in_flight
                .get_or_create(&labels)
                .set(agent.in_flight as i64);
        }
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
            text.clear();
        }
        text
    }

    /// Bring the script counters up to the engine's totals (which only grow).
    fn observe_scripts(&self, (snapshots, runs): (SnapshotStats, ScriptRuns)) {
        let catch_up = |counter: &Counter, total: u64| {
            counter.inc_by(total.saturating_sub(counter.get()));
        };
        for (start, total) in [
            ("snapshot", runs.from_snapshot),
            ("bytecode", runs.from_bytecode),
        ] {
            let labels = StartLabels {
                start: start.into(),
            };
            catch_up(&self.script_runs.get_or_create(&labels), total);
        }
        catch_up(&self.script_spares_used, runs.on_spare);
        for (outcome, total) in [
            ("built", snapshots.built),
            ("loaded_from_disk", snapshots.loaded_from_disk),
            ("refused", snapshots.refused),
            ("failed", snapshots.failed),
            ("corrupt_file", snapshots.corrupt_files),
            ("unloaded", snapshots.unloaded),
        ] {
            let labels = SnapshotLabels {
                outcome: outcome.into(),
            };
            catch_up(&self.script_snapshots.get_or_create(&labels), total);
        }
        self.script_snapshots_loaded
            .set(i64::try_from(snapshots.loaded).unwrap_or(i64::MAX));
    }
}
