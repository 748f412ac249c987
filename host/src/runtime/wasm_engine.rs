//! The one wasmtime [`Engine`] of the process and its epoch ticker.
//!
//! Epoch interruption is how runaway guests are stopped: a background thread
//! advances the epoch every [`EPOCH_TICK`], and each store's deadline callback
//! decides, at every tick, whether to yield to the tokio scheduler (so a busy
//! guest never starves other tasks) or to trap because its deadline passed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

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

/// The wasmtime engine plus its ticker thread (stopped on drop).
pub struct WasmEngine {
    engine: Engine,
    ticker: Option<Ticker>,
}

struct Ticker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl WasmEngine {
    /// An engine with the pooling allocator, copy-on-write memory images and
    /// epoch interruption, sized by `pool`.
    pub fn new(pool: PoolSizing) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(pool))
            .map_err(|e| anyhow::anyhow!("creating the wasmtime engine: {e}"))?;
        let ticker = Ticker::start(engine.clone());
        Ok(Self {
            engine,
            ticker: Some(ticker),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Drop for WasmEngine {
    fn drop(&mut self) {
        if let Some(ticker) = self.ticker.take() {
            ticker.stop.store(true, Ordering::Relaxed);
            let _ = ticker.thread.join();
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
        Self { stop, thread }
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
