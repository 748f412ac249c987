//! The one wasmtime [`Engine`] of the process and its epoch ticker.
//!
//! Epoch interruption is how runaway guests are stopped: a background thread
//! advances the epoch every [`EPOCH_TICK`], and each store's deadline callback
//! decides, at every tick, whether to yield to the tokio scheduler (so a busy
//! guest never starves other tasks) or to trap because its deadline passed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{
    CacheStore, Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

/// How often the epoch advances; the timeout precision of every execution.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Sizing of the sandbox pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolSizing {
    /// Instances that may be alive at once (executions in flight).
    pub max_instances: u32,
    /// Upper bound for any one linear memory.
    pub max_memory_bytes: usize,
    /// Memory pages kept resident (not returned to the kernel) between
    /// instances: resetting them is cheaper than faulting them in again.
    pub keep_resident_bytes: usize,
}

impl Default for PoolSizing {
    fn default() -> Self {
        Self {
            max_instances: 1_000,
            max_memory_bytes: 64 * 1024 * 1024,
            keep_resident_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The wasmtime engine plus its ticker thread (stopped when the engine and
/// every [`KeepTicking`] are dropped).
pub struct WasmEngine {
    engine: Engine,
    ticker: Arc<Ticker>,
}

/// Keeps the epoch advancing, so that stores of this engine still reach
/// their deadlines, for as long as it is held (by work that may outlive the
/// [`WasmEngine`], such as a snapshot build finishing in the background).
#[derive(Clone)]
pub struct KeepTicking(#[allow(dead_code)] Arc<Ticker>);

struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl WasmEngine {
    /// An engine with the pooling allocator, copy-on-write memory images and
    /// epoch interruption, sized by `pool`.
    pub fn new(pool: PoolSizing) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(pool))
            .map_err(|e| anyhow::anyhow!("creating the wasmtime engine: {e}"))?;
        let ticker = Arc::new(Ticker::start(engine.clone()));
        Ok(Self { engine, ticker })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A handle that keeps the epoch ticking while held.
    pub fn keep_ticking(&self) -> KeepTicking {
        KeepTicking(self.ticker.clone())
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Ticker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("floh-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

/// Cranelift's incremental compilation cache, in memory and bounded: past
/// the bound, new functions are compiled but not kept.
#[derive(Debug, Default)]
struct CompiledFunctions {
    entries: Mutex<(FunctionCache, usize)>,
}

/// Compiled functions by their cache key.
type FunctionCache = HashMap<Vec<u8>, Vec<u8>>;

/// The bound of [`CompiledFunctions`]: the engine's functions take a few
/// tens of MiB.
const COMPILED_FUNCTIONS_MAX_BYTES: usize = 256 * 1024 * 1024;

impl CacheStore for CompiledFunctions {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.0.get(key).map(|value| Cow::Owned(value.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (map, bytes) = &mut *entries;
        let size = key.len() + value.len();
        if *bytes + size > COMPILED_FUNCTIONS_MAX_BYTES {
            return false;
        }
        *bytes += size;
        map.insert(key.to_vec(), value);
        true
    }
}

/// The configuration shared by every engine of the process. Also used to
/// key the on-disk artefact cache, so it must be deterministic.
pub fn engine_config(pool: PoolSizing) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // The guest stack must be smaller than the fiber stack it runs on.
    config.max_wasm_stack(1024 * 1024);
    config.async_stack_size(2 * 1024 * 1024);
    config.memory_init_cow(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // Script snapshots recompile the engine with new data and the same code:
    // with this cache, Cranelift compiles each function once per process.
    // One cache for the process: its keys cover the compiler's settings.
    static COMPILED: LazyLock<Arc<CompiledFunctions>> = LazyLock::new(Arc::default);
    config
        .enable_incremental_compilation(COMPILED.clone())
        .expect("the compiler is enabled");

    let mut pooling = PoolingAllocationConfig::default();
    let instances = pool.max_instances;
    pooling
        .total_component_instances(instances)
        .total_core_instances(instances * 4)
        .total_memories(instances)
        .total_tables(instances * 4)
        .total_stacks(instances)
        .max_core_instances_per_component(16)
        .max_memories_per_component(2)
        .max_tables_per_component(8)
        .max_memory_size(pool.max_memory_bytes)
        .linear_memory_keep_resident(pool.keep_resident_bytes)
        .table_keep_resident(64 * 1024)
        .pagemap_scan(Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    config
}
