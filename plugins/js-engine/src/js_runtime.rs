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

/// QuickJS creates some built-ins on first use: `Math`, `JSON`, `Reflect`
/// and a few members of others. Reading every property descriptor two levels
/// down from the global object (constructors, then their prototypes) creates
/// them now, so they are part of the build snapshot instead of being created
/// again by each execution that uses one (a JSON-heavy command spent 1.6% of
/// its run doing so). Descriptors, so no getter runs.
const CREATE_LAZY_BUILTINS: &str = r#"
(function () {
  function create(object, depth) {
    var keys = Reflect.ownKeys(object);
    for (var i = 0; i < keys.length; i++) {
      var value = Object.getOwnPropertyDescriptor(object, keys[i]).value;
      if (depth > 0 && value !== null && (typeof value === 'object' || typeof value === 'function')) {
        create(value, depth - 1);
      }
    }
  }
  create(globalThis, 2);
})();
"#;

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
        cx.eval::<(), _>(CREATE_LAZY_BUILTINS)
            .expect("create the lazily created built-ins");
        cx.run_gc();
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
