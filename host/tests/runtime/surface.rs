//! The engine component's imports are exactly the sandbox surface we serve.

use std::collections::BTreeSet;

use floh::runtime::{ENGINE_WASM, WasmEngine};
use wasmtime::component::Component;

#[test]
fn the_engine_imports_only_floh_and_the_served_wasi_subset() {
    let wasm_engine = WasmEngine::new(floh::runtime::PoolSizing {
        max_instances: 1,
        ..Default::default()
    })
    .expect("engine");
    let engine = wasm_engine.engine();
    let component = Component::new(engine, ENGINE_WASM).expect("component");
    let imports: BTreeSet<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.split('@').next().unwrap_or(name).to_string())
        .collect();
    let allowed: BTreeSet<String> = [
        "floh:connector/types",
        "floh:connector/http",
        "floh:connector/log",
        "floh:connector/config",
        "floh:connector/cache",
        "wasi:cli/environment",
        "wasi:cli/exit",
        "wasi:cli/stdin",
        "wasi:cli/stdout",
        "wasi:cli/stderr",
        "wasi:cli/terminal-input",
        "wasi:cli/terminal-output",
        "wasi:cli/terminal-stdin",
        "wasi:cli/terminal-stdout",
        "wasi:cli/terminal-stderr",
        "wasi:clocks/wall-clock",
        "wasi:clocks/monotonic-clock",
        "wasi:filesystem/types",
        "wasi:filesystem/preopens",
        "wasi:io/error",
        "wasi:io/poll",
        "wasi:io/streams",
        "wasi:random/random",
        "wasi:random/insecure",
        "wasi:random/insecure-seed",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let unexpected: Vec<_> = imports.difference(&allowed).collect();
    assert!(unexpected.is_empty(), "unexpected imports: {unexpected:?}");
    assert!(imports.iter().all(|name| !name.starts_with("wasi:sockets")));
    for required in [
        "floh:connector/http",
        "floh:connector/log",
        "floh:connector/config",
        "floh:connector/cache",
    ] {
        assert!(imports.contains(required), "missing {required}");
    }
}
