//! Prometheus metrics: executions by connector, model and outcome, and a
//! latency histogram by model.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

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

/// The registry and the metrics in it.
pub struct Metrics {
    registry: Mutex<Registry>,
    executions: Family<ExecutionLabels, Counter>,
    latency: Family<ModelLabels, Histogram>,
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
        Self {
            registry: Mutex::new(registry),
            executions,
            latency,
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

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
            text.clear();
        }
        text
    }
}
