//! Pre-initializing the JavaScript engine (the build step behind
//! `just guests`).
//!
//! wasmtime-wizer runs the engine's `wizer-initialize` export once, which
//! creates the QuickJS runtime and the `floh` global, and snapshots the
//! resulting memory into the component. Every execution then starts from
//! that state instead of building a JavaScript runtime from scratch.
//!
//! The snapshot must be reproducible byte for byte (CI rebuilds it and
//! compares with the committed file), so initialization sees a clock stuck at
//! the Unix epoch and a fixed random stream.

use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{
    Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView,
};
use wasmtime_wizer::Wizer;

use super::host_state::add_wasi_subset;

/// The initializer export the engine's build world adds.
pub const INIT_EXPORT: &str = "wizer-initialize";

struct SnapshotState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for SnapshotState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A clock that never moves, so snapshots do not depend on when they were taken.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Run the engine's initializer and return the snapshotted component.
pub async fn preinitialize(raw_engine: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let wasi = WasiCtx::builder()
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .secure_random(Deterministic::new(vec![7; 32]))
        .insecure_random(Deterministic::new(vec![11; 32]))
        .insecure_random_seed(0)
        .build();
    let mut store = Store::new(
        &engine,
        SnapshotState {
            wasi,
            table: ResourceTable::new(),
        },
    );
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_EXPORT).keep_init_func(true);
    let (snapshot, _) = wizer
        .run_component(&mut store, raw_engine, async |store, component| {
            let mut linker = Linker::new(store.engine());
            add_wasi_subset(&mut linker).map_err(wasmtime::Error::from_anyhow)?;
            // Initialization must not reach the network, log or read config:
            // the `floh` imports exist only as traps here.
            stub_floh_imports(&mut linker)?;
            linker.instantiate_async(store, component).await
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("pre-initializing the JavaScript engine")?;
    super::data_segments::merge(&snapshot, super::data_segments::MAX_GAP)
        .context("merging the engine's data segments")
}

/// The `floh` imports as functions that trap: initialization never calls them.
fn stub_floh_imports(linker: &mut Linker<SnapshotState>) -> wasmtime::Result<()> {
    let version = crate::bindings::WIT_PACKAGE_VERSION;
    for (interface, functions) in [
        ("http", &["send"][..]),
        ("log", &["log"]),
        ("config", &["get"]),
        ("cache", &["get", "set", "delete"]),
    ] {
        let name = format!("floh:connector/{interface}@{version}");
        let mut instance = linker.instance(&name)?;
        for function in functions {
            let qualified = format!("{name}#{function}");
            instance.func_new(function, move |_, _, _, _| {
                wasmtime::bail!("`{qualified}` was called during pre-initialization")
            })?;
        }
    }
    Ok(())
}
