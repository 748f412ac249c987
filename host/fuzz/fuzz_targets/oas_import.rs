//! The OpenAPI reader as `POST /api/connectors/parse-oas` drives it: any
//! bytes as the spec, sent both as a JSON object (when they are one) and as
//! JSON/YAML text in a string, then the draft as the API returns it. A spec
//! that imports is imported again with a selection taken from its own
//! operations and with a base URL, the paths a person's second try takes.
#![no_main]

use floh::model::{OpenApiSpec, Selection};
use floh::oas::{self, Draft};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // An object arrives as the JSON text the client sent.
    if let Ok(spec) = serde_json::from_str::<OpenApiSpec>(text) {
        import(spec);
    }
    // A pasted or uploaded file arrives as a string of JSON or YAML.
    import(OpenApiSpec::from_text(text));
});

fn import(spec: OpenApiSpec) {
    let Ok(draft) = oas::draft_from(spec.clone(), &Selection::default()) else {
        return;
    };
    let first = draft.operations.first().cloned();
    answer(draft);
    let Some(first) = first else {
        return;
    };
    let selection = Selection {
        operation_ids: first.operation_id.into_iter().collect(),
        tags: first.tags.into_iter().take(1).collect(),
        paths: vec![first.path],
    };
    if let Ok(mut draft) = oas::draft_from(spec, &selection) {
        oas::draft::apply_base_url(&mut draft, "https://api.example.com/base/");
        answer(draft);
    }
}

/// What the API does with a draft: serialize it.
fn answer(draft: Draft) {
    if let Err(error) = serde_json::to_string(&draft) {
        panic!("a draft always serializes: {error}");
    }
}
