//! Static checks on a plugin's bytes, before anything is compiled: it must be
//! a well-formed component, built for a WIT version this host supports, and
//! import nothing but the `floh` interfaces. Refusing here is cheap, and a
//! plugin that asks for sockets or files never reaches the compiler.

use serde::Deserialize;
use wasmparser::{ComponentTypeRef, Encoding, Parser, Payload};

use super::PluginError;
use crate::bindings::WIT_PACKAGE_VERSION;

/// The WIT package plugins are built against.
const PACKAGE: &str = "floh:connector";

/// Interfaces of the package a plugin may import.
const ALLOWED_INTERFACES: &[&str] = &["types", "http", "log", "config", "cache"];

/// What the bytes say about a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginStamp {
    /// The plugin crate's name, from the `floh-plugin` section.
    pub crate_name: Option<String>,
    /// The plugin crate's version.
    pub crate_version: Option<String>,
    /// The guest SDK version, from the `floh-sdk` section.
    pub sdk_version: Option<String>,
    /// The `floh:connector` version it imports.
    pub wit_version: Option<String>,
}

#[derive(Deserialize)]
struct SdkSection {
    sdk: String,
}

#[derive(Deserialize)]
struct PluginSection {
    name: String,
    version: String,
}

/// Check `bytes` (the file called `file`) and read its stamps.
pub fn inspect(file: &str, bytes: &[u8]) -> Result<PluginStamp, PluginError> {
    let mut stamp = PluginStamp::default();
    let mut imports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| PluginError::Malformed(e.message().to_string()))?;
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    return Err(PluginError::CoreModule);
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import =
                        import.map_err(|e| PluginError::Malformed(e.message().to_string()))?;
                    // Type imports (the world's `use types.{…}`) carry no
                    // capability; every other import is checked.
                    if !matches!(import.ty, ComponentTypeRef::Type(_)) {
                        imports.push(import.name.name.to_string());
                    }
                }
            }
            Payload::CustomSection(section) => match section.name() {
                "floh-sdk" => {
                    if let Ok(sdk) = serde_json::from_slice::<SdkSection>(section.data()) {
                        stamp.sdk_version = Some(sdk.sdk);
                    }
                }
                "floh-plugin" => {
                    if let Ok(plugin) = serde_json::from_slice::<PluginSection>(section.data()) {
                        stamp.crate_name = Some(plugin.name);
                        stamp.crate_version = Some(plugin.version);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    if depth != 0 {
        return Err(PluginError::Malformed("the file ends early".into()));
    }
    for import in &imports {
        check_import(file, import, &mut stamp)?;
    }
    Ok(stamp)
}

fn check_import(file: &str, import: &str, stamp: &mut PluginStamp) -> Result<(), PluginError> {
    let Some(rest) = import
        .strip_prefix(PACKAGE)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return Err(PluginError::ForbiddenImport(import.to_string()));
    };
    let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
    if !supported(version) {
        return Err(PluginError::UnsupportedWit {
            plugin: describe_plugin(file, stamp),
            found: if version.is_empty() {
                "an unversioned package".into()
            } else {
                format!("{PACKAGE}@{version}")
            },
            supported: supported_range(),
            sdk_hint: sdk_hint(),
        });
    }
    if !ALLOWED_INTERFACES.contains(&interface) {
        return Err(PluginError::ForbiddenImport(import.to_string()));
    }
    stamp.wit_version = Some(version.to_string());
    Ok(())
}

/// Versions the host links: semver-compatible with its own, which for a 0.x
/// package means the same minor version.
fn supported(version: &str) -> bool {
    let Some((major, minor)) = major_minor(version) else {
        return false;
    };
    let (host_major, host_minor) = major_minor(WIT_PACKAGE_VERSION).unwrap_or((0, 0));
    major == host_major && (major != 0 || minor == host_minor)
}

fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let _patch: u64 = parts.next()?.split(['-', '+']).next()?.parse().ok()?;
    Some((major, minor))
}

fn supported_range() -> String {
    let (major, minor) = major_minor(WIT_PACKAGE_VERSION).unwrap_or((0, 0));
    if major == 0 {
        format!("{PACKAGE}@{major}.{minor}.x")
    } else {
        format!("{PACKAGE}@{major}.x")
    }
}

fn sdk_hint() -> String {
    let (major, minor) = major_minor(WIT_PACKAGE_VERSION).unwrap_or((0, 0));
    format!("rebuild it with floh-sdk {major}.{minor}")
}

fn describe_plugin(file: &str, stamp: &PluginStamp) -> String {
    let mut text = format!("`{file}`");
    if let (Some(name), Some(version)) = (&stamp.crate_name, &stamp.crate_version) {
        text.push_str(&format!(" ({name} {version}"));
        if let Some(sdk) = &stamp.sdk_version {
            text.push_str(&format!(", built with floh-sdk {sdk}"));
        }
        text.push(')');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(imports: &[&str]) -> Vec<u8> {
        let imports: String = imports
            .iter()
            .map(|name| format!("(import \"{name}\" (instance))\n"))
            .collect();
        wat::parse_str(format!("(component {imports})")).expect("valid WAT")
    }

    #[test]
    fn floh_interfaces_of_a_compatible_version_pass() {
        let bytes = component(&["floh:connector/types@0.1.0", "floh:connector/http@0.1.2"]);
        let stamp = inspect("ok.wasm", &bytes).expect("accepted");
        assert_eq!(stamp.wit_version.as_deref(), Some("0.1.2"));
    }

    #[test]
    fn another_wit_version_is_refused_with_a_rebuild_hint() {
        let bytes = component(&["floh:connector/types@0.2.0"]);
        let error = inspect("new.wasm", &bytes).expect_err("refused");
        let text = error.to_string();
        assert!(text.contains("`new.wasm`"), "{text}");
        assert!(text.contains("floh:connector@0.2.0"), "{text}");
        assert!(text.contains("0.1.x"), "{text}");
        assert!(text.contains("rebuild it with floh-sdk 0.1"), "{text}");
    }

    #[test]
    fn wasi_sockets_and_filesystem_are_forbidden() {
        for import in ["wasi:sockets/tcp@0.2.0", "wasi:filesystem/preopens@0.2.0"] {
            let error = inspect("bad.wasm", &component(&[import])).expect_err("refused");
            assert_eq!(error, PluginError::ForbiddenImport(import.into()));
        }
        let error = inspect("bad.wasm", &component(&["floh:connector/secrets@0.1.0"]))
            .expect_err("refused");
        assert!(matches!(error, PluginError::ForbiddenImport(_)));
    }

    #[test]
    fn core_modules_truncated_files_and_garbage_are_refused() {
        let module = wat::parse_str("(module)").expect("valid WAT");
        assert_eq!(inspect("m.wasm", &module), Err(PluginError::CoreModule));
        let whole = component(&["floh:connector/types@0.1.0"]);
        let truncated = &whole[..whole.len() - 3];
        assert!(matches!(
            inspect("t.wasm", truncated),
            Err(PluginError::Malformed(_))
        ));
        assert!(matches!(
            inspect("g.wasm", b"definitely not wasm"),
            Err(PluginError::Malformed(_))
        ));
    }

    #[test]
    fn version_ranges_follow_semver() {
        assert!(supported("0.1.0") && supported("0.1.9") && supported("0.1.0-rc.1"));
        assert!(!supported("0.2.0") && !supported("1.1.0") && !supported("") && !supported("x"));
    }
}
