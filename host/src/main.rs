//! The `floh` binary: parse the command line and hand over to the library.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Floh connector host.
#[derive(Parser)]
#[command(name = "floh", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build step: pre-initialize a raw JavaScript engine component (used by `just guests`).
    #[command(hide = true)]
    PreinitEngine {
        /// The engine as built by cargo.
        input: PathBuf,
        /// Where to write the pre-initialized component.
        output: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    match Cli::parse().command {
        Command::PreinitEngine { input, output } => {
            let raw =
                std::fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
            let snapshot = floh::runtime::snapshot::preinitialize(&raw).await?;
            std::fs::write(&output, &snapshot)
                .with_context(|| format!("writing {}", output.display()))?;
            println!("{} ({} bytes)", output.display(), snapshot.len());
            Ok(())
        }
    }
}
