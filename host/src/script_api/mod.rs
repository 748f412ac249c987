//! The script API as documentation: TypeScript declarations of the `floh`
//! global (`floh.d.ts`) and a short reference text. The UI serves the
//! declarations to the editor and to script authors' own editors; the MCP
//! server offers both as resources. A test keeps the declarations in step
//! with what the engine installs (`plugins/js-engine/src/floh_global.rs`).

use std::collections::{BTreeMap, BTreeSet};

/// TypeScript declarations of the `floh` global, `ConnectorResult` and the
/// command function shape.
pub const TYPESCRIPT_DECLARATIONS: &str = include_str!("floh.d.ts");

/// The media type to serve [`TYPESCRIPT_DECLARATIONS`] with.
pub const TYPESCRIPT_MEDIA_TYPE: &str = "application/typescript; charset=utf-8";

/// A concise reference of the script API, in Markdown.
pub const REFERENCE_MARKDOWN: &str = include_str!("reference.md");

/// Every member path the declarations give the `floh` global, such as
/// `http`, `http.get`, `config`: read from the `Floh*` interfaces of
/// [`TYPESCRIPT_DECLARATIONS`] starting at `interface Floh`. Index
/// signatures (`[field: string]`) are not members.
pub fn declared_members() -> BTreeSet<String> {
    let interfaces = interfaces(TYPESCRIPT_DECLARATIONS);
    let mut members = BTreeSet::new();
    collect_members(&interfaces, "Floh", "", &mut members);
    members
}

/// One declared member: its name and the type after the colon (empty for
/// methods).
struct Member {
    name: String,
    type_name: String,
}

/// The members of each top-level `interface Name {` block. The declarations
/// file is written one member per line, which is all this reads.
fn interfaces(source: &str) -> BTreeMap<String, Vec<Member>> {
    let mut interfaces = BTreeMap::new();
    let mut current: Option<(String, Vec<Member>)> = None;
    for line in source.lines() {
        if let Some(rest) = line.strip_prefix("interface ") {
            let name = rest
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or_default();
            current = Some((name.to_string(), Vec::new()));
            continue;
        }
        if line.starts_with('}') {
            if let Some((name, members)) = current.take() {
                interfaces.insert(name, members);
            }
            continue;
        }
        let Some((_, members)) = current.as_mut() else {
            continue;
        };
        let text = line.trim();
        let text = text.strip_prefix("readonly ").unwrap_or(text);
        let name: String = text
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() || text.starts_with("/**") || text.starts_with('*') {
            continue;
        }
        let after = text[name.len()..].trim_start_matches('?');
        if after.starts_with('(') {
            members.push(Member {
                name,
                type_name: String::new(),
            });
        } else if let Some(type_text) = after.strip_prefix(':') {
            let type_name = type_text.trim().trim_end_matches(';').trim().to_string();
            members.push(Member { name, type_name });
        }
    }
    interfaces
}

fn collect_members(
    interfaces: &BTreeMap<String, Vec<Member>>,
    interface: &str,
    prefix: &str,
    out: &mut BTreeSet<String>,
) {
    for member in interfaces.get(interface).into_iter().flatten() {
        let path = format!("{prefix}{}", member.name);
        out.insert(path.clone());
        // Follow the Floh* interfaces whose members are named (not the
        // index-signature ones such as FlohConfig).
        if member.type_name.starts_with("Floh")
            && interfaces
                .get(&member.type_name)
                .is_some_and(|nested| !nested.is_empty())
        {
            collect_members(interfaces, &member.type_name, &format!("{path}."), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `floh` members the spec documents plus `floh.cache` and
    /// `floh.http.head/options/request`, as the engine installs them
    /// (plugins/js-engine/src/floh_global.rs and cache_bridge.rs). The
    /// runtime tests check the same list against a live engine
    /// (`host/tests/runtime/script_api.rs`).
    const ENGINE_MEMBERS: &[&str] = &[
        "cache",
        "cache.delete",
        "cache.get",
        "cache.set",
        "config",
        "http",
        "http.delete",
        "http.get",
        "http.head",
        "http.options",
        "http.patch",
        "http.post",
        "http.put",
        "http.request",
        "log",
        "log.debug",
        "log.error",
        "log.info",
        "log.trace",
        "log.warn",
        "params",
        "variables",
    ];

    #[test]
    fn the_declarations_declare_exactly_the_engine_members() {
        let expected: BTreeSet<String> = ENGINE_MEMBERS.iter().map(|s| s.to_string()).collect();
        assert_eq!(declared_members(), expected);
    }

    #[test]
    fn the_engine_source_installs_the_listed_members() {
        // Read the engine's own source so a member added there without a
        // declaration fails here even before the runtime tests run.
        let global = include_str!("../../../plugins/js-engine/src/floh_global.rs");
        let cache = include_str!("../../../plugins/js-engine/src/cache_bridge.rs");
        let source = format!("{global}{cache}");
        for member in ENGINE_MEMBERS {
            let name = member.rsplit('.').next().unwrap_or(member);
            assert!(
                source.contains(&format!("\"{name}\"")),
                "the engine source does not mention {member}"
            );
        }
        let installed: BTreeSet<&str> = source
            .match_indices(".set(\n")
            .chain(source.match_indices(".set("))
            .filter_map(|(at, pattern)| {
                let rest = source[at + pattern.len()..].trim_start();
                let name = rest.strip_prefix('"')?;
                Some(&name[..name.find('"')?])
            })
            .collect();
        let listed: BTreeSet<&str> = ENGINE_MEMBERS
            .iter()
            .map(|m| m.rsplit('.').next().unwrap_or(m))
            .collect();
        let extra: Vec<_> = installed
            .iter()
            .filter(|name| !listed.contains(*name) && **name != "floh" && **name != "console")
            .collect();
        assert!(extra.is_empty(), "installed but not declared: {extra:?}");
    }

    #[test]
    fn the_reference_mentions_every_member() {
        for member in declared_members() {
            assert!(
                REFERENCE_MARKDOWN.contains(&format!("floh.{member}")),
                "the reference does not mention floh.{member}"
            );
        }
    }
}
