//! OAuth2 grants the host keeps for an imported connector: security schemes
//! a person authorizes once (authorization code, implicit, OpenID Connect)
//! or that use the resource owner's password become `configSchema.oauth2`,
//! and the operations that use them send the access token the host supplies
//! as `floh.config.accessToken`. The host renews that token and retries a
//! request once on 401, so the generated script does neither.
//!
//! One connector holds one grant: the first such scheme (by name) that the
//! kept operations use supplies its settings, and every grant scheme they use
//! sends the same token. An oauth2 scheme that also has a client-credentials
//! flow stays client credentials (see [`super::security`]): that flow runs
//! unattended, with no person to authorize it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::model::{GrantType, OAuth2Settings};

/// The grant one security scheme asks for, before scopes are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantScheme {
    /// Grant type and endpoints (no scopes yet).
    pub settings: OAuth2Settings,
    /// Where the settings come from.
    pub flow: Flow,
    /// What a person must still do or know, should this scheme supply the
    /// connector's grant.
    pub notes: Vec<String>,
}

/// The flow of its scheme a grant comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// An oauth2 `authorizationCode` flow.
    AuthorizationCode,
    /// An oauth2 `implicit` flow, run as authorization code with PKCE.
    Implicit,
    /// An oauth2 `password` flow.
    Password,
    /// An `openIdConnect` scheme (its grant asks for `openid`).
    OpenIdConnect,
}

/// The grant an `oauth2` scheme without a client-credentials flow asks
/// for: its authorization-code flow, else its implicit flow (run as
/// authorization code with PKCE), else its password flow. `None` when it
/// has none of them. Endpoints relative to the API are resolved against
/// `server` (the first server's URL).
pub fn from_oauth2(name: &str, scheme: &Value, server: Option<&str>) -> Option<GrantScheme> {
    let flows = scheme.get("flows")?;
    let mut notes = Vec::new();
    let (kind, flow) = [
        ("authorizationCode", Flow::AuthorizationCode),
        ("implicit", Flow::Implicit),
        ("password", Flow::Password),
    ]
    .into_iter()
    .find_map(|(key, kind)| flows.get(key).filter(|f| f.is_object()).map(|f| (kind, f)))?;
    let grant = match kind {
        Flow::Password => GrantType::Password,
        _ => GrantType::AuthorizationCode,
    };
    let mut url = |key: &str| endpoint(name, flow.get(key), key, server, &mut notes);
    let authorization_url = match grant {
        GrantType::AuthorizationCode => url("authorizationUrl"),
        GrantType::Password => None,
    };
    let mut token_url = url("tokenUrl");
    if token_url.is_none() {
        // Another flow of the same scheme is the same authorization server.
        token_url = ["authorizationCode", "password"].iter().find_map(|other| {
            let url = flows.get(*other)?.get("tokenUrl")?;
            endpoint(name, Some(url), "tokenUrl", server, &mut Vec::new())
        });
    }
    Some(GrantScheme {
        settings: OAuth2Settings {
            grant,
            authorization_url,
            token_url,
            ..OAuth2Settings::default()
        },
        flow: kind,
        notes,
    })
}

/// The grant of an `openIdConnect` scheme: authorization code with both
/// endpoints unset (they are in the provider's discovery document, which an
/// import does not fetch) and the `openid` scope.
pub fn from_open_id_connect(name: &str, scheme: &Value) -> GrantScheme {
    let discovery = scheme
        .get("openIdConnectUrl")
        .and_then(Value::as_str)
        .unwrap_or("");
    let note = if discovery.is_empty() {
        format!(
            "security scheme `{name}` is OpenID Connect without a discovery URL: set oauth2.authorizationUrl and oauth2.tokenUrl to the provider's endpoints before connecting"
        )
    } else {
        format!(
            "security scheme `{name}` is OpenID Connect: set oauth2.authorizationUrl and oauth2.tokenUrl to `authorization_endpoint` and `token_endpoint` of its discovery document {discovery} before connecting"
        )
    };
    GrantScheme {
        settings: OAuth2Settings::default(),
        flow: Flow::OpenIdConnect,
        notes: vec![note],
    }
}

/// An endpoint as an absolute http(s) URL: as the spec gives it, or
/// resolved against the API's server when relative. Anything else is left
/// unset, with a note.
fn endpoint(
    scheme: &str,
    value: Option<&Value>,
    key: &str,
    server: Option<&str>,
    notes: &mut Vec<String>,
) -> Option<String> {
    let text = value.and_then(Value::as_str)?.trim();
    if text.is_empty() {
        return None;
    }
    let absolute = |url: &url::Url| matches!(url.scheme(), "http" | "https");
    if let Ok(url) = url::Url::parse(text) {
        if absolute(&url) {
            return Some(text.to_string());
        }
    } else if let Some(joined) = server
        .and_then(|base| url::Url::parse(base).ok())
        .filter(absolute)
        .and_then(|base| base.join(text).ok())
    {
        return Some(joined.to_string());
    }
    notes.push(format!(
        "security scheme `{scheme}`: its {key} `{text}` is not an absolute http(s) URL, so oauth2.{key} is left unset; set it before connecting"
    ));
    None
}

/// `configSchema.oauth2` for the kept operations, and the warnings a person
/// should read. `None` when no kept operation uses a grant scheme.
///
/// The first grant scheme (by name) the operations use supplies grant type
/// and endpoints; a token endpoint it lacks (an implicit flow has none) is
/// taken from another grant scheme with the same authorization endpoint, the
/// same authorization server. The scopes are those the operations' security
/// requirements name for grant schemes, sorted, not every scope a flow
/// declares (some APIs declare hundreds).
///
/// `requirements` has, per kept operation, the schemes of the security
/// alternative it uses and the scopes it names.
pub fn settings_for<'a>(
    grants: &BTreeMap<String, GrantScheme>,
    requirements: impl IntoIterator<Item = (&'a [String], &'a [String])>,
) -> (Option<OAuth2Settings>, Vec<String>) {
    let requirements: Vec<_> = requirements.into_iter().collect();
    let used: BTreeSet<&String> = requirements
        .iter()
        .flat_map(|(security, _)| security.iter())
        .filter(|name| grants.contains_key(*name))
        .collect();
    let Some(first) = used.first() else {
        return (None, Vec::new());
    };
    let chosen = &grants[*first];
    let mut settings = chosen.settings.clone();
    let mut warnings = chosen.notes.clone();
    // Schemes at the same authorization endpoint: one authorization server.
    let same_server = |other: &GrantScheme| {
        settings.authorization_url.is_some()
            && other.settings.authorization_url == settings.authorization_url
    };
    if settings.token_url.is_none() {
        settings.token_url = grants
            .values()
            .filter(|other| same_server(other))
            .find_map(|other| other.settings.token_url.clone());
    }
    if chosen.flow == Flow::Implicit
        && !grants
            .values()
            .any(|other| other.flow == Flow::AuthorizationCode && same_server(other))
    {
        warnings.push(format!(
            "security scheme `{first}` has only an implicit flow: Floh runs it as authorization code with PKCE, which the provider must support for your client"
        ));
    }
    let mut scopes: BTreeSet<String> = requirements
        .iter()
        .flat_map(|(_, scopes)| scopes.iter().cloned())
        .collect();
    if chosen.flow == Flow::OpenIdConnect {
        scopes.insert("openid".into());
    }
    settings.scopes = scopes.into_iter().collect();
    let elsewhere: Vec<String> = used
        .iter()
        .filter(|name| {
            let other = &grants[**name];
            !same_server(other) && other.settings != chosen.settings
        })
        .map(|name| format!("`{name}`"))
        .collect();
    if !elsewhere.is_empty() {
        warnings.push(format!(
            "the operations also use the security schemes {}, whose endpoints differ from `{first}`'s; a connector holds one OAuth2 grant, so they send the access token of `{first}`'s grant",
            elsewhere.join(", ")
        ));
    }
    if let Some(missing) = settings.missing_for_connect()
        && chosen.flow != Flow::OpenIdConnect
    {
        warnings.push(format!(
            "oauth2.{missing} is not set (security scheme `{first}` names none): the connector cannot be connected until it is"
        ));
    }
    if let Err(problem) = settings.check() {
        warnings.push(problem);
    }
    (Some(settings), warnings)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `settings_for` over [`grants`] for operations given as (schemes, scopes).
    fn settings_of(plans: &[(&[&str], &[&str])]) -> (Option<OAuth2Settings>, Vec<String>) {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let owned: Vec<_> = plans
            .iter()
            .map(|(s, c)| (strings(s), strings(c)))
            .collect();
        settings_for(
            &grants(),
            owned.iter().map(|(s, c)| (s.as_slice(), c.as_slice())),
        )
    }

    fn grants() -> BTreeMap<String, GrantScheme> {
        let oauth2 = |flows: Value| json!({"type": "oauth2", "flows": flows});
        BTreeMap::from([
            (
                "Oauth2".to_string(),
                from_oauth2(
                    "Oauth2",
                    &oauth2(json!({"implicit": {"authorizationUrl": "https://id.example.com/auth"}})),
                    None,
                )
                .expect("implicit"),
            ),
            (
                "Oauth2c".to_string(),
                from_oauth2(
                    "Oauth2c",
                    &oauth2(json!({"authorizationCode": {"authorizationUrl": "https://id.example.com/auth", "tokenUrl": "https://id.example.com/token"}})),
                    None,
                )
                .expect("code"),
            ),
            (
                "lonely".to_string(),
                from_oauth2(
                    "lonely",
                    &oauth2(json!({"implicit": {"authorizationUrl": "https://other.example.com/auth"}})),
                    None,
                )
                .expect("implicit"),
            ),
            (
                "oidc".to_string(),
                from_open_id_connect(
                    "oidc",
                    &json!({"openIdConnectUrl": "https://id.example.com/.well-known/openid-configuration"}),
                ),
            ),
        ])
    }

    #[test]
    fn no_grant_when_no_kept_operation_uses_one() {
        let (settings, warnings) = settings_of(&[(&["key"], &[])]);
        assert_eq!(settings, None);
        assert!(warnings.is_empty());
    }

    #[test]
    fn the_first_used_scheme_supplies_the_grant_and_scopes_are_what_operations_name() {
        let (settings, warnings) = settings_of(&[
            (&["Oauth2c"], &["b", "a"]),
            (&["Oauth2"], &["c", "a"]),
            (&["key"], &[]),
        ]);
        let settings = settings.expect("grant");
        assert_eq!(settings.grant, GrantType::AuthorizationCode);
        assert_eq!(
            settings.authorization_url.as_deref(),
            Some("https://id.example.com/auth")
        );
        // `Oauth2` (implicit) names no token endpoint; `Oauth2c`, with the
        // same authorization endpoint, does.
        assert_eq!(
            settings.token_url.as_deref(),
            Some("https://id.example.com/token")
        );
        assert_eq!(settings.scopes, ["a", "b", "c"]);
        assert_eq!(settings.missing_for_connect(), None);
        // One authorization server, its code flow declared: nothing to say.
        assert!(warnings.is_empty(), "{warnings:?}");
        let (_, warnings) = settings_of(&[(&["Oauth2c"], &[]), (&["lonely"], &[])]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("`lonely`") && warnings[0].contains("one OAuth2 grant"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_missing_token_endpoint_is_a_warning() {
        let (settings, warnings) = settings_of(&[(&["lonely"], &[])]);
        assert_eq!(settings.expect("grant").token_url, None);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("oauth2.tokenUrl is not set")),
            "{warnings:?}"
        );
        assert!(warnings.iter().any(|w| w.contains("implicit flow")));
    }

    #[test]
    fn open_id_connect_asks_for_openid_and_names_its_discovery_document() {
        let (settings, warnings) = settings_of(&[(&["oidc"], &["email"])]);
        let settings = settings.expect("grant");
        assert_eq!(settings.grant, GrantType::AuthorizationCode);
        assert_eq!(
            (settings.authorization_url, settings.token_url),
            (None, None)
        );
        assert_eq!(settings.scopes, ["email", "openid"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("https://id.example.com/.well-known/openid-configuration"));
    }

    #[test]
    fn endpoints_that_are_not_http_urls_are_left_unset_with_a_note() {
        let scheme = json!({"type": "oauth2", "flows": {"password": {"tokenUrl": "urn:token"}}});
        let grant = from_oauth2("owner", &scheme, Some("/relative")).expect("password");
        assert_eq!(grant.settings.token_url, None);
        assert!(grant.notes[0].contains("`urn:token`"), "{:?}", grant.notes);
    }
}
