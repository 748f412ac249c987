//! The operator's commands that speak to a running server: key rotation
//! (`floh key …`) and online backups (`floh backup FILE`). Restoring is
//! local (`floh restore`, see `crate::restore`): no server runs on the
//! directory being restored.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::Value;

use super::table::Table;
use super::{Client, ClientOptions};
use crate::service::inspect_backup;

/// `floh key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Show the key versions, how many sealed values each holds, and the
    /// re-wrap's progress.
    Status,
    /// Create a new key version: new values are sealed with it at once and
    /// the stored ones are re-wrapped in the background.
    Rotate,
    /// Retire a key version that nothing is sealed with any more.
    Retire {
        /// The version.
        version: u32,
    },
}

/// Run a key command.
pub async fn key(options: ClientOptions, command: KeyCommand) -> anyhow::Result<()> {
    let client = Client::new(options)?;
    let (method, path) = match &command {
        KeyCommand::Status => (reqwest::Method::GET, "/keys".to_string()),
        KeyCommand::Rotate => (reqwest::Method::POST, "/keys/rotate".to_string()),
        KeyCommand::Retire { version } => (reqwest::Method::DELETE, format!("/keys/{version}")),
    };
    let status = client.call(method, &path, None).await?;
    client.show(&status, |status| {
        let headline = match &command {
            KeyCommand::Status => String::new(),
            KeyCommand::Rotate => format!(
                "rotated: key version {} seals new values; add it to your key backups now\n",
                status["activeVersion"]
            ),
            KeyCommand::Retire { version } => format!("retired key version {version}\n"),
        };
        format!("{headline}{}", key_status(status))
    })
}

fn key_status(status: &Value) -> String {
    let mut table = Table::new(&["VERSION", "ACTIVE", "VALUES"]);
    for version in status["versions"].as_array().into_iter().flatten() {
        table.row([
            version["version"].to_string(),
            if version["active"] == true { "yes" } else { "" }.to_string(),
            version["values"].to_string(),
        ]);
    }
    let rewrap = &status["rewrap"];
    let progress = if let Some(error) = rewrap["error"].as_str() {
        format!("stopped: {error}")
    } else if rewrap["running"] == true || rewrap["remaining"].as_u64().unwrap_or(0) > 0 {
        format!("under way, {} value(s) to go", rewrap["remaining"])
    } else {
        "done".to_string()
    };
    format!(
        "keys from the {}\n{}re-wrap: {progress} ({} moved since the server started)\n",
        status["source"].as_str().unwrap_or("?"),
        table.render("no keys"),
        rewrap["rewrapped"]
    )
}

/// `floh backup FILE`: stream a consistent online backup into FILE (written
/// beside it first, checked, then renamed into place).
pub async fn backup(options: ClientOptions, file: &Path, force: bool) -> anyhow::Result<()> {
    if file.exists() && !force {
        bail!(
            "{} exists; choose another file or pass --force",
            file.display()
        );
    }
    let client = Client::new(options)?;
    let mut response = client.send(reqwest::Method::POST, "/backup", None).await?;
    if !response.status().is_success() {
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        return Err(super::refused(status, &answer));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?")
            .to_string()
    };
    let versions = header(crate::api::backup::KEY_VERSIONS_HEADER);
    let partial = partial_path(file);
    let mut out = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let written = async {
        while let Some(chunk) = response.chunk().await? {
            out.write_all(&chunk)?;
        }
        out.sync_all()?;
        anyhow::Ok(())
    }
    .await;
    let checked = written.and_then(|()| Ok(inspect_backup(&partial)?));
    let summary = match checked {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error.context("the backup did not arrive whole; nothing was written"));
        }
    };
    std::fs::rename(&partial, file).with_context(|| format!("writing {}", file.display()))?;
    if client.json() {
        super::print(&serde_json::json!({
            "file": file,
            "connectors": summary.connectors,
            "takenAtMs": summary.taken_at_ms,
            "keyVersions": versions,
        }))?;
    } else {
        println!(
            "backup written to {} ({} connectors)",
            file.display(),
            summary.connectors
        );
    }
    eprintln!(
        "\nTHE SECRET KEY IS NOT IN THIS BACKUP. Keep the server's floh.key (key versions {versions}) \
         or its FLOH_SECRET_KEY safe, separately from the backup: without it the connection configs \
         and OAuth2 grants in the backup cannot be opened, and `floh restore` refuses it."
    );
    Ok(())
}

fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    file.with_file_name(name)
}
