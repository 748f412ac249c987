//! [`StoreFactory`]: the wasmtime stores executions run in, and how a store
//! made ahead of its execution is bound to it.

use std::time::Instant;

use wasmtime::{Engine, Store, UpdateDeadline};

use super::execution::ExecutionContext;
use super::host_state::HostState;
use super::limits::{ExecutionLimits, MemoryLimiter};
use crate::egress::resolver::HttpClients;
use crate::imports::{CacheImport, ConfigImport, HttpImport, LogCapture, SharedCache};

/// A busy guest yields to the scheduler this often (in epoch ticks), which is
/// also when its deadline is checked.
const YIELD_EVERY_TICKS: u64 = 5;

/// Makes stores for one script engine: its wasmtime engine, limits, HTTP
/// clients and shared cache. Cheap to share: the spare-instance thread holds
/// one to make stores before executions need them.
pub(crate) struct StoreFactory {
    engine: Engine,
    limits: ExecutionLimits,
    clients: HttpClients,
    cache: SharedCache,
}

impl StoreFactory {
    pub fn new(engine: Engine, limits: ExecutionLimits, clients: HttpClients) -> Self {
        Self {
            engine,
            limits,
            clients,
            cache: SharedCache::default(),
        }
    }

    /// The limits applied to every execution.
    pub fn limits(&self) -> &ExecutionLimits {
        &self.limits
    }

    /// The HTTP and log imports of one execution under `context`.
    pub fn imports(
        &self,
        context: &ExecutionContext,
        deadline: Instant,
    ) -> anyhow::Result<(HttpImport, LogCapture)> {
        let client = self.clients.for_policy(&context.egress)?;
        let http = HttpImport::new(
            client,
            context.egress.clone(),
            self.limits.http,
            deadline,
            context.redactor.clone(),
        )
        .with_renewal(context.token_renewal.as_ref().map(|r| r.0.clone()));
        let log = LogCapture::new(
            context.connector.clone(),
            context.log_level,
            self.limits.log,
            context.redactor.clone(),
        );
        Ok((http, log))
    }

    /// A store for one execution: imports bound to `context`, the memory
    /// limiter, and the deadline (see [`Self::bind`]).
    pub fn store(
        &self,
        context: &ExecutionContext,
        deadline: Instant,
    ) -> anyhow::Result<Store<HostState>> {
        let (http, log) = self.imports(context, deadline)?;
        Ok(self.store_with(context, deadline, http, log))
    }

    /// A store like [`Self::store`]'s, around imports made already.
    pub fn store_with(
        &self,
        context: &ExecutionContext,
        deadline: Instant,
        http: HttpImport,
        log: LogCapture,
    ) -> Store<HostState> {
        let (config, cache) = self.config_and_cache(context);
        let state = HostState::new(
            MemoryLimiter::new(self.limits.memory_bytes),
            http,
            log,
            config,
            cache,
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        set_deadline(&mut store, deadline);
        store
    }

    /// Give a store made ahead of need (by [`Self::store`] with a neutral
    /// context, then instantiated, no guest code run) the imports of the
    /// execution under `context`, and its deadline. Everything the guest
    /// can reach through its imports is then this execution's.
    pub fn bind(
        &self,
        store: &mut Store<HostState>,
        context: &ExecutionContext,
        deadline: Instant,
    ) -> anyhow::Result<()> {
        let (http, log) = self.imports(context, deadline)?;
        let (config, cache) = self.config_and_cache(context);
        let state = store.data_mut();
        state.http = http;
        state.log = log;
        state.config = config;
        state.cache = cache;
        set_deadline(store, deadline);
        Ok(())
    }

    /// `floh.config` and the connector's view of the shared cache.
    fn config_and_cache(&self, context: &ExecutionContext) -> (ConfigImport, CacheImport) {
        let config = ConfigImport::new(&context.config);
        let cache = self
            .cache
            .import(context.connector.clone(), config.json().clone());
        (config, cache)
    }
}

/// Yield to the scheduler every few ticks while `deadline` is ahead, and
/// interrupt the guest after it. The epoch deadline counts from now, so a
/// store made ahead of its execution gets it when it is bound.
fn set_deadline(store: &mut Store<HostState>, deadline: Instant) {
    store.set_epoch_deadline(YIELD_EVERY_TICKS);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(YIELD_EVERY_TICKS))
        }
    });
}
