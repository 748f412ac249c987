//! The `authifi` type's descriptor: the spec's five config fields and the
//! user and group commands, each with its params, defaults and outputs.

use floh_sdk::{Command, Field, TypeInfo};

use crate::commands::{DEFAULT_LIMIT, MAX_LIMIT};

/// Name, version, config fields and commands.
pub fn type_info() -> TypeInfo {
    TypeInfo::new("authifi", env!("CARGO_PKG_VERSION"))
        .description("Users and groups of an Authifi tenant, via OAuth2 client credentials")
        .config(
            Field::string("baseUrl")
                .required()
                .description("Authifi base URL, e.g. https://auth.example.com/_api"),
        )
        .config(
            Field::string("tenant")
                .required()
                .description("Tenant name, as in its token URL {baseUrl}/{tenant}/oauth2/token"),
        )
        .config(
            Field::string("tenantId")
                .required()
                .description("Tenant id, as in API paths {baseUrl}/api/v1/tenants/{tenantId}"),
        )
        .config(
            Field::string("clientId")
                .required()
                .description("OAuth2 client allowed to manage the tenant"),
        )
        .config(
            Field::secret("clientSecret")
                .required()
                .description("The client's secret"),
        )
        .command(
            paged(
                Command::new("listUsers"),
                "username or email contains this text",
            )
            .description("List the tenant's users, a page at a time")
            .outputs(&["users", "total"]),
        )
        .command(
            Command::new("getUser")
                .description("Read one user; fails with \"user `id` not found\" when there is none")
                .param(user_id())
                .outputs(&["user"]),
        )
        .command(
            Command::new("createUser")
                .description("Create a user")
                .param(
                    Field::string("username")
                        .required()
                        .description("Login name, unique in the tenant"),
                )
                .param(
                    Field::string("email")
                        .required()
                        .description("Email address"),
                )
                .param(Field::string("firstName").description("Given name"))
                .param(Field::string("lastName").description("Family name"))
                .param(
                    Field::boolean("enabled")
                        .default_value(true)
                        .description("Whether the user can sign in"),
                )
                .param(Field::object("attributes").description("Custom attributes"))
                .outputs(&["user", "userId"]),
        )
        .command(
            Command::new("updateUser")
                .description("Change some of a user's fields; the others are kept")
                .param(user_id())
                .param(Field::string("email").description("New email address"))
                .param(Field::string("firstName").description("New given name"))
                .param(Field::string("lastName").description("New family name"))
                .param(Field::boolean("enabled").description("Enable or disable sign-in"))
                .param(
                    Field::object("attributes")
                        .description("Custom attributes to set (merged by Authifi)"),
                )
                .outputs(&["user"]),
        )
        .command(
            Command::new("deleteUser")
                .description("Delete a user")
                .param(user_id())
                .outputs(&["userId", "deleted"]),
        )
        .command(
            paged(Command::new("listGroups"), "group name contains this text")
                .description("List the tenant's groups, a page at a time")
                .outputs(&["groups", "total"]),
        )
        .command(
            Command::new("addGroupMember")
                .description("Add a user to a group (already a member is fine)")
                .param(group_id())
                .param(user_id())
                .outputs(&["groupId", "userId"]),
        )
        .command(
            Command::new("removeGroupMember")
                .description("Remove a user from a group")
                .param(group_id())
                .param(user_id())
                .outputs(&["groupId", "userId"]),
        )
        .command(
            Command::new("test")
                .description("Fetch a new access token and list one user")
                .outputs(&["tenant", "tenantId", "userCount"]),
        )
}

fn paged(command: Command, filter: &str) -> Command {
    command
        .param(
            Field::integer("limit")
                .default_value(DEFAULT_LIMIT)
                .description(&format!("Page size, 1 to {MAX_LIMIT}")),
        )
        .param(
            Field::integer("offset")
                .default_value(0)
                .description("How many to skip"),
        )
        .param(Field::string("filter").description(&format!("Only those whose {filter}")))
}

fn user_id() -> Field {
    Field::string("userId")
        .required()
        .description("The user's id")
}

fn group_id() -> Field {
    Field::string("groupId")
        .required()
        .description("The group's id")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_config_is_exactly_the_spec_fields() {
        let schema = type_info().config_schema();
        let config = schema["connectionConfig"].as_object().expect("fields");
        let mut names: Vec<&str> = config.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["baseUrl", "clientId", "clientSecret", "tenant", "tenantId"]
        );
        assert!(config.values().all(|field| field["required"] == true));
        assert_eq!(config["clientSecret"]["secret"], true);
        assert_eq!(config["clientId"].get("secret"), None);
    }

    #[test]
    fn every_command_has_a_description_params_and_outputs() {
        let schema = type_info().config_schema();
        let commands = schema["commands"].as_object().expect("commands");
        let mut names: Vec<&str> = commands.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "addGroupMember",
                "createUser",
                "deleteUser",
                "getUser",
                "listGroups",
                "listUsers",
                "removeGroupMember",
                "test",
                "updateUser"
            ]
        );
        for (name, command) in commands {
            assert!(command["description"].is_string(), "{name}");
            assert!(
                !command["outputs"].as_array().expect("outputs").is_empty(),
                "{name}"
            );
        }
        assert_eq!(
            commands["listUsers"]["paramSchema"]["limit"],
            json!({"type": "integer", "default": 50, "description": "Page size, 1 to 1000"})
        );
        assert_eq!(
            commands["createUser"]["paramSchema"]["enabled"]["default"],
            true
        );
        assert_eq!(
            commands["addGroupMember"]["params"],
            json!(["groupId", "userId"])
        );
    }
}
