//! A name is unique across nodes: twenty racing creates of one name, spread
//! over two nodes, make one connector.

use floh_e2e::assert_error;
use floh_e2e::postgres::TestPostgres;

use super::{Node, listed_names, within_limit};
use crate::crm;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_of_one_name_on_two_nodes_make_one_connector() {
    let Some(postgres) = TestPostgres::shared() else {
        return;
    };
    let database = postgres.database("unique names");
    let nodes = [Node::start(&database), Node::start(&database)];
    let apis: Vec<_> = nodes.iter().map(|node| node.server.admin()).collect();

    let creates = (0..20).map(|attempt| {
        let api = apis[attempt % apis.len()].clone();
        async move {
            within_limit(
                "a racing create",
                api.post(
                    "/api/connectors",
                    crm::definition("contested", "https://crm.example.com"),
                ),
            )
            .await
        }
    });
    let answers = futures::future::join_all(creates).await;

    let (created, refused): (Vec<_>, Vec<_>) =
        answers.into_iter().partition(|(status, _)| *status == 201);
    assert_eq!(created.len(), 1, "one create wins: {created:?} {refused:?}");
    assert_eq!(refused.len(), 19);
    for answer in refused {
        assert_error(answer, 409, "NAME_TAKEN", "contested");
    }
    let id = created[0].1["id"].as_str().expect("id");

    for api in &apis {
        let (status, found) = api.get("/api/connectors/contested").await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["id"], id, "{found}");
        let (status, listing) = api.get("/api/connectors").await;
        assert_eq!(status, 200, "{listing}");
        assert_eq!(listed_names(&listing), ["contested"]);
    }
}
