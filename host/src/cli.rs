//! The command-line client: every command speaks to a running server's API.
//! People get tables and summaries (`render`); scripts pass `-o json` and
//! get the API's JSON unchanged. Errors are one line on stderr; exit codes:
//! 0 done, 1 failed (the server refused, or could not be reached), 2 bad
//! usage, 3 the command or test ran and did not succeed.

mod operate;
mod render;
mod table;

pub use operate::{KeyCommand, backup, key};

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};

/// Where the API is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientOptions {
    /// Server base URL.
    #[arg(
        long,
        env = "FLOH_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// API token.
    #[arg(long, env = "FLOH_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Output: `table` for people, `json` (the API's answer) for scripts.
    #[arg(
        short = 'o',
        long = "output",
        env = "FLOH_OUTPUT",
        value_enum,
        default_value_t = OutputFormat::Table,
        global = true
    )]
    pub output: OutputFormat,
}

/// How the CLI prints answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Tables and summaries.
    Table,
    /// The API's JSON, pretty-printed.
    Json,
}

/// A command or test that ran and reported `success: false` (exit code 3),
/// as opposed to a request that failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotSucceeded(pub String);

/// The exit code for an error a CLI command returned.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.is::<NotSucceeded>() { 3 } else { 1 }
}

/// `floh connector …`.
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Create a connector from a JSON definition file (`-` for stdin).
    Create {
        /// The definition.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// List connectors.
    List,
    /// List the built-in types connectors can be instances of (shipped and
    /// plugin types).
    Types,
    /// Show one connector (secrets masked).
    Get {
        /// Id or name.
        name: String,
    },
    /// Delete a connector.
    Delete {
        /// Id or name.
        name: String,
    },
    /// Start connecting a connector with an OAuth2 authorization-code grant:
    /// prints the provider URL to open in a browser (valid 10 minutes).
    Connect {
        /// Id or name.
        name: String,
    },
    /// Forget a connector's OAuth2 grant.
    Disconnect {
        /// Id or name.
        name: String,
    },
    /// Turn an OpenAPI/Swagger spec (JSON or YAML) into a draft connector;
    /// with --create, create it.
    ImportOpenapi {
        /// The spec file (`-` for stdin).
        file: PathBuf,
        /// Create the connector from the draft.
        #[arg(long)]
        create: bool,
        /// Name for the connector (default: from the spec's title).
        #[arg(long)]
        name: Option<String>,
        /// Where a spec with relative server URLs is served.
        #[arg(long)]
        base_url: Option<String>,
    },
}

/// `floh token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue an API token (shown once).
    Create {
        /// A label.
        #[arg(long)]
        name: String,
        /// `admin` or `executor`.
        #[arg(long, default_value = "executor")]
        role: String,
    },
}

/// `floh agent token …`.
#[derive(Debug, Subcommand)]
pub enum AgentTokenCommand {
    /// Issue an agent token (shown once).
    Create {
        /// A label.
        #[arg(long)]
        name: String,
        /// Seconds until the token stops registering agents (default: never).
        #[arg(long = "expires-in")]
        expires_in: Option<u64>,
        /// Only these connectors may be claimed with the token (repeat;
        /// default: any).
        #[arg(long = "connector", value_name = "NAME")]
        connectors: Vec<String>,
    },
    /// List agent tokens (no secrets).
    List,
    /// Revoke an agent token; agents using it are disconnected at once.
    Revoke {
        /// The token's id (from `create` or `list`).
        id: String,
    },
}

struct Client {
    http: reqwest::Client,
    options: ClientOptions,
}

impl Client {
    fn json(&self) -> bool {
        self.options.output == OutputFormat::Json
    }

    /// Print `value` as JSON under `-o json`, else what `people` makes of it.
    fn show(&self, value: &Value, people: impl FnOnce(&Value) -> String) -> anyhow::Result<()> {
        if self.json() {
            print(value)
        } else {
            print!("{}", people(value));
            Ok(())
        }
    }
}

impl Client {
    fn new(options: ClientOptions) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().build()?;
        Ok(Self { http, options })
    }

    /// Send `method` to `/api{path}` with the token; a transport failure
    /// names the URL.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/api{path}", self.options.server.trim_end_matches('/'));
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.options.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .with_context(|| format!("calling {url}"))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let response = self.send(method, path, body).await?;
        let status = response.status();
        let text = response.text().await?;
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            return Err(refused(status, &value));
        }
        Ok(value)
    }
}

/// The one-line error for an API error answer.
fn refused(status: reqwest::StatusCode, answer: &Value) -> anyhow::Error {
    let code = answer["error"]["code"].as_str().unwrap_or("ERROR");
    let message = answer["error"]["message"]
        .as_str()
        .unwrap_or("request failed");
    anyhow::anyhow!("{status} {code}: {message}")
}

fn print(value: &Value) -> anyhow::Result<()> {
    if !value.is_null() {
        println!("{}", serde_json::to_string_pretty(value)?);
    }
    Ok(())
}

fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

fn read_input(file: &std::path::Path) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        Ok(std::io::read_to_string(std::io::stdin())?)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
    }
}

/// Run a connector command.
pub async fn connector(options: ClientOptions, command: ConnectorCommand) -> anyhow::Result<()> {
    let client = Client::new(options)?;
    match command {
        ConnectorCommand::Create { file } => {
            let text = read_input(&file)?;
            let definition: Value =
                serde_json::from_str(&text).context("the definition is not valid JSON")?;
            let created = client
                .call(reqwest::Method::POST, "/connectors", Some(definition))
                .await?;
            client.show(&created, |c| {
                format!(
                    "created connector {} ({})\n",
                    c["name"].as_str().unwrap_or(""),
                    c["id"].as_str().unwrap_or("")
                )
            })
        }
        ConnectorCommand::ImportOpenapi {
            file,
            create,
            name,
            base_url,
        } => {
            let spec = read_input(&file)?;
            let mut body = json!({ "spec": spec });
            if let Some(base_url) = base_url {
                body["baseUrl"] = json!(base_url);
            }
            let mut draft = client
                .call(reqwest::Method::POST, "/connectors/parse-oas", Some(body))
                .await?;
            if let Some(name) = name {
                draft["definition"]["name"] = json!(name);
            }
            if !create {
                return client.show(&draft, render::draft);
            }
            // A large API's draft is tens of megabytes: move it, don't copy it.
            let definition = draft["definition"].take();
            let created = client
                .call(reqwest::Method::POST, "/connectors", Some(definition))
                .await?;
            let answer = json!({
                "created": created,
                "skipped": draft["skipped"],
                "warnings": draft["warnings"],
            });
            client.show(&answer, |a| {
                render::imported(&a["created"], &a["skipped"], &a["warnings"])
            })
        }
        ConnectorCommand::List => {
            let list = client
                .call(reqwest::Method::GET, "/connectors", None)
                .await?;
            if client.json() {
                return print(&list);
            }
            let agents = client.call(reqwest::Method::GET, "/agents", None).await?;
            print!("{}", render::connectors(&list, &agents));
            Ok(())
        }
        ConnectorCommand::Types => {
            let types = client
                .call(reqwest::Method::GET, "/connector-types", None)
                .await?;
            client.show(&types, render::types)
        }
        ConnectorCommand::Get { name } => {
            let view = client
                .call(
                    reqwest::Method::GET,
                    &format!("/connectors/{}", encode(&name)),
                    None,
                )
                .await?;
            client.show(&view, render::connector)
        }
        ConnectorCommand::Connect { name } => {
            let started = client
                .call(
                    reqwest::Method::POST,
                    &format!("/connectors/{}/oauth/authorize", encode(&name)),
                    Some(serde_json::json!({})),
                )
                .await?;
            if client.json() {
                return client.show(&started, |_| String::new());
            }
            let url = started["authorizationUrl"].as_str().unwrap_or_default();
            println!("Open this URL in a browser to connect {name} (valid for 10 minutes):\n{url}");
            Ok(())
        }
        ConnectorCommand::Disconnect { name } => {
            client
                .call(
                    reqwest::Method::DELETE,
                    &format!("/connectors/{}/oauth", encode(&name)),
                    None,
                )
                .await?;
            if !client.json() {
                println!("disconnected connector {name}");
            }
            Ok(())
        }
        ConnectorCommand::Delete { name } => {
            client
                .call(
                    reqwest::Method::DELETE,
                    &format!("/connectors/{}", encode(&name)),
                    None,
                )
                .await?;
            if !client.json() {
                println!("deleted connector {name}");
            }
            Ok(())
        }
    }
}

/// `floh exec NAME COMMAND --params JSON`.
pub async fn exec(
    options: ClientOptions,
    name: &str,
    command: &str,
    params: Option<&str>,
) -> anyhow::Result<()> {
    let params: Value = match params {
        Some(text) => serde_json::from_str(text).context("--params is not valid JSON")?,
        None => json!({}),
    };
    let client = Client::new(options)?;
    let body = json!({"command": command, "params": params});
    let value = client
        .call(
            reqwest::Method::POST,
            &format!("/connectors/{}/execute", encode(name)),
            Some(body),
        )
        .await?;
    client.show(&value, render::execution)?;
    if value["success"] == Value::Bool(true) {
        Ok(())
    } else {
        Err(NotSucceeded(format!("the command `{command}` did not succeed")).into())
    }
}

/// `floh test NAME`.
pub async fn test(options: ClientOptions, name: &str) -> anyhow::Result<()> {
    let client = Client::new(options)?;
    let value = client
        .call(
            reqwest::Method::POST,
            &format!("/connectors/{}/test", encode(name)),
            None,
        )
        .await?;
    client.show(&value, render::execution)?;
    if value["success"] == Value::Bool(true) {
        Ok(())
    } else {
        Err(NotSucceeded(format!("the test of `{name}` did not succeed")).into())
    }
}

/// `floh token create`.
pub async fn token(options: ClientOptions, command: TokenCommand) -> anyhow::Result<()> {
    let client = Client::new(options)?;
    let TokenCommand::Create { name, role } = command;
    let value = client
        .call(
            reqwest::Method::POST,
            "/tokens",
            Some(json!({"name": name, "role": role})),
        )
        .await?;
    client.show(&value, |v| render::issued("token", v))
}

/// `floh plugin …`: local work on plugin files (no server involved).
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Turn the core module `cargo build --target wasm32-unknown-unknown`
    /// produced for a floh-sdk crate into a plugin component.
    Pack {
        /// The core module.
        module: PathBuf,
        /// Where to write the component.
        output: PathBuf,
    },
    /// Check a component the way the server does (inspect, compile,
    /// describe) and print its type, without a server.
    Check {
        /// The component.
        component: PathBuf,
    },
    /// List the files of a running server's plugin directory: loaded or
    /// refused, with the reason.
    List {
        /// The server to ask.
        #[command(flatten)]
        client: ClientOptions,
    },
}

/// Run a plugin command.
pub async fn plugin(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::List { client } => {
            let client = Client::new(client)?;
            let list = client.call(reqwest::Method::GET, "/plugins", None).await?;
            client.show(&list, render::plugins)
        }
        PluginCommand::Pack { module, output } => {
            let bytes =
                std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
            let component = crate::plugins::pack(&bytes)
                .with_context(|| format!("packing {}", module.display()))?;
            std::fs::write(&output, &component)
                .with_context(|| format!("writing {}", output.display()))?;
            println!("{} ({} bytes)", output.display(), component.len());
            Ok(())
        }
        PluginCommand::Check { component } => {
            use crate::connectors::BuiltinType as _;
            let bytes = std::fs::read(&component)
                .with_context(|| format!("reading {}", component.display()))?;
            let engine = crate::runtime::ScriptEngine::new(Default::default())?;
            let file = component
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let plugin =
                crate::plugins::PluginType::load(std::sync::Arc::new(engine), &file, bytes).await?;
            let stamp = plugin.stamp();
            let report = json!({
                "type": plugin.descriptor(),
                "crate": stamp.crate_name,
                "crateVersion": stamp.crate_version,
                "sdkVersion": stamp.sdk_version,
                "witVersion": stamp.wit_version,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

/// `floh agent list` (no id) or `floh agent remove ID`.
pub async fn agents(options: ClientOptions, remove: Option<&str>) -> anyhow::Result<()> {
    let client = Client::new(options)?;
    match remove {
        None => {
            let list = client.call(reqwest::Method::GET, "/agents", None).await?;
            client.show(&list, render::agents)
        }
        Some(id) => {
            client
                .call(
                    reqwest::Method::DELETE,
                    &format!("/agents/{}", encode(id)),
                    None,
                )
                .await?;
            if !client.json() {
                println!("removed agent {id}");
            }
            Ok(())
        }
    }
}

/// `floh agent token …`.
pub async fn agent_token(options: ClientOptions, command: AgentTokenCommand) -> anyhow::Result<()> {
    let client = Client::new(options)?;
    match command {
        AgentTokenCommand::Create {
            name,
            expires_in,
            connectors,
        } => {
            let mut body = json!({"name": name});
            if let Some(seconds) = expires_in {
                body["expiresInSeconds"] = json!(seconds);
            }
            if !connectors.is_empty() {
                body["connectors"] = json!(connectors);
            }
            let issued = client
                .call(reqwest::Method::POST, "/agents/tokens", Some(body))
                .await?;
            client.show(&issued, |v| render::issued("agent token", v))
        }
        AgentTokenCommand::List => {
            let list = client
                .call(reqwest::Method::GET, "/agents/tokens", None)
                .await?;
            client.show(&list, render::agent_tokens)
        }
        AgentTokenCommand::Revoke { id } => {
            let revoked = client
                .call(
                    reqwest::Method::DELETE,
                    &format!("/agents/tokens/{}", encode(&id)),
                    None,
                )
                .await?;
            client.show(&revoked, |_| format!("revoked agent token {id}\n"))
        }
    }
}
