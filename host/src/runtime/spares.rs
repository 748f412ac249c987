//! Fresh sandbox instances made ahead of need, and used ones torn down, on
//! a thread of their own instead of on the request path.
//!
//! Measured on a trivial command (release, in process), two thirds of an
//! execution's time in the sandbox is neither the script nor its imports:
//! instantiating the engine component (wiring its imports, three core
//! instances, a slot of the pooling allocator) and dropping the store
//! afterwards (restoring the pages the execution dirtied from the memory
//! image). Neither depends on the execution. So one thread makes, for each
//! recently used image, two instances before they are needed (two, so that
//! one late make does not leave the next execution without), and drops the
//! stores executions are done with. An execution takes the spare of its
//! image (or instantiates inline when there is none yet) and binds it to
//! its own context before any guest code runs.
//!
//! This pays only while a core is idle: the work is the same, moved to
//! another thread, and handing it over costs (measured at 64 connections on
//! 2 cores: 10-20% fewer executions/s when every execution used the
//! thread). So an execution uses spares only while fewer executions than
//! the host has cores are in flight, and not for a while after the thread
//! fell behind (several executions in a row found their image's spare still
//! being made): see [`Spares::begin`]. Otherwise it instantiates and drops
//! inline, as without spares.
//!
//! The isolation promise is unchanged: a spare is a fresh instance no guest
//! code ran in, used by exactly one execution and then dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::execution::ExecutionContext;
use super::host_state::HostState;
use super::prepared::ScriptKey;
use super::stores::StoreFactory;
use crate::bindings::{ScriptEngine as EngineInstance, ScriptEnginePre};

/// Jobs waiting for the thread; beyond this, stores are dropped inline and
/// spares not made. An execution on an idle host queues two (its store, and
/// the next spare), so more would only mean the thread is falling behind.
const QUEUE_LENGTH: usize = 4;

/// Spares kept ready per image.
const SPARES_PER_IMAGE: usize = 2;

/// How long executions leave the thread alone after it fell behind.
const BACK_OFF: Duration = Duration::from_millis(20);

/// Executions in a row that found no spare while one was being made, for
/// the thread to count as behind (one alone is the scheduler's noise).
const MISSES_TO_BACK_OFF: u32 = 4;

/// A spare's store has a deadline only so that it is never unbounded; the
/// execution that takes it sets its own.
const SPARE_DEADLINE: Duration = Duration::from_secs(3600);

/// Which image an instance is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ImageId {
    /// The engine itself (executions that load the script's bytecode).
    Engine,
    /// The snapshot of one script.
    Script(ScriptKey),
}

/// An image instantiated ahead of need.
pub(crate) type Image = Arc<ScriptEnginePre<HostState>>;

/// A fresh instance, and the store it lives in.
pub(crate) struct Spare {
    pub store: Store<HostState>,
    pub instance: EngineInstance,
}

/// The spares of one image.
#[derive(Default)]
struct OfImage {
    ready: Vec<Spare>,
    /// Asked for and not made yet.
    making: usize,
    /// When an execution last asked (a logical clock): the images least
    /// recently asked for lose their spares first.
    asked_at: u64,
}

#[derive(Default)]
struct Ready {
    /// Images with spares ready or being made (no others).
    images: HashMap<ImageId, OfImage>,
    clock: u64,
}

impl Ready {
    /// `making` fewer spares of `id` are being made; an image left with
    /// none ready or being made is forgotten.
    fn made(&mut self, id: ImageId, making: usize) {
        let Some(of_image) = self.images.get_mut(&id) else {
            return;
        };
        of_image.making = of_image.making.saturating_sub(making);
        if of_image.ready.is_empty() && of_image.making == 0 {
            self.images.remove(&id);
        }
    }
}

struct Shared {
    ready: Mutex<Ready>,
    /// Images kept with spares at most.
    max_images: usize,
    stop: AtomicBool,
    in_flight: AtomicUsize,
    /// Executions in flight below which a core is taken to be idle.
    cores: usize,
    /// Executions in a row that found the thread behind.
    misses_in_a_row: AtomicU32,
    /// Until when (nanoseconds after `started`) spares are not used.
    backing_off_until: AtomicU64,
    started: Instant,
}

impl Shared {
    fn ready(&self) -> MutexGuard<'_, Ready> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Count whether an execution found its spare (or found the thread
    /// behind); after several misses in a row, leave the thread alone.
    fn count(&self, missed: bool) {
        if !missed {
            self.misses_in_a_row.store(0, Ordering::Relaxed);
        } else if self.misses_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 >= MISSES_TO_BACK_OFF {
            self.misses_in_a_row.store(0, Ordering::Relaxed);
            let until = self.now() + BACK_OFF.as_nanos() as u64;
            self.backing_off_until.store(until, Ordering::Relaxed);
        }
    }
}

enum Job {
    Make { id: ImageId, image: Image },
    Retire(Box<Store<HostState>>),
}

/// The spare instances of one script engine, and the thread that makes
/// them and drops used stores.
pub(crate) struct Spares {
    shared: Arc<Shared>,
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Spares {
    /// Spares for up to `max_images` images (0: none made, stores dropped
    /// inline).
    pub fn start(max_images: usize, stores: Arc<StoreFactory>) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            ready: Mutex::default(),
            max_images,
            stop: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            misses_in_a_row: AtomicU32::new(0),
            backing_off_until: AtomicU64::new(0),
            started: Instant::now(),
        });
        if max_images == 0 {
            return Ok(Self {
                shared,
                jobs: None,
                thread: None,
            });
        }
        let (jobs, queue) = std::sync::mpsc::sync_channel(QUEUE_LENGTH);
        let maker = Maker {
            shared: shared.clone(),
            stores,
        };
        let thread = std::thread::Builder::new()
            .name("floh-spares".into())
            .spawn(move || maker.run(queue))?;
        Ok(Self {
            shared,
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Count an execution in flight until the turn is dropped; the turn
    /// says whether it may use spares: a core is idle (fewer executions in
    /// flight than cores) and the thread has not fallen behind lately.
    pub fn begin(&self) -> Turn<'_> {
        let shared = &self.shared;
        let before = shared.in_flight.fetch_add(1, Ordering::Relaxed);
        let core_idle = self.jobs.is_some()
            && before + 1 < shared.cores
            && shared.now() >= shared.backing_off_until.load(Ordering::Relaxed);
        Turn {
            in_flight: &shared.in_flight,
            core_idle,
        }
    }

    /// A spare of `id`, if one is ready; either way, spares for the next
    /// executions of `id` are asked for. Nothing while no core is idle.
    pub fn take(&self, turn: &Turn<'_>, id: ImageId, image: &Image) -> Option<Spare> {
        let jobs = self.jobs.as_ref().filter(|_| turn.core_idle)?;
        let mut ready = self.shared.ready();
        ready.clock += 1;
        let now = ready.clock;
        let of_image = ready.images.entry(id).or_default();
        of_image.asked_at = now;
        let spare = of_image.ready.pop();
        let behind = spare.is_none() && of_image.making > 0;
        let wanted = SPARES_PER_IMAGE.saturating_sub(of_image.ready.len() + of_image.making);
        of_image.making += wanted;
        drop(ready);
        self.shared.count(behind);
        for asked in 0..wanted {
            let job = Job::Make {
                id,
                image: image.clone(),
            };
            if jobs.try_send(job).is_err() {
                self.shared.ready().made(id, wanted - asked);
                break;
            }
        }
        spare
    }

    /// Drop `store` on the spares thread (inline when no core was idle or
    /// the thread's queue is full).
    pub fn retire(&self, turn: &Turn<'_>, store: Store<HostState>) {
        let Some(jobs) = self.jobs.as_ref().filter(|_| turn.core_idle) else {
            return;
        };
        match jobs.try_send(Job::Retire(Box::new(store))) {
            Ok(()) => {}
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => drop(job),
        }
    }
}

/// One execution in flight (see [`Spares::begin`]).
pub(crate) struct Turn<'a> {
    in_flight: &'a AtomicUsize,
    core_idle: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // Dropping what is queued is quick: no guest code runs.
            let _ = thread.join();
        }
    }
}

struct Maker {
    shared: Arc<Shared>,
    stores: Arc<StoreFactory>,
}

impl Maker {
    fn run(self, queue: Receiver<Job>) {
        let runtime = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::error!(%error, "no spare instances: no runtime for their thread");
                return;
            }
        };
        let context = ExecutionContext::new("spare");
        for job in queue {
            match job {
                Job::Retire(store) => drop(store),
                Job::Make { id, image } => {
                    let made = if self.shared.stop.load(Ordering::Relaxed) {
                        Err(anyhow::anyhow!("stopping"))
                    } else {
                        runtime.block_on(self.make(&image, &context))
                    };
                    self.keep(id, made);
                }
            }
        }
    }

    /// A fresh instance of `image`: instantiation runs no guest code.
    async fn make(&self, image: &Image, context: &ExecutionContext) -> anyhow::Result<Spare> {
        let mut store = self
            .stores
            .store(context, Instant::now() + SPARE_DEADLINE)?;
        let instance = image.instantiate_async(&mut store).await?;
        Ok(Spare { store, instance })
    }

    /// Keep a spare made for `id`, within the bound of images: the images
    /// least recently asked for lose theirs.
    fn keep(&self, id: ImageId, made: anyhow::Result<Spare>) {
        let mut dropped = Vec::new();
        let mut ready = self.shared.ready();
        let Some(of_image) = ready.images.get_mut(&id) else {
            return;
        };
        match made {
            Ok(spare) => of_image.ready.push(spare),
            // The pool is full, most likely: executions instantiate
            // inline, as without spares.
            Err(error) => tracing::debug!(%error, "a spare instance could not be made"),
        }
        ready.made(id, 1);
        while ready.images.len() > self.shared.max_images {
            let coldest = ready
                .images
                .iter()
                .min_by_key(|(_, of_image)| of_image.asked_at)
                .map(|(id, _)| *id);
            let Some(of_image) = coldest.and_then(|id| ready.images.remove(&id)) else {
                break;
            };
            dropped.push(of_image.ready);
        }
        drop(ready);
        // Dropped outside the lock: a store's drop resets its memory.
        drop(dropped);
    }
}
