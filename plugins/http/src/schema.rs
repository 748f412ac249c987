//! The `http` type's descriptor: the native type's config fields and
//! commands, minus the methods the guest SDK cannot send (HEAD, OPTIONS).

use floh_sdk::{Command, Field, TypeInfo};

/// The methods the `request` command accepts.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Name, version, config fields and commands.
pub fn type_info() -> TypeInfo {
    TypeInfo::new("http", env!("CARGO_PKG_VERSION"))
        .description("Generic REST calls against a base URL, with API key, bearer, basic or OAuth2 client-credentials auth")
        .config(Field::string("baseUrl").required().description("Base URL every request path is relative to"))
        .config(
            Field::string("authType")
                .one_of(["none", "apiKey", "bearer", "basic", "oauth2"])
                .default_value("none")
                .description("How requests authenticate"),
        )
        .config(
            Field::string("apiKeyName")
                .default_value("X-API-Key")
                .description("Header or query parameter carrying the API key"),
        )
        .config(
            Field::string("apiKeyIn")
                .one_of(["header", "query"])
                .default_value("header")
                .description("Where the API key goes"),
        )
        .config(Field::secret("apiKey").description("API key (authType apiKey)"))
        .config(Field::secret("bearerToken").description("Bearer token (authType bearer)"))
        .config(Field::string("username").description("User (authType basic)"))
        .config(Field::secret("password").description("Password (authType basic)"))
        .config(Field::string("clientId").description("OAuth2 client id (authType oauth2)"))
        .config(Field::secret("clientSecret").description("OAuth2 client secret (authType oauth2)"))
        .config(Field::string("tokenUrl").description("OAuth2 token endpoint (client credentials)"))
        .config(Field::string("scope").description("OAuth2 scope"))
        .config(Field::object("defaultHeaders").description("Headers sent with every request"))
        .command(
            Command::new("request")
                .description("Send one request; the path is relative to baseUrl")
                .param(
                    Field::string("method")
                        .default_value("GET")
                        .one_of(METHODS)
                        .description("HTTP method"),
                )
                .param(Field::string("path").required().description("Path relative to baseUrl"))
                .param(Field::object("query").description("Query parameters; an array value repeats the parameter"))
                .param(Field::object("headers").description("Extra headers for this request"))
                .param(untyped_body())
                .outputs(&["status", "headers", "body"]),
        )
        .command(
            Command::new("test")
                .description("Check that the API answers and accepts the credentials")
                .outputs(&["status"]),
        )
}

/// `body` takes any JSON: a string is sent as is, anything else as JSON.
fn untyped_body() -> Field {
    Field::any("body")
        .description("Request body: a string is sent as is, other JSON as application/json")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_schema_keeps_the_native_config_fields_and_commands() {
        let schema = type_info().config_schema();
        let fields: Vec<&String> = schema["connectionConfig"]
            .as_object()
            .expect("fields")
            .keys()
            .collect();
        assert_eq!(
            fields,
            [
                "apiKey",
                "apiKeyIn",
                "apiKeyName",
                "authType",
                "baseUrl",
                "bearerToken",
                "clientId",
                "clientSecret",
                "defaultHeaders",
                "password",
                "scope",
                "tokenUrl",
                "username"
            ]
        );
        for secret in ["apiKey", "bearerToken", "password", "clientSecret"] {
            assert_eq!(
                schema["connectionConfig"][secret]["secret"], true,
                "{secret}"
            );
        }
        let request = &schema["commands"]["request"];
        assert_eq!(
            request["params"],
            json!(["method", "path", "query", "headers", "body"])
        );
        assert_eq!(request["paramSchema"]["path"]["required"], true);
        assert_eq!(request["paramSchema"]["method"]["default"], "GET");
        assert_eq!(schema["commands"]["test"]["outputs"], json!(["status"]));
    }
}
