//! A node warns at start when PostgreSQL may lose writes it acknowledged
//! (`synchronous_commit` off for its database), and says nothing when the
//! settings are safe.

use floh_e2e::postgres::TestPostgres;

use super::Node;

const WARNING: &str = "writes Floh acknowledged can be lost";

#[tokio::test]
async fn a_node_warns_when_synchronous_commit_is_off() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let safe = postgres.database("durable settings");
    let node = Node::start(&safe);
    assert!(
        !node.server.printed().contains(WARNING),
        "{}",
        node.server.printed()
    );

    let unsafe_database = postgres.database("asynchronous commit");
    let name = unsafe_database.rsplit('/').next().expect("database name");
    postgres.psql(
        &unsafe_database,
        &format!("ALTER DATABASE \"{name}\" SET synchronous_commit = off"),
    );
    let node = Node::start(&unsafe_database);
    let printed = node.server.printed();
    assert!(
        printed.contains(WARNING) && printed.contains("synchronous_commit"),
        "{printed}"
    );
}
