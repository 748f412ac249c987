//! The versioned secret keys, as text: the key file (`floh.key`) and the
//! `FLOH_SECRET_KEY` variable hold the same format.
//!
//! ```text
//! # comments and blank lines are ignored
//! 1:<base64 of 32 bytes>
//! 2:<base64 of 32 bytes>
//! ```
//!
//! A line without `N:` is version 1: the single-key files and variables of
//! data directories created before rotation keep working unchanged. The
//! highest version seals new values; the others only open old ones.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::SecretsError;
use super::envelope::LEGACY_VERSION;

/// One key's bytes.
pub(super) type KeyBytes = [u8; 32];

/// Parse the keys in `text`; `whence` names the source in errors.
pub(super) fn parse(text: &str, whence: &str) -> Result<BTreeMap<u32, KeyBytes>, SecretsError> {
    let mut keys = BTreeMap::new();
    // The variable may hold several keys on one line, separated by commas.
    let entries = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .flat_map(|line| line.split(',').map(str::trim));
    for entry in entries {
        let (version, encoded) = match entry.split_once(':') {
            Some((version, encoded)) => {
                let version: u32 = version.trim().parse().map_err(|_| {
                    SecretsError::BadKey(format!(
                        "{whence} has a key version `{version}` that is not a positive number"
                    ))
                })?;
                (version, encoded.trim())
            }
            None => (LEGACY_VERSION, entry),
        };
        if version == 0 {
            return Err(SecretsError::BadKey(format!(
                "{whence} has key version 0; versions start at 1"
            )));
        }
        let bytes = BASE64.decode(encoded).map_err(|_| {
            SecretsError::BadKey(format!("{whence} (version {version}) is not base64"))
        })?;
        let key: KeyBytes = bytes.as_slice().try_into().map_err(|_| {
            SecretsError::BadKey(format!(
                "{whence} (version {version}) must be 32 bytes, found {}",
                bytes.len()
            ))
        })?;
        if keys.insert(version, key).is_some() {
            return Err(SecretsError::BadKey(format!(
                "{whence} has key version {version} twice"
            )));
        }
    }
    if keys.is_empty() {
        return Err(SecretsError::BadKey(format!("{whence} holds no key")));
    }
    Ok(keys)
}

/// The text of a key file holding `keys`.
pub(super) fn format(keys: &BTreeMap<u32, KeyBytes>) -> String {
    let mut text = String::from(
        "# Floh secret keys, one per line as <version>:<base64>. The highest\n\
         # version seals new values; keep every version `floh key status` lists.\n",
    );
    for (version, key) in keys {
        text.push_str(&format!("{version}:{}\n", BASE64.encode(key)));
    }
    text
}

/// Replace the key file at `path` with `keys`: written to a private
/// temporary file, synced, renamed over the old one and the directory
/// synced, so a crash leaves either the old file or the new one.
pub(super) fn write_file(path: &Path, keys: &BTreeMap<u32, KeyBytes>) -> Result<(), SecretsError> {
    use std::io::Write as _;
    let io = |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let temporary = path.with_extension("key.new");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).map_err(io)?;
    file.write_all(format(keys).as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(io)?;
    if let Some(directory) = path.parent() {
        std::fs::File::open(directory)
            .and_then(|dir| dir.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

/// Write a new key file at `path`; fails if one exists (two servers starting
/// on one directory cannot overwrite each other's key).
pub(super) fn create_file(path: &Path, keys: &BTreeMap<u32, KeyBytes>) -> Result<(), SecretsError> {
    use std::io::Write as _;
    let io = |source| SecretsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(format(keys).as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        BASE64.encode([byte; 32])
    }

    #[test]
    fn a_single_key_is_version_one_and_versions_round_trip() {
        let single = parse(&format!("{}\n", key(1)), "test").expect("single");
        assert_eq!(single.keys().copied().collect::<Vec<_>>(), [1]);
        let many = parse(&format!("# c\n1:{}\n\n3:{}\n", key(1), key(3)), "t").expect("many");
        assert_eq!(many.keys().copied().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(parse(&format(&many), "again").expect("again"), many);
        let inline = parse(&format!("1:{}, 2:{}", key(1), key(2)), "env").expect("inline");
        assert_eq!(inline.len(), 2);
    }

    #[test]
    fn malformed_key_text_is_refused_with_the_reason() {
        let cases = [
            (String::new(), "holds no key"),
            ("short".to_string(), "not base64"),
            (BASE64.encode([0u8; 16]), "must be 32 bytes"),
            (format!("x:{}", key(1)), "not a positive number"),
            (format!("0:{}", key(1)), "start at 1"),
            (format!("2:{}\n2:{}", key(1), key(2)), "twice"),
        ];
        for (text, reason) in cases {
            match parse(&text, "test") {
                Err(SecretsError::BadKey(message)) => {
                    assert!(message.contains(reason), "{message} lacks {reason}")
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn replacing_the_file_keeps_it_private() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("floh.key");
        let keys = parse(&key(1), "t").expect("keys");
        create_file(&path, &keys).expect("create");
        assert!(create_file(&path, &keys).is_err(), "never overwrites");
        let mut more = keys.clone();
        more.insert(2, [2; 32]);
        write_file(&path, &more).expect("replace");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(parse(&text, "t").expect("parse"), more);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!path.with_extension("key.new").exists());
    }
}
