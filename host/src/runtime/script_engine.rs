//! [`ScriptEngine`]: compile JavaScript once, run commands many times, each in
//! a fresh sandbox instance.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::HostCalls;
use super::artefact_cache::ArtefactCache;
use super::engine_wasm::{ENGINE_WASM, engine_version};
use super::execution::{ConnectorResult, Execution, ExecutionContext, ExecutionError, Invocation};
use super::host_state::{HostState, linker};
use super::limits::{ExecutionLimits, MemoryLimiter};
use super::prepared::{
    self, BuilderSetup, PreparedScripts, ScriptKey, SnapshotOptions, SnapshotStats, SnapshotStatus,
};
use super::spares::{Image, ImageId, Spares, Turn};
use super::stores::StoreFactory;
use super::wasm_engine::{EPOCH_TICK, PoolSizing, WasmEngine};
use crate::bindings::{RunError, ScriptEnginePre, types};
use crate::egress::resolver::HttpClients;
use crate::redact::SecretRedactor;

/// Images (recently used scripts' snapshots, and the engine) kept with
/// instances made ahead of need; see [`Spares`].
const SPARE_IMAGES: usize = 32;

/// How long `compile` may take.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(10);

/// How to build a [`ScriptEngine`].
#[derive(Debug, Clone)]
pub struct ScriptEngineOptions {
    /// Where compiled artefacts are cached; `None` compiles at every start.
    pub cache_dir: Option<PathBuf>,
    /// Sandbox pool sizing.
    pub pool: PoolSizing,
    /// Per-execution limits.
    pub limits: ExecutionLimits,
    /// Another engine component (benchmarks compare builds); the shipped
    /// pre-initialized engine when `None`.
    pub engine_wasm: Option<Vec<u8>>,
    /// Per-script snapshots (kept under `cache_dir` when there is one).
    pub snapshots: SnapshotOptions,
    /// Make instances ahead of need and drop used ones on a thread of their
    /// own (off: every execution instantiates and tears down inline).
    pub spares: bool,
}

impl Default for ScriptEngineOptions {
    fn default() -> Self {
        Self {
            cache_dir: None,
            pool: PoolSizing::default(),
            limits: ExecutionLimits::default(),
            engine_wasm: None,
            snapshots: SnapshotOptions::default(),
            spares: true,
        }
    }
}

/// Bytecode compiled by one build of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledScript {
    bytecode: Arc<[u8]>,
    engine_version: Arc<str>,
    key: ScriptKey,
}

impl CompiledScript {
    /// Bytecode read back from storage, with the engine version stored beside it.
    /// Only bytes that `ScriptEngine::compile` produced may be given here:
    /// QuickJS trusts bytecode.
    pub fn from_stored(bytecode: Vec<u8>, engine_version: String) -> Self {
        Self::new(bytecode.into(), engine_version.into())
    }

    fn new(bytecode: Arc<[u8]>, engine_version: Arc<str>) -> Self {
        Self {
            key: ScriptKey::of(&engine_version, &bytecode),
            bytecode,
            engine_version,
        }
    }

    /// The QuickJS bytecode.
    pub fn bytecode(&self) -> &[u8] {
        &self.bytecode
    }

    /// The engine build that produced it.
    pub fn engine_version(&self) -> &str {
        &self.engine_version
    }
}

/// How script executions started, since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptRuns {
    /// From the script's snapshot (top level already evaluated).
    pub from_snapshot: u64,
    /// From bytecode (top level evaluated by the execution).
    pub from_bytecode: u64,
    /// Of either, in an instance made ahead of need rather than inline.
    pub on_spare: u64,
}

#[derive(Default)]
struct RunCounters {
    from_snapshot: AtomicU64,
    from_bytecode: AtomicU64,
    on_spare: AtomicU64,
}

/// Why source did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A syntax error, positioned (1-based).
    #[error("{message} (line {line}, column {column})")]
    Syntax {
        /// QuickJS's message.
        message: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// The source exceeds the size limit.
    #[error("the script is larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// The engine failed (timeout, memory, trap).
    #[error("the script engine failed while compiling: {0}")]
    Engine(String),
}

/// Runs JavaScript connectors in wasmtime sandboxes.
///
/// Plugins (`crate::plugins`) run on the same wasmtime engine, pool, HTTP
/// clients, limits and cache, through the crate-internal accessors below.
pub struct ScriptEngine {
    prepared: PreparedScripts,
    spares: Spares,
    runs: RunCounters,
    wasm: WasmEngine,
    pre: Image,
    stores: Arc<StoreFactory>,
    version: Arc<str>,
    artefacts: ArtefactCache,
}

impl ScriptEngine {
    /// Compile (or load from cache) the engine component and prepare it.
    pub fn new(options: ScriptEngineOptions) -> anyhow::Result<Self> {
        let wasm_bytes = options.engine_wasm.as_deref().unwrap_or(ENGINE_WASM);
        let mut pool = options.pool;
        pool.max_memory_bytes = pool.max_memory_bytes.max(options.limits.memory_bytes);
        let wasm = WasmEngine::new(pool)?;
        let cache = match &options.cache_dir {
            Some(dir) => ArtefactCache::in_dir(dir),
            None => ArtefactCache::disabled(),
        };
        let component = cache.load_or_compile(wasm.engine(), wasm_bytes)?;
        let artefacts = cache;
        let linker = linker(wasm.engine())?;
        let instance_pre = linker.instantiate_pre(&component)?;
        let pre = Arc::new(ScriptEnginePre::new(instance_pre)?);
        let prepared = PreparedScripts::start(
            &options.snapshots,
            BuilderSetup {
                engine: wasm.engine().clone(),
                ticking: wasm.keep_ticking(),
                engine_wasm: wasm_bytes.into(),
                memory_bytes: options.limits.memory_bytes,
                artefacts: prepared::images_cache(&options.snapshots, &artefacts),
            },
        )?;
        let clients = HttpClients::new(
            options
                .limits
                .http
                .request_timeout
                .min(Duration::from_secs(10)),
        );
        let stores = Arc::new(StoreFactory::new(
            wasm.engine().clone(),
            options.limits,
            clients,
        ));
        // A spare holds a slot of the pool (each image two): spares take at
        // most an eighth of it.
        let spare_images = if options.spares {
            SPARE_IMAGES.min(pool.max_instances as usize / 16)
        } else {
            0
        };
        Ok(Self {
            prepared,
            spares: Spares::start(spare_images, stores.clone())?,
            runs: RunCounters::default(),
            wasm,
            pre,
            stores,
            version: engine_version(wasm_bytes).into(),
            artefacts,
        })
    }

    /// The engine build identifier stored beside compiled bytecode.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The limits applied to every execution.
    pub fn limits(&self) -> &ExecutionLimits {
        self.stores.limits()
    }

    /// Where the snapshot of `script` stands.
    pub fn snapshot_status(&self, script: &CompiledScript) -> SnapshotStatus {
        self.prepared.status(script.key)
    }

    /// Snapshot counters since start, and how executions started.
    pub fn snapshot_stats(&self) -> (SnapshotStats, ScriptRuns) {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let runs = ScriptRuns {
            from_snapshot: read(&self.runs.from_snapshot),
            from_bytecode: read(&self.runs.from_bytecode),
            on_spare: read(&self.runs.on_spare),
        };
        (self.prepared.stats(), runs)
    }

    /// Compile `source` to bytecode.
    pub async fn compile(&self, source: &str) -> Result<CompiledScript, CompileError> {
        self.compile_up_to(source, self.limits().max_source_bytes)
            .await
    }

    /// Compile `source` to bytecode, allowing up to `max_bytes` of source
    /// (scripts generated from large API descriptions exceed the limit for
    /// hand-written ones).
    pub async fn compile_up_to(
        &self,
        source: &str,
        max_bytes: usize,
    ) -> Result<CompiledScript, CompileError> {
        if source.len() > max_bytes {
            return Err(CompileError::TooLarge(max_bytes));
        }
        let context = ExecutionContext::new("compile");
        let deadline = Instant::now() + COMPILE_TIMEOUT;
        let mut store = self
            .stores
            .store(&context, deadline)
            .map_err(|e| CompileError::Engine(e.to_string()))?;
        let call = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance.call_compile(&mut store, source).await
        };
        match tokio::time::timeout_at(deadline.into(), call).await {
            Err(_) => Err(CompileError::Engine("compilation timed out".into())),
            Ok(Err(trap)) => Err(CompileError::Engine(format!("{trap:#}"))),
            Ok(Ok(Err(diagnostic))) => Err(CompileError::Syntax {
                message: diagnostic.message,
                line: diagnostic.line,
                column: diagnostic.column,
            }),
            Ok(Ok(Ok(bytecode))) => Ok(CompiledScript::new(bytecode.into(), self.version.clone())),
        }
    }

    /// Run `invocation` against `script` in a fresh instance.
    pub async fn execute(
        &self,
        script: &CompiledScript,
        invocation: &Invocation,
        context: &ExecutionContext,
    ) -> Execution {
        let started = Instant::now();
        let timeout = self.timeout_of(invocation);
        let deadline = started + timeout;
        let turn = self.spares.begin();
        let (outcome, store) = self
            .run(&turn, script, invocation, context, deadline, timeout)
            .await;
        let (logs, http_calls) = match store {
            Some(mut store) => {
                let state = store.data_mut();
                let taken = (state.log.take_entries(), state.http.take_calls());
                self.spares.retire(&turn, store);
                taken
            }
            None => (Vec::new(), Vec::new()),
        };
        let outcome = redact_outcome(outcome, &context.redactor);
        Execution {
            outcome,
            logs,
            http_calls,
            duration: started.elapsed(),
        }
    }

    /// HTTP and logging for a native handler, with this engine's client pool
    /// and limits, until `deadline`.
    pub fn host_calls(
        &self,
        context: &ExecutionContext,
        deadline: Instant,
    ) -> anyhow::Result<HostCalls> {
        let (http, log) = self.stores.imports(context, deadline)?;
        Ok(HostCalls::new(http, log))
    }

    /// The deadline of an invocation under this engine's limits.
    pub fn timeout_of(&self, invocation: &Invocation) -> Duration {
        invocation
            .metadata
            .timeout
            .unwrap_or(self.limits().default_timeout)
            .min(self.limits().max_timeout)
    }

    /// The wasmtime engine shared by scripts and plugins.
    pub fn wasm_engine(&self) -> &wasmtime::Engine {
        self.wasm.engine()
    }

    /// The on-disk cache of compiled components.
    pub(crate) fn artefacts(&self) -> &ArtefactCache {
        &self.artefacts
    }

    /// Where stores for this engine are made (plugins run in them too).
    pub(crate) fn stores(&self) -> &StoreFactory {
        &self.stores
    }

    /// Run `invocation` in a fresh instance of the script's snapshot (or of
    /// the engine, loading the bytecode): the spare made for it when there
    /// is one, else instantiated here. Returns the store, for its logs and
    /// HTTP calls, unless there never was one.
    async fn run(
        &self,
        turn: &Turn<'_>,
        script: &CompiledScript,
        invocation: &Invocation,
        context: &ExecutionContext,
        deadline: Instant,
        timeout: Duration,
    ) -> (
        Result<ConnectorResult, ExecutionError>,
        Option<Store<HostState>>,
    ) {
        if script.engine_version() != self.version() {
            let error = ExecutionError::InvalidBytecode(format!(
                "it was compiled by engine {} but this host runs {}; recompile it from source",
                script.engine_version(),
                self.version()
            ));
            return (Err(error), None);
        }
        let wit_invocation = wit_invocation(invocation, timeout);
        let prepared = self.prepared.lookup(script.key, &script.bytecode);
        let (id, image, counter) = match &prepared {
            Some(image) => (ImageId::Script(script.key), image, &self.runs.from_snapshot),
            None => (ImageId::Engine, &self.pre, &self.runs.from_bytecode),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let (mut store, spare_instance) = match self.spares.take(turn, id, image) {
            Some(spare) => {
                let mut store = spare.store;
                if let Err(error) = self.stores.bind(&mut store, context, deadline) {
                    // The caller retires it, as every store it gets back.
                    return (Err(ExecutionError::Trap(error.to_string())), Some(store));
                }
                self.runs.on_spare.fetch_add(1, Ordering::Relaxed);
                (store, Some(spare.instance))
            }
            None => match self.stores.store(context, deadline) {
                Ok(store) => (store, None),
                Err(error) => return (Err(ExecutionError::Trap(error.to_string())), None),
            },
        };
        let call = async {
            let instance = match spare_instance {
                Some(instance) => instance,
                None => image.instantiate_async(&mut store).await?,
            };
            match prepared {
                Some(_) => {
                    instance
                        .call_run_prepared(&mut store, &wit_invocation)
                        .await
                }
                None => {
                    instance
                        .call_run(&mut store, script.bytecode(), &wit_invocation)
                        .await
                }
            }
        };
        // The epoch callback stops guest code at the deadline; this also
        // bounds time spent waiting inside host calls. The margin lets the
        // guest-side interrupt win when both fire.
        let result = tokio::time::timeout_at((deadline + EPOCH_TICK * 2).into(), call).await;
        let limiter = &store.data().limiter;
        let outcome = match result {
            Err(_) => Err(ExecutionError::Timeout(timeout)),
            Ok(Err(trap)) => Err(classify_trap(&trap, limiter, timeout)),
            Ok(Ok(Err(run_error))) => Err(classify_run_error(run_error, limiter)),
            Ok(Ok(Ok(result))) => connector_result(result, self.limits().max_output_bytes),
        };
        (outcome, Some(store))
    }
}

pub(crate) fn wit_invocation(invocation: &Invocation, timeout: Duration) -> types::Invocation {
    let object_text = |value: &serde_json::Value| {
        if value.is_object() {
            value.to_string()
        } else {
            "{}".to_string()
        }
    };
    types::Invocation {
        command: invocation.command.clone(),
        params: object_text(&invocation.params),
        variables: object_text(&invocation.variables),
        metadata: types::Metadata {
            step_id: invocation.metadata.step_id.clone(),
            run_id: invocation.metadata.run_id.clone(),
            timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        },
    }
}

pub(crate) fn classify_trap(
    error: &wasmtime::Error,
    limiter: &MemoryLimiter,
    timeout: Duration,
) -> ExecutionError {
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return ExecutionError::AtCapacity;
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => ExecutionError::Timeout(timeout),
        Some(wasmtime::Trap::StackOverflow) => ExecutionError::StackOverflow,
        _ if limiter.was_hit() => ExecutionError::MemoryLimit(limiter.memory_bytes()),
        _ => ExecutionError::Trap(format!("{error:#}")),
    }
}

fn classify_run_error(error: RunError, limiter: &MemoryLimiter) -> ExecutionError {
    match error {
        RunError::InvalidBytecode(message) => ExecutionError::InvalidBytecode(message),
        RunError::UnknownCommand(command) => ExecutionError::UnknownCommand(command),
        RunError::InvalidResult(reason) => ExecutionError::InvalidResult(reason),
        RunError::ScriptThrew(_) | RunError::CommandThrew(_) if limiter.was_hit() => {
            ExecutionError::MemoryLimit(limiter.memory_bytes())
        }
        RunError::ScriptThrew(exception) => ExecutionError::ScriptThrew {
            message: exception.message,
            stack: exception.stack,
        },
        RunError::CommandThrew(exception) => ExecutionError::CommandThrew {
            message: exception.message,
            stack: exception.stack,
        },
    }
}

pub(crate) fn connector_result(
    result: types::ConnectorResult,
    max_output_bytes: usize,
) -> Result<ConnectorResult, ExecutionError> {
    let size = result.data.as_ref().map_or(0, String::len)
        + result.output_variables.as_ref().map_or(0, String::len);
    if size > max_output_bytes {
        return Err(ExecutionError::OutputTooLarge(max_output_bytes));
    }
    let parse = |field: &str,
                 json: Option<String>|
     -> Result<Option<serde_json::Value>, ExecutionError> {
        json.map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| ExecutionError::InvalidResult(format!("`{field}` is not valid JSON: {e}")))
    };
    Ok(ConnectorResult {
        success: result.success,
        data: parse("data", result.data)?,
        output_variables: parse("outputVariables", result.output_variables)?,
        error: result.error,
    })
}

/// `outcome` with the connector's secrets masked in every message.
pub(crate) fn redact_outcome(
    outcome: Result<ConnectorResult, ExecutionError>,
    redactor: &SecretRedactor,
) -> Result<ConnectorResult, ExecutionError> {
    match outcome {
        Ok(mut result) => {
            result.error = result
                .error
                .map(|error| redactor.redact(&error).into_owned());
            Ok(result)
        }
        Err(error) => Err(redact_error(error, redactor)),
    }
}

fn redact_error(error: ExecutionError, redactor: &SecretRedactor) -> ExecutionError {
    if redactor.is_empty() {
        return error;
    }
    let clean = |text: String| redactor.redact(&text).into_owned();
    match error {
        ExecutionError::ScriptThrew { message, stack } => ExecutionError::ScriptThrew {
            message: clean(message),
            stack: clean(stack),
        },
        ExecutionError::CommandThrew { message, stack } => ExecutionError::CommandThrew {
            message: clean(message),
            stack: clean(stack),
        },
        ExecutionError::InvalidResult(reason) => ExecutionError::InvalidResult(clean(reason)),
        ExecutionError::Trap(reason) => ExecutionError::Trap(clean(reason)),
        ExecutionError::InvalidInput(reason) => ExecutionError::InvalidInput(clean(reason)),
        ExecutionError::PluginFailed(reason) => ExecutionError::PluginFailed(clean(reason)),
        ExecutionError::PluginPanicked(reason) => ExecutionError::PluginPanicked(clean(reason)),
        ExecutionError::Agent {
            code,
            message,
            stack,
        } => ExecutionError::Agent {
            code,
            message: clean(message),
            stack: clean(stack),
        },
        other => other,
    }
}
