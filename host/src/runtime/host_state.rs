//! The data of one sandbox store and the linker that wires the `floh`
//! imports and the small WASI surface the JavaScript engine needs.
//!
//! The engine is built for `wasm32-wasip2`, so wasi-libc and Rust's std import
//! some WASI interfaces. They are served from an empty [`WasiCtx`]: no
//! arguments, no environment variables, discarded stdio, and no preopened
//! directory, so the filesystem interface (which wasi-libc imports at start)
//! has nothing to open. Sockets are not linked at all: a component that
//! imports them fails to instantiate.

use wasmtime::Engine;
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings;
use crate::imports::{CacheImport, ConfigImport, HttpImport, LogCapture};
use crate::runtime::limits::MemoryLimiter;

/// Everything one execution's store holds.
pub struct HostState {
    /// Enforces the memory cap.
    pub limiter: MemoryLimiter,
    /// `floh:connector/http`.
    pub http: HttpImport,
    /// `floh:connector/log`.
    pub log: LogCapture,
    /// `floh:connector/config`.
    pub config: ConfigImport,
    /// `floh:connector/cache` (plugins).
    pub cache: CacheImport,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    /// State for one execution, with an empty WASI environment.
    pub fn new(
        limiter: MemoryLimiter,
        http: HttpImport,
        log: LogCapture,
        config: ConfigImport,
        cache: CacheImport,
    ) -> Self {
        Self {
            limiter,
            http,
            log,
            config,
            cache,
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct HttpData;
impl HasData for HttpData {
    type Data<'a> = &'a mut HttpImport;
}

struct LogData;
impl HasData for LogData {
    type Data<'a> = &'a mut LogCapture;
}

struct ConfigData;
impl HasData for ConfigData {
    type Data<'a> = &'a mut ConfigImport;
}

struct CacheData;
impl HasData for CacheData {
    type Data<'a> = &'a mut CacheImport;
}

/// The linker of every sandbox: the `floh` imports and the WASI subset.
/// Plugins are checked to import nothing but `floh` interfaces before they
/// are linked (see `crate::plugins`); the WASI subset is for the engine.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    bindings::http::add_to_linker::<HostState, HttpData>(&mut linker, |state| &mut state.http)?;
    bindings::log::add_to_linker::<HostState, LogData>(&mut linker, |state| &mut state.log)?;
    bindings::config::add_to_linker::<HostState, ConfigData>(&mut linker, |state| {
        &mut state.config
    })?;
    bindings::cache::add_to_linker::<HostState, CacheData>(&mut linker, |state| &mut state.cache)?;
    add_wasi_subset(&mut linker)?;
    Ok(linker)
}

struct WasiIo;
impl HasData for WasiIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// Clocks, random, the (empty) CLI environment, stdio streams and a
/// filesystem without preopened directories.
pub fn add_wasi_subset<T: WasiView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, io, random};
    let l = linker;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    io::error::add_to_linker::<T, WasiIo>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, WasiIo>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, WasiIo>(l, |t| t.ctx().table)?;
    Ok(())
}
