//! Building one script's image: the engine after the script's top level ran.
//!
//! wasmtime-wizer instruments the engine component so that its memory and
//! globals can be read back, the instance loads the script (`prepare`), and
//! wizer writes that state into a new component's data segments. The code is
//! the engine's, unchanged, so compiling the image mostly hits the engine's
//! incremental compilation cache.
//!
//! An image is taken only when it is faithful: a top level that reads the
//! clock or random numbers, calls a `floh` import, or reads the run's data
//! would see one moment, one random stream or one run for all executions.
//! Those imports trap here, the trap is recorded as the refusal's reason, and
//! such a script keeps running from its bytecode (its top level evaluated at
//! every execution, with live values).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wizer::{WasmtimeWizerComponent, Wizer};

use crate::bindings::ScriptEngine as EngineBindings;
use crate::runtime::data_segments;
use crate::runtime::host_state::add_wasi_subset;
use crate::runtime::limits::MemoryLimiter;
use crate::runtime::snapshot::INIT_EXPORT;

/// Why no image was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The script's top level cannot be captured once for every execution;
    /// it runs from bytecode. Deterministic: not retried for this script.
    #[error("{0}")]
    Refused(String),
    /// Building failed (trap, timeout, compilation, disk): the script runs
    /// from bytecode, and the build may be retried later.
    #[error("{0}")]
    Failed(String),
}

/// The store data while a script loads for its image.
struct PrepareState {
    limiter: MemoryLimiter,
    /// The first import the top level called, if any: the refusal's reason.
    touched: Option<&'static str>,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for PrepareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The limits of one build.
#[derive(Debug, Clone)]
pub struct BuildLimits {
    /// Linear memory, as for an execution.
    pub memory_bytes: usize,
    /// How long the top level may run.
    pub timeout: Duration,
    /// Set when the build is no longer wanted (the engine is going away).
    pub abandon: Arc<AtomicBool>,
}

/// Load `bytecode` into an instance of `engine_wasm` and return the image
/// (an uncompiled component).
pub async fn image(
    engine: &Engine,
    engine_wasm: &[u8],
    bytecode: &[u8],
    limits: BuildLimits,
) -> Result<Vec<u8>, BuildError> {
    let failed = |what: &str, error: wasmtime::Error| {
        BuildError::Failed(format!("{what}: {}", first_line(&format!("{error:#}"))))
    };
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_EXPORT).keep_init_func(true);
    let (context, instrumented) = wizer
        .instrument_component(engine_wasm)
        .map_err(|e| failed("instrumenting the engine", e))?;
    let component =
        Component::new(engine, &instrumented).map_err(|e| failed("compiling the engine", e))?;
    let linker = recording_linker(engine, &component)
        .map_err(|e| BuildError::Failed(format!("linking the engine: {e:#}")))?;

    let mut store = Store::new(
        engine,
        PrepareState {
            limiter: MemoryLimiter::new(limits.memory_bytes),
            touched: None,
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    store.limiter(|state| &mut state.limiter);
    let deadline = Instant::now() + limits.timeout;
    let abandon = limits.abandon.clone();
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline || abandon.load(Ordering::Relaxed) {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Continue(1))
        }
    });

    let instance = linker
        .instantiate_async(&mut store, &component)
        .await
        .map_err(|e| failed("instantiating the engine", e))?;
    let bindings =
        EngineBindings::new(&mut store, &instance).map_err(|e| failed("binding the engine", e))?;
    match bindings.call_prepare(&mut store, bytecode).await {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => return Err(BuildError::Refused(reason)),
        Err(trap) => {
            return Err(match store.data().touched {
                Some(import) => BuildError::Refused(format!(
                    "the top level calls {import}, which must stay live in every execution"
                )),
                None if trap.downcast_ref() == Some(&wasmtime::Trap::Interrupt) => {
                    BuildError::Refused(format!(
                        "the top level runs longer than {} ms",
                        limits.timeout.as_millis()
                    ))
                }
                None if store.data().limiter.was_hit() => BuildError::Refused(format!(
                    "the top level exceeds the memory limit of {} MiB",
                    limits.memory_bytes / (1024 * 1024)
                )),
                None => failed("loading the script", trap),
            });
        }
    }
    let image = wizer
        .snapshot_component(
            &context,
            &mut WasmtimeWizerComponent {
                store: &mut store,
                instance,
            },
        )
        .await
        .map_err(|e| failed("snapshotting the engine", e))?;
    data_segments::merge(&image, data_segments::MAX_GAP)
        .map_err(|e| BuildError::Failed(format!("merging the image's data segments: {e:#}")))
}

/// The engine's imports for a build: the WASI subset with its clocks and
/// random numbers replaced, and the `floh` interfaces, all as functions that
/// trap and record what was called.
fn recording_linker(
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<Linker<PrepareState>> {
    let mut linker = Linker::<PrepareState>::new(engine);
    add_wasi_subset(&mut linker).map_err(wasmtime::Error::from_anyhow)?;
    linker.allow_shadowing(true);
    for (interface, item) in component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(instance_type) = item.ty else {
            continue;
        };
        let Some(what) = live_value(interface) else {
            continue;
        };
        let mut instance = linker.instance(interface)?;
        for (function, item) in instance_type.exports(engine) {
            if !matches!(item.ty, ComponentItem::ComponentFunc(_)) {
                continue;
            }
            let qualified = format!("{interface}#{function}");
            instance.func_new(function, move |mut store, _, _, _| {
                store.data_mut().touched.get_or_insert(what);
                wasmtime::bail!("`{qualified}` was called while the script loaded for its image")
            })?;
        }
    }
    Ok(linker)
}

/// What an import gives that differs between executions, in a script
/// author's words; `None` for imports a top level may use.
fn live_value(interface: &str) -> Option<&'static str> {
    let name = interface.split('@').next().unwrap_or(interface);
    Some(match name {
        // QuickJS reads either clock for the time, depending on the call.
        "wasi:clocks/wall-clock" | "wasi:clocks/monotonic-clock" => {
            "the clock (Date.now(), new Date() or performance.now())"
        }
        "wasi:random/random" | "wasi:random/insecure" | "wasi:random/insecure-seed" => {
            "random numbers (Math.random())"
        }
        "floh:connector/http" => "floh.http",
        "floh:connector/log" => "floh.log or console",
        "floh:connector/config" => "floh.config",
        "floh:connector/cache" => "floh.cache",
        _ => return None,
    })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::live_value;

    #[test]
    fn clocks_random_and_floh_imports_are_live_values_and_the_rest_is_not() {
        assert!(live_value("wasi:clocks/wall-clock@0.2.6").is_some());
        assert!(live_value("wasi:random/random@0.2.0").is_some());
        assert!(live_value("floh:connector/http@0.1.0").is_some());
        assert_eq!(live_value("wasi:cli/stdout@0.2.6"), None);
        assert_eq!(live_value("wasi:io/streams@0.2.6"), None);
    }
}
