//! The test PostgreSQL itself: fresh databases from the shared cluster, data
//! that survives an immediate stop and a `kill -9`, backends ended on
//! request.

use std::process::Stdio;
use std::time::{Duration, Instant};

use floh_e2e::postgres::TestPostgres;

#[test]
fn the_shared_cluster_hands_out_fresh_databases_reachable_by_url() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let first = postgres.database("harness fresh");
    let second = postgres.database("harness fresh");
    assert_ne!(first, second);
    assert_eq!(postgres.psql(&first, "select 1"), "1");
    postgres.psql(&first, "create table only_here (x int)");
    assert_eq!(
        postgres.psql(
            &second,
            "select count(*) from pg_tables where tablename = 'only_here'"
        ),
        "0",
        "a fresh database is empty"
    );
    let through_socket = postgres.socket_url(&second);
    assert_eq!(
        postgres.psql(&through_socket, "select current_database()"),
        postgres.psql(&second, "select current_database()"),
    );
}

/// A cluster of its own: stopping the shared one would break the tests
/// running beside this one.
#[test]
fn a_database_survives_an_immediate_stop_and_a_kill_9_of_postgres() {
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let url = postgres.database("harness survivor");
    postgres.psql(
        &url,
        "create table kept (x int); insert into kept values (42)",
    );

    postgres.stop_immediate();
    postgres.start_again();
    assert_eq!(postgres.psql(&url, "select x from kept"), "42");

    // Straight after a kill -9 the postmaster is a zombie still holding its
    // lock files: start_again has to clear them.
    postgres.psql(&url, "insert into kept values (43)");
    postgres.kill_postmaster();
    postgres.start_again();
    assert_eq!(
        postgres.psql(&url, "select string_agg(x::text, ',' order by x) from kept"),
        "42,43"
    );
}

#[test]
fn terminate_backends_ends_the_matching_connections_only() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let url = postgres.database("harness terminate");
    let sleeper = |application_name: &str| {
        postgres
            .psql_command(&url)
            .args(["--command", "select pg_sleep(60)"])
            .env("PGAPPNAME", application_name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn psql")
    };
    let mut doomed = sleeper("floh-node-listener");
    let mut spared = sleeper("someone-else");
    let connected = "select count(*) from pg_stat_activity where query like 'select pg_sleep%'";
    let deadline = Instant::now() + Duration::from_secs(10);
    while postgres.psql(&url, connected) != "2" {
        assert!(
            Instant::now() < deadline,
            "the two sleepers never connected"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    assert_eq!(postgres.terminate_backends(&url, "floh-node-%"), 1);
    let status = doomed.wait().expect("wait for psql");
    assert!(!status.success(), "its connection was ended");
    assert_eq!(
        spared.try_wait().expect("psql status"),
        None,
        "the other one still runs"
    );
    assert_eq!(postgres.terminate_backends(&url, "%"), 1);
    assert!(!spared.wait().expect("wait for psql").success());
}
