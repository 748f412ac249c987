//! Local `$ref` resolution with cycle protection.
//!
//! References are followed lazily, one value at a time: a recursive schema
//! (a tree node whose children are tree nodes) is never expanded in full.
//! Chains of references are followed until a non-reference value, and a
//! chain that comes back to itself is an error, as is any reference to
//! another document.

use std::collections::HashSet;

use serde_json::Value;

use super::OasError;

/// How many references one chain may follow.
const MAX_CHAIN: usize = 64;

/// Resolves references against one document.
pub struct Resolver<'a> {
    root: &'a Value,
}

impl<'a> Resolver<'a> {
    /// A resolver for `root`.
    pub fn new(root: &'a Value) -> Self {
        Self { root }
    }

    /// `value`, or what its `$ref` chain points to.
    pub fn resolve(&self, value: &'a Value) -> Result<&'a Value, OasError> {
        let mut current = value;
        let mut seen = HashSet::new();
        while let Some(target) = current.get("$ref").and_then(Value::as_str) {
            if !seen.insert(target) || seen.len() > MAX_CHAIN {
                return Err(OasError::RefCycle(target.to_string()));
            }
            current = self.lookup(target)?;
        }
        Ok(current)
    }

    fn lookup(&self, target: &str) -> Result<&'a Value, OasError> {
        let Some(pointer) = target.strip_prefix('#') else {
            return Err(OasError::ExternalRef(target.to_string()));
        };
        // JSON pointers escape `~` and `/`; URL-style refs may percent-encode.
        let decoded = percent_decode(pointer);
        self.root
            .pointer(&decoded)
            .ok_or_else(|| OasError::DanglingRef(target.to_string()))
    }
}

fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_chains_and_escaped_pointers() {
        let root = json!({"components": {"schemas": {
            "A": {"$ref": "#/components/schemas/B"},
            "B": {"type": "string"},
            "a/b": {"type": "integer"}
        }}});
        let resolver = Resolver::new(&root);
        let reference = json!({"$ref": "#/components/schemas/A"});
        assert_eq!(
            resolver.resolve(&reference).expect("chain"),
            &json!({"type": "string"})
        );
        let escaped = json!({"$ref": "#/components/schemas/a~1b"});
        assert_eq!(
            resolver.resolve(&escaped).expect("escaped"),
            &json!({"type": "integer"})
        );
    }

    #[test]
    fn cycles_external_and_dangling_refs_are_errors() {
        let root = json!({"components": {"schemas": {
            "Loop": {"$ref": "#/components/schemas/Loop2"},
            "Loop2": {"$ref": "#/components/schemas/Loop"},
            "Tree": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}}
        }}});
        let resolver = Resolver::new(&root);
        let looping = json!({"$ref": "#/components/schemas/Loop"});
        assert!(matches!(
            resolver.resolve(&looping),
            Err(OasError::RefCycle(_))
        ));
        let external = json!({"$ref": "other.yaml#/Pet"});
        assert!(matches!(
            resolver.resolve(&external),
            Err(OasError::ExternalRef(_))
        ));
        let dangling = json!({"$ref": "#/components/schemas/Nope"});
        assert!(matches!(
            resolver.resolve(&dangling),
            Err(OasError::DanglingRef(_))
        ));
        // A recursive schema resolves one level at a time.
        let tree = json!({"$ref": "#/components/schemas/Tree"});
        assert_eq!(resolver.resolve(&tree).expect("tree")["type"], "object");
    }
}
