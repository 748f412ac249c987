//! A connector with an OAuth2 grant the host keeps sends the access token
//! it was given (`config.accessToken`). When an upstream answers 401 to a
//! request that carried it, the import asks the grant for a new token (the
//! host refreshes, once for all executions that hit the same 401) and sends
//! the request again with the new token in place of the old: the script
//! sees the second answer and never handles a refresh.

use std::future::Future;
use std::pin::Pin;

/// The grant behind an execution's access token.
pub trait AccessTokenRenewal: Send + Sync {
    /// The access token requests carry now.
    fn current(&self) -> String;

    /// A new access token after an upstream refused `rejected`; `None` when
    /// there is none to be had (the grant was revoked, the provider is
    /// unreachable): the 401 then stands.
    fn renew(&self, rejected: String) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>>;
}

/// Whether a header value carries `token`.
pub(super) fn carries(headers: &[(String, String)], token: &str) -> bool {
    !token.is_empty() && headers.iter().any(|(_, value)| value.contains(token))
}

/// `headers` with every occurrence of `old` replaced by `new`.
pub(super) fn replaced(
    headers: &[(String, String)],
    old: &str,
    new: &str,
) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| (name.clone(), value.replace(old, new)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_found_and_swapped_in_any_header() {
        let headers = vec![
            ("authorization".to_string(), "Bearer old-token".to_string()),
            ("x-other".to_string(), "1".to_string()),
        ];
        assert!(carries(&headers, "old-token"));
        assert!(!carries(&headers, "new-token"));
        assert!(!carries(&headers, ""));
        let swapped = replaced(&headers, "old-token", "new-token");
        assert_eq!(swapped[0].1, "Bearer new-token");
        assert_eq!(swapped[1].1, "1");
    }
}
