//! A real PostgreSQL for the tests of several nodes on one database (issue
//! 16): a throwaway cluster per test binary, a fresh database per test.
//!
//! Each cluster lives in a temporary directory of its own
//! (`floh-postgres-<test pid>-…`: the data directory, a unix socket
//! directory and the log) and listens on a free loopback port and on that
//! socket, with trust authentication for the `postgres` user. `fsync` and
//! `synchronous_commit` stay on: the durability tests count on a commit
//! that was acknowledged surviving a crash of PostgreSQL.
//!
//! `initdb` and `pg_ctl` refuse to run as root, so when the tests run as
//! root (CI, containers) the cluster belongs to the `postgres` system user
//! and those two run through `runuser -u postgres --`.
//!
//! Cleaning up: the cluster of [`TestPostgres::shared`] sits in a static,
//! and statics are never dropped. So every cluster gets a watchdog, a small
//! `sh` loop that checks once a second whether the test process still runs
//! and, once it does not, stops the cluster (`pg_ctl stop -m immediate`) and
//! removes its directory. The watchdog runs in a process group of its own:
//! a Ctrl-C in the terminal goes to the test's process group and must not
//! take the watchdog with it (the postmaster needs no such care: `pg_ctl`
//! detaches it into a session of its own). A cluster that is dropped is
//! stopped and removed at once. Should a watchdog have been killed itself,
//! the next start sweeps away the directories whose test process is gone.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How the temporary directory of every test cluster starts; the test
/// process's id follows, so that a sweep can tell abandoned ones.
const DIRECTORY_PREFIX: &str = "floh-postgres-";

/// The binaries a test cluster needs, all from one installation.
const BINARIES: [&str; 4] = ["initdb", "pg_ctl", "postgres", "psql"];

/// Waits for the test process (`$1`) to end, then runs the stop command
/// (`$3…`) and removes the cluster directory (`$2`). It also ends when the
/// directory is gone: the cluster was dropped and cleaned up already.
const WATCHDOG_SCRIPT: &str = r#"
owner=$1 root=$2
shift 2
while kill -0 "$owner" 2>/dev/null && [ -d "$root" ]; do sleep 1; done
"$@" >/dev/null 2>&1
rm -rf "$root"
"#;

/// A running PostgreSQL cluster of its own, stopped and removed on drop (or
/// by its watchdog when the test process ends).
pub struct TestPostgres {
    /// The directory holding `initdb`, `pg_ctl`, `postgres` and `psql`.
    binaries: PathBuf,
    owner: ClusterOwner,
    /// The temporary directory: `data/`, `socket/`, `postgres.log`.
    root: PathBuf,
    port: u16,
    watchdog: Option<Child>,
    /// Numbers the databases, which keeps their names unique.
    databases_created: AtomicUsize,
}

/// Who runs `initdb` and `pg_ctl`, which refuse root.
#[derive(Clone, Copy)]
enum ClusterOwner {
    CurrentUser,
    PostgresSystemUser,
}

impl TestPostgres {
    /// The cluster this test process shares: started by the first call,
    /// stopped by its watchdog after the process ends. `None` (with a note
    /// on stderr) when PostgreSQL is not installed; see [`Self::start`].
    ///
    /// Tests run in parallel on it, so a test that stops or kills PostgreSQL
    /// must [`start`](Self::start) a cluster of its own instead.
    pub fn shared() -> Option<&'static TestPostgres> {
        static SHARED: OnceLock<Option<TestPostgres>> = OnceLock::new();
        SHARED.get_or_init(Self::start).as_ref()
    }

    /// Create and start a cluster of its own. `None`, after saying how to
    /// install PostgreSQL, when its binaries are missing; a panic instead
    /// when `FLOH_REQUIRE_POSTGRES` is set (CI sets it, so that the tests
    /// cannot pass by skipping).
    pub fn start() -> Option<Self> {
        let Some(binaries) = find_binaries() else {
            return unavailable(
                "PostgreSQL's server binaries (initdb, pg_ctl, postgres, psql) are not in \
                 `pg_config --bindir` nor in /usr/lib/postgresql/*/bin",
            );
        };
        let owner = if !running_as_root() {
            ClusterOwner::CurrentUser
        } else if user_exists("postgres") {
            ClusterOwner::PostgresSystemUser
        } else {
            return unavailable(
                "the tests run as root, initdb refuses root, and there is no `postgres` user \
                 to run it as",
            );
        };
        sweep_abandoned_clusters(&binaries, owner);
        let root = tempfile::Builder::new()
            .prefix(&format!("{DIRECTORY_PREFIX}{}-", std::process::id()))
            .tempdir()
            .expect("temporary directory for PostgreSQL")
            .keep();
        let free_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut cluster = Self {
            binaries,
            owner,
            root,
            port: free_port,
            watchdog: None,
            databases_created: AtomicUsize::new(0),
        };
        // From here on a panic drops `cluster`, which cleans up.
        cluster.watchdog = Some(cluster.spawn_watchdog());
        cluster.initialize();
        cluster.start_again();
        Some(cluster)
    }

    /// Create a fresh, empty database (its name starts with `name_hint`);
    /// its URL, `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn database(&self, name_hint: &str) -> String {
        let number = self.databases_created.fetch_add(1, Ordering::Relaxed);
        let hint: String = name_hint
            .chars()
            .take(40)
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("{hint}_{number}");
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The same database reached through the unix socket instead of TCP:
    /// `postgresql://postgres@/NAME?host=SOCKET_DIR&port=PORT`.
    pub fn socket_url(&self, database: &str) -> String {
        format!(
            "postgresql://postgres@/{}?host={}&port={}",
            database_name(database),
            self.socket_dir().display(),
            self.port
        )
    }

    /// Run `sql` with `psql` in `database` (a URL from [`Self::database`],
    /// which connects as a client would, or a bare name, which goes through
    /// the socket); what it printed, tuples only, unaligned, trimmed. Panics
    /// on any error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut psql = self.psql_command(database);
        psql.args(["--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1"])
            .args(["--command", sql])
            .env("PGAPPNAME", "floh-test-psql");
        let output = run(psql, &format!("psql `{sql}`"));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// A `psql` of this installation connected to `database` (as for
    /// [`Self::psql`]), for a session of a test's own: add `--command`.
    pub fn psql_command(&self, database: &str) -> Command {
        let mut psql = Command::new(self.binaries.join("psql"));
        psql.args(["--no-psqlrc", "--quiet"]);
        if database.contains("://") {
            psql.arg("--dbname").arg(database);
        } else {
            psql.arg("--host")
                .arg(self.socket_dir())
                .args(["--port", &self.port.to_string()])
                .args(["--username", "postgres", "--dbname", database]);
        }
        psql
    }

    /// End, from the database side, the connections to `database` (a URL or
    /// a name) whose `application_name` is `LIKE` `application_name_like`
    /// (`%` for all); how many were ended.
    pub fn terminate_backends(&self, database: &str, application_name_like: &str) -> usize {
        let sql = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = {} AND application_name LIKE {} AND pid <> pg_backend_pid()",
            quote_literal(database_name(database)),
            quote_literal(application_name_like),
        );
        let ended = self.psql("postgres", &sql);
        ended
            .parse()
            .unwrap_or_else(|_| panic!("a count from psql, not `{ended}`"))
    }

    /// Crash-stop PostgreSQL (`pg_ctl stop -m immediate`): no checkpoint,
    /// the next start recovers from the WAL, as after a power cut.
    pub fn stop_immediate(&self) {
        run(self.stop_command(), "pg_ctl stop -m immediate");
    }

    /// `kill -9` the postmaster: what an OOM killer does. Its lock files stay
    /// behind; [`Self::start_again`] copes with them.
    pub fn kill_postmaster(&self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).expect("postmaster.pid: PostgreSQL runs");
        let pid = text.lines().next().unwrap_or_default().trim().to_string();
        let mut kill = Command::new("kill");
        kill.args(["-KILL", &pid]);
        run(kill, "kill -KILL the postmaster");
    }

    /// Start the stopped cluster again, on the same port and socket.
    pub fn start_again(&self) {
        self.remove_stale_lock_files();
        let mut start = self.as_owner("pg_ctl");
        start
            .args(["start", "--wait", "--timeout=60", "--silent", "--pgdata"])
            .arg(self.data_dir())
            .arg("--log")
            .arg(self.log_file());
        let output = start
            .stdin(Stdio::null())
            .output()
            .expect("run pg_ctl start");
        assert!(
            output.status.success(),
            "PostgreSQL did not start: {}\n--- {}:\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.log_file().display(),
            self.log_tail(),
        );
    }

    /// The loopback TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the unix socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("socket")
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn as_owner(&self, program: &str) -> Command {
        owner_command(self.owner, &self.binaries, program)
    }

    fn stop_command(&self) -> Command {
        stop_command(&self.binaries, self.owner, &self.root)
    }

    /// `initdb` and our settings. `--no-sync` only skips initdb's own fsync:
    /// a machine crash could lose those files, and a test cluster never
    /// outlives one; the server itself runs with `fsync = on`.
    fn initialize(&self) {
        std::fs::create_dir(self.socket_dir()).expect("socket directory");
        if let ClusterOwner::PostgresSystemUser = self.owner {
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:"]).arg(&self.root);
            run(chown, "chown the cluster directory to postgres");
        }
        let mut initdb = self.as_owner("initdb");
        initdb
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8"])
            .args(["--locale=C", "--no-sync", "--pgdata"])
            .arg(self.data_dir());
        run(initdb, "initdb");
        let settings = format!(
            "\n# floh-e2e test cluster\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket}'\n\
             max_connections = 200\n\
             shared_buffers = 32MB\n\
             fsync = on\n\
             synchronous_commit = on\n\
             full_page_writes = on\n",
            port = self.port,
            socket = self.socket_dir().display(),
        );
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .expect("open postgresql.conf");
        std::io::Write::write_all(&mut conf, settings.as_bytes()).expect("write postgresql.conf");
    }

    fn spawn_watchdog(&self) -> Child {
        let stop = self.stop_command();
        Command::new("sh")
            .args(["-c", WATCHDOG_SCRIPT, "floh-postgres-watchdog"])
            .arg(std::process::id().to_string())
            .arg(&self.root)
            .arg(stop.get_program())
            .args(stop.get_args())
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn the PostgreSQL watchdog")
    }

    /// After a `kill -9` the postmaster leaves `postmaster.pid` and the
    /// socket's `.s.PGSQL.PORT.lock` behind, both naming its PID. PostgreSQL
    /// removes such files itself only when no process has that PID, but the
    /// killed postmaster stays a zombie until init reaps it (about two
    /// seconds on the CI machine), and the PID may belong to another process
    /// later: either way the start fails with "lock file already exists".
    /// Once no process works in the data directory any more (the backends
    /// notice the postmaster's death and exit), the files are stale and go.
    /// Linux only: elsewhere PostgreSQL's own check has to do.
    fn remove_stale_lock_files(&self) {
        let pid_file = self.data_dir().join("postmaster.pid");
        if !pid_file.exists() || !Path::new("/proc/self").exists() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.processes_in_data_dir() > 0 {
            if Instant::now() > deadline {
                return; // PostgreSQL's start will say who holds the lock.
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(pid_file);
        for entry in std::fs::read_dir(self.socket_dir())
            .expect("socket directory")
            .flatten()
        {
            if entry.file_name().to_string_lossy().ends_with(".lock") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Live processes whose working directory is the data directory: the
    /// postmaster and its children. Zombies have none, so they do not count.
    fn processes_in_data_dir(&self) -> usize {
        let data_dir = std::fs::canonicalize(self.data_dir()).expect("data directory");
        std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter(|entry| {
                std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd == data_dir)
            })
            .count()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let _ = self.stop_command().output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Skip (with a note on how to install PostgreSQL) or, when the environment
/// requires PostgreSQL, fail.
fn unavailable(reason: &str) -> Option<TestPostgres> {
    let required =
        std::env::var_os("FLOH_REQUIRE_POSTGRES").is_some_and(|v| !v.is_empty() && v != "0");
    assert!(!required, "FLOH_REQUIRE_POSTGRES is set, but {reason}");
    eprintln!(
        "skipping: {reason}. Install PostgreSQL (`apt-get install postgresql`); the tests start \
         clusters of their own, no service or configuration needed."
    );
    None
}

/// `pg_config --bindir` if it holds the server binaries (it may belong to
/// libpq's development package alone), else the newest
/// `/usr/lib/postgresql/*/bin` (Debian and Ubuntu).
fn find_binaries() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let mut debian: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            let version = entry
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|part| part.parse().unwrap_or(0))
                .collect();
            (version, entry.path().join("bin"))
        })
        .collect();
    debian.sort_by(|a, b| b.0.cmp(&a.0));
    from_pg_config
        .into_iter()
        .chain(debian.into_iter().map(|(_, bin)| bin))
        .find(|dir| BINARIES.iter().all(|binary| dir.join(binary).is_file()))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `program` from `binaries`, run as the cluster's owner. It starts in `/`:
/// the `postgres` user may not enter the test's working directory.
fn owner_command(owner: ClusterOwner, binaries: &Path, program: &str) -> Command {
    let program = binaries.join(program);
    let mut command = match owner {
        ClusterOwner::CurrentUser => Command::new(program),
        ClusterOwner::PostgresSystemUser => {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(program);
            runuser
        }
    };
    command.current_dir("/");
    command
}

fn stop_command(binaries: &Path, owner: ClusterOwner, root: &Path) -> Command {
    let mut stop = owner_command(owner, binaries, "pg_ctl");
    stop.args(["stop", "--mode=immediate", "--wait", "--silent", "--pgdata"])
        .arg(root.join("data"));
    stop
}

/// Stop and remove the clusters of test processes that are gone but whose
/// watchdog did not clean up (it was killed too). Linux only: it asks
/// `/proc` whether a process runs.
fn sweep_abandoned_clusters(binaries: &Path, owner: ClusterOwner) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let owner_pid = name
            .strip_prefix(DIRECTORY_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        let Some(owner_pid) = owner_pid else { continue };
        if Path::new("/proc").join(owner_pid.to_string()).exists() {
            continue;
        }
        let _ = stop_command(binaries, owner, &entry.path()).output();
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// The database name in a URL (`…/NAME?…`), or `database` itself.
fn database_name(database: &str) -> &str {
    if !database.contains("://") {
        return database;
    }
    let without_query = database.split('?').next().unwrap_or(database);
    without_query.rsplit('/').next().unwrap_or(without_query)
}

/// `text` as an SQL string literal.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Run `command` to the end; panics with what it printed unless it
/// succeeds.
fn run(mut command: Command, what: &str) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot run it: {error}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}
