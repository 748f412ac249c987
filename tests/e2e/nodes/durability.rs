//! An acknowledged create survives `kill -9` of every node followed by a
//! crash of PostgreSQL itself.

use floh_e2e::postgres::TestPostgres;

use super::{Node, listed_names, within_limit};
use crate::crm;

/// Concurrent writers, spread over the nodes.
const WRITERS: usize = 8;
/// Creates per writer: 200 in all.
const CREATES_PER_WRITER: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_killed_nodes_and_a_crashed_database() {
    // A cluster of its own: this test crashes it, and other tests share the
    // shared one.
    let Some(postgres) = TestPostgres::start() else {
        return;
    };
    let database = postgres.database("durability");
    let mut nodes = [Node::start(&database), Node::start(&database)];

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let api = nodes[writer % nodes.len()].server.admin();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for n in 0..CREATES_PER_WRITER {
                    let name = format!("durable-{writer}-{n}");
                    let definition = crm::definition(&name, "https://crm.example.com");
                    let (status, body) =
                        within_limit(&name, api.post("/api/connectors", definition)).await;
                    assert_eq!(status, 201, "{name}: {body}");
                    acknowledged.push(name);
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer"));
    }
    assert_eq!(acknowledged.len(), WRITERS * CREATES_PER_WRITER);

    for node in &mut nodes {
        node.server.kill();
    }
    postgres.stop_immediate();
    postgres.start_again();

    let survivor = Node::start(&database);
    let (status, listing) = within_limit(
        "listing after the crash",
        survivor.server.admin().get("/api/connectors"),
    )
    .await;
    assert_eq!(status, 200, "{listing}");
    let stored = listed_names(&listing);
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|name| !stored.contains(name))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged creates were lost: {lost:?}",
        lost.len()
    );
    assert_eq!(stored.len(), acknowledged.len(), "{stored:?}");
}
