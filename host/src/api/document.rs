//! The API document served at `GET /api/openapi.json`, generated rather than
//! written: each operation comes from its handler's `#[utoipa::path]`, each
//! schema from the serde type the handler reads or writes (`ToSchema`), and
//! the rules that hold for whole groups of routes are added here from the
//! same code that enforces them: bearer authentication and roles (the
//! `auth` middleware and `executor_may`), the JSON-body rejections
//! (`ApiJson`), the query rejections (`ApiQuery`), and the links that lead
//! from a created resource to its `/{id}` operations.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::Method;
use utoipa::OpenApi;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use super::auth::executor_may;
use super::error::ErrorBody;

/// The security scheme every protected operation requires.
const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Floh connector host",
        description = "Connectors (script, built-in, external, OpenAPI-generated), their executions, \
            on-premise agents and tokens. Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "connectors", description = "Define, check, run and inspect connectors"),
        (name = "agents", description = "On-premise agents and their tokens"),
        (name = "oauth", description = "OAuth2 connections a person authorizes once (authorization code with PKCE)"),
        (name = "keys", description = "Secret-key rotation: versions, re-wrap progress, retirement"),
        (name = "backup", description = "Online backups of the database (the secret key is never included)"),
        (name = "meta", description = "Health, metrics, types, plugins, API tokens and this document"),
    )
)]
struct ApiDoc;

/// The document's skeleton: info, tags and the shared schemas. Routes add
/// their operations to it.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The finished document, serialized once.
pub struct ApiDocument {
    /// The OpenAPI document as JSON.
    pub json: Bytes,
}

impl ApiDocument {
    /// Apply the document-wide rules to `openapi` and serialize it.
    pub fn new(mut openapi: utoipa::openapi::OpenApi) -> Self {
        for item in openapi.paths.paths.values_mut() {
            for (_, operation) in operations(item) {
                document_rejections(operation);
                // Protected operations (see `protect`) are rate limited.
                if operation.security.is_some() {
                    add_rate_limit_headers(operation);
                }
            }
        }
        add_links(&mut openapi);
        let components = openapi.components.get_or_insert_with(Default::default);
        components.security_schemes.insert(
            BEARER.into(),
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token: the admin token from FLOH_ADMIN_TOKEN, or one issued by POST /api/tokens",
                    ))
                    .build(),
            ),
        );
        let mut value = serde_json::to_value(&openapi).unwrap_or_default();
        camel_case_links(&mut value);
        let json = serde_json::to_vec(&value).unwrap_or_default();
        Self {
            json: Bytes::from(json),
        }
    }
}

/// Mark every operation of `openapi` (the routes behind the `auth`
/// middleware) as needing a bearer token, with the 401 the middleware
/// answers without one, the 403 it answers an executor token where
/// `executor_may` says no, and the 429 of the token's rate limit (whose
/// `RateLimit-*` fields `ApiDocument::new` adds to every answer, once all
/// of them are listed).
pub fn protect(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in &mut openapi.paths.paths {
        for (method, operation) in operations(item) {
            operation.security = Some(vec![SecurityRequirement::new::<_, _, &str>(BEARER, [])]);
            add_error(
                operation,
                401,
                "`UNAUTHORIZED`: no bearer token, or not a valid one",
            );
            add_error(
                operation,
                429,
                "`RATE_LIMITED`: the token is over its rate limit; retry after `Retry-After` seconds",
            );
            if !executor_may(&method, path) {
                add_error(
                    operation,
                    403,
                    "`FORBIDDEN`: the token's role (`executor`) may only read and execute",
                );
            }
        }
    }
}

/// The `RateLimit-*` fields (IETF draft `draft-ietf-httpapi-ratelimit-headers`)
/// on every response but 401 (no token, no limit), and `Retry-After` on
/// the 429. Present while the server enforces a limit (`--rate-limit-*`).
fn add_rate_limit_headers(operation: &mut Operation) {
    let count = |description: &str, minimum: u64| {
        HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(minimum as f64)),
            )
            .description(Some(description))
            .build()
    };
    let fields = [
        (
            "RateLimit-Limit",
            count("Requests a full bucket allows at once (the burst)", 1),
        ),
        ("RateLimit-Remaining", count("Requests allowed now", 0)),
        (
            "RateLimit-Reset",
            count("Seconds until the bucket is full again", 0),
        ),
        (
            "RateLimit-Policy",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(
                    "The limit as `BURST;w=SECONDS`: the burst, refilled over that window",
                ))
                .build(),
        ),
    ];
    for (status, response) in &mut operation.responses.responses {
        let RefOr::T(response) = response else {
            continue;
        };
        if status == "401" {
            continue;
        }
        for (name, header) in &fields {
            response.headers.insert((*name).to_string(), header.clone());
        }
        if status == "429" {
            response.headers.insert(
                "Retry-After".into(),
                count("Seconds to wait before the next request", 1),
            );
        }
    }
}

/// The answers `ApiJson` and `ApiQuery` give before a handler runs.
fn document_rejections(operation: &mut Operation) {
    if operation.request_body.is_some() {
        add_error(operation, 400, "`INVALID_JSON`: the body is not JSON");
        add_error(
            operation,
            413,
            "`BODY_UNREADABLE`: the body is larger than the limit",
        );
        add_error(
            operation,
            415,
            "`UNSUPPORTED_MEDIA_TYPE`: send `Content-Type: application/json`",
        );
        add_error(
            operation,
            422,
            "`INVALID_BODY`: JSON of the wrong shape (unknown or missing fields, wrong types); the message names the field",
        );
    }
    let has_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    if has_query {
        add_error(
            operation,
            400,
            "`INVALID_QUERY`: an unknown query parameter or a value out of range",
        );
    }
}

/// Add an error response, or append `description` to the one the handler
/// documents for the same status.
fn add_error(operation: &mut Operation, status: u16, description: &str) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(&status.to_string()) {
        Some(RefOr::T(existing)) => {
            if !existing.description.contains(description) {
                existing.description = format!("{}; {description}", existing.description);
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            responses.insert(status.to_string(), error_response(description).into());
        }
    }
}

/// An error response: `description` and the `Error` body.
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
}

/// Links from the operations that create a resource to the operations on
/// it, so that clients (and stateful testing) can follow them.
fn add_links(openapi: &mut utoipa::openapi::OpenApi) {
    let links: &[(&str, &str, &[&str])] = &[
        (
            "createConnector",
            "201",
            &[
                "getConnector",
                "updateConnector",
                "deleteConnector",
                "executeCommand",
                "testConnector",
                "listExecutions",
            ],
        ),
        ("createAgentToken", "201", &["revokeAgentToken"]),
    ];
    let mut by_id: BTreeMap<String, &mut Operation> = BTreeMap::new();
    for item in openapi.paths.paths.values_mut() {
        for (_, operation) in operations(item) {
            if let Some(id) = operation.operation_id.clone() {
                by_id.insert(id, operation);
            }
        }
    }
    for (from, status, targets) in links {
        let Some(operation) = by_id.get_mut(*from) else {
            continue;
        };
        let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status) else {
            continue;
        };
        for target in *targets {
            let link = LinkBuilder::new()
                .operation_id(*target)
                .parameter("id", "$response.body#/id")
                .description(format!("The `id` in the response is the `id` of {target}"))
                .build();
            response.links.insert((*target).to_string(), link.into());
        }
    }
}

/// The operations of a path item with their methods.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::HEAD, item.head.as_mut()),
        (Method::OPTIONS, item.options.as_mut()),
        (Method::TRACE, item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|operation| (method, operation)))
}

/// utoipa 5 serializes a link's fields in snake case (`operation_id`);
/// OpenAPI names them `operationId`, `operationRef` and `requestBody`.
fn camel_case_links(document: &mut serde_json::Value) {
    let Some(paths) = document.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links")?.as_object_mut())
        .flat_map(|links| links.values_mut())
        .filter_map(|link| link.as_object_mut());
    for link in links {
        for (from, to) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(from) {
                link.insert(to.into(), value);
            }
        }
    }
}
