//! The one QuickJS runtime of this instance.
//!
//! It lives in a thread-local because a WASM instance is single-threaded; the
//! build snapshot captures it fully initialized, and an unsnapshotted engine
//! (used only in development) creates it on first use.

use std::cell::OnceCell;
use std::collections::HashSet;

use javy::quickjs::{Ctx, Filter, Object};
use javy::{Config, Runtime};

/// QuickJS collects garbage once this many bytes were allocated since the last
/// collection. javy's default never collects, which turns any allocation-heavy
/// loop into an out-of-memory error long before the memory cap is reached.
const GC_THRESHOLD_BYTES: usize = 2 * 1024 * 1024;

/// The runtime plus what initialization learned about the global object.
pub struct JsRuntime {
    pub runtime: Runtime,
    /// Global names defined before any script ran (built-ins and `floh`):
    /// these are never callable as commands.
    pub builtin_globals: HashSet<String>,
}

thread_local! {
    static RUNTIME: OnceCell<JsRuntime> = const { OnceCell::new() };
}

/// Create the runtime now, so that the build snapshot contains it.
pub fn initialize() {
    with_runtime(|_| ());
}

/// Run `f` with the instance's runtime, creating it on first use.
pub fn with_runtime<R>(f: impl FnOnce(&JsRuntime) -> R) -> R {
    RUNTIME.with(|cell| f(cell.get_or_init(create)))
}

fn create() -> JsRuntime {
    let mut config = Config::default();
    config
        .gc_threshold(GC_THRESHOLD_BYTES)
        .javy_stream_io(false)
        .text_encoding(true);
    // A runtime that cannot be created is a build defect, caught by the
    // snapshot step long before any user runs a script.
    let runtime = Runtime::new(config).expect("QuickJS runtime");
    let builtin_globals = runtime.context().with(|cx| {
        crate::floh_global::install(&cx).expect("install the floh global");
        global_names(&cx)
    });
    JsRuntime {
        runtime,
        builtin_globals,
    }
}

fn global_names(cx: &Ctx<'_>) -> HashSet<String> {
    let globals: Object<'_> = cx.globals();
    globals
        .own_keys::<String>(Filter::new().string())
        .filter_map(Result::ok)
        .collect()
}
