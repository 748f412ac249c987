//! The `sample` connector type of the end-to-end tests: one well-behaved
//! command that calls an upstream with a secret, and three that misbehave on
//! purpose (spin forever, exhaust memory, panic) so the tests can check that
//! the host contains them.

use floh_sdk::{Command, Connector, Error, Field, Output, Request, TypeInfo, http};
use serde::Deserialize;
use serde_json::json;

/// The plugin.
pub struct Sample;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    base_url: String,
    api_key: String,
}

#[derive(Deserialize)]
struct GreetParams {
    name: String,
    /// Ask the upstream to take its time (tests replace the plugin meanwhile).
    #[serde(default)]
    slow: bool,
}

const VERSION: &str = if cfg!(feature = "v2") {
    "2.0.0"
} else {
    "1.0.0"
};
const GREETING: &str = if cfg!(feature = "v2") {
    "Howdy"
} else {
    "Hello"
};

impl Connector for Sample {
    fn describe() -> TypeInfo {
        TypeInfo::new("sample", VERSION)
            .description("Test plugin")
            .config(Field::string("baseUrl").required())
            .config(Field::secret("apiKey").required())
            .command(
                Command::new("greet")
                    .description("Fetch a greeting from the upstream")
                    .param(Field::string("name").required())
                    .param(Field::boolean("slow").default_value(false))
                    .outputs(&["greeting", "upstream"]),
            )
            .command(Command::new("spin").description("Loop forever"))
            .command(Command::new("hog").description("Allocate until memory runs out"))
            .command(Command::new("panic").description("Panic"))
            .command(Command::new("test"))
    }

    fn execute(request: &Request) -> Result<Output, Error> {
        match request.command() {
            "greet" => greet(request),
            "spin" => spin(),
            "hog" => hog(),
            "panic" => panic!("the sample plugin was asked to panic"),
            "test" => Ok(Output::data(json!({"ok": true}))),
            #[cfg(feature = "ballast")]
            "ballast" => Ok(Output::data(
                json!({"byte": BALLAST[std::hint::black_box(7)]}),
            )),
            other => Err(Error::unknown_command(other)),
        }
    }
}

/// Makes the component about 2 MiB larger.
#[cfg(feature = "ballast")]
static BALLAST: [u8; 2 * 1024 * 1024] = [0x5a; 2 * 1024 * 1024];

fn greet(request: &Request) -> Result<Output, Error> {
    let config: Config = request.config()?;
    let params: GreetParams = request.params()?;
    // Logged on purpose: the host must mask it.
    floh_sdk::info!("calling {} with key {}", config.base_url, config.api_key);
    let mut url = format!("{}/greeting", config.base_url);
    if params.slow {
        url.push_str("?slow");
    }
    let upstream: serde_json::Value = http::get(url)
        .bearer(&config.api_key)
        .send()?
        .error_for_status()?
        .json()?;
    Ok(Output::data(json!({
        "greeting": format!("{GREETING}, {}!", params.name),
        "upstream": upstream,
        "version": VERSION,
    }))
    .variable("greeted", params.name))
}

fn spin() -> Result<Output, Error> {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

fn hog() -> Result<Output, Error> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        blocks.push(vec![1u8; 1024 * 1024]);
        std::hint::black_box(&blocks);
    }
}

floh_sdk::export_connector!(Sample);
