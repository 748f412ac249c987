//! The published script API declarations (`floh.d.ts`) match the `floh`
//! global a live engine installs, member for member.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{engine, open_context, run};

/// Lists every own member of `floh`, one level of nesting deep, with its type.
const ENUMERATE: &str = r#"
function members() {
  var found = {};
  Object.keys(floh).forEach(function (name) {
    var value = floh[name];
    found[name] = typeof value;
    if (value && typeof value === 'object' && ['config', 'params', 'variables'].indexOf(name) < 0) {
      Object.keys(value).forEach(function (inner) { found[name + '.' + inner] = typeof value[inner]; });
    }
  });
  return { success: true, data: found };
}
"#;

#[tokio::test]
async fn floh_d_ts_declares_exactly_what_the_engine_installs() {
    let engine = engine();
    let execution = run(
        &engine,
        ENUMERATE,
        "members",
        json!({}),
        &open_context(json!({}), &[]),
    )
    .await;
    let data = execution.outcome.expect("runs").data.expect("data");
    let installed: BTreeSet<String> = data.as_object().expect("object").keys().cloned().collect();
    assert_eq!(floh::script_api::declared_members(), installed);
    // Every method is a function, every namespace an object.
    for (name, kind) in data.as_object().unwrap() {
        let expected = if name.contains('.') {
            "function"
        } else {
            "object"
        };
        assert_eq!(kind, &Value::from(expected), "floh.{name}");
    }
}
