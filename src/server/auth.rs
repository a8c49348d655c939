//! Publish authorisation: bearer tokens from the config, compared in constant time.
//!
//! The secret is never logged; a request is identified in logs by the token's name only.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::error::ApiError;
use crate::config::TokenConfig;
use crate::protocol::ChannelId;

/// Compares two byte strings in time that depends only on their lengths, not their contents.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = u8::from(a.len() != b.len());
    let longest = a.len().max(b.len());
    for index in 0..longest {
        let left = a.get(index).copied().unwrap_or(0);
        let right = b.get(index).copied().unwrap_or(0);
        difference |= left ^ right;
    }
    std::hint::black_box(difference) == 0
}

/// The token a request presents in `Authorization: Bearer <token>`, if any.
fn presented(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
}

/// The configured token whose secret the request presents, if any. Every configured token is
/// compared, so timing does not reveal which one matched.
fn matching<'a>(tokens: &'a [TokenConfig], presented: &[u8]) -> Option<&'a TokenConfig> {
    let mut matched = None;
    for token in tokens {
        if constant_time_eq(token.secret.as_bytes(), presented) && matched.is_none() {
            matched = Some(token);
        }
    }
    matched
}

/// Finds the configured token the request carries and checks it may publish to `channel`.
pub fn authorize<'a>(
    tokens: &'a [TokenConfig],
    headers: &HeaderMap,
    channel: &ChannelId,
) -> Result<&'a TokenConfig, ApiError> {
    let presented = presented(headers).ok_or(ApiError::Unauthorized)?;
    let token = matching(tokens, presented).ok_or(ApiError::Unauthorized)?;
    if token.allows(channel) {
        Ok(token)
    } else {
        Err(ApiError::Forbidden(channel.to_string()))
    }
}

/// Checks the request carries a token that may manage channels.
pub fn authorize_admin<'a>(
    tokens: &'a [TokenConfig],
    headers: &HeaderMap,
) -> Result<&'a TokenConfig, ApiError> {
    let presented = presented(headers).ok_or(ApiError::AdminUnauthorized)?;
    match matching(tokens, presented) {
        Some(token) if token.admin => Ok(token),
        Some(_) => Err(ApiError::AdminForbidden),
        None => Err(ApiError::AdminUnauthorized),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use axum::http::HeaderValue;

    use super::*;
    use crate::config::server::TokenScope;

    #[test]
    fn constant_time_eq_matches_only_equal_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn only_admin_tokens_reach_admin_routes() {
        let tokens = vec![
            TokenConfig {
                name: "publisher".into(),
                secret: "secret-publish-1".into(),
                scope: TokenScope::All,
                admin: false,
            },
            TokenConfig {
                name: "admin".into(),
                secret: "secret-admin-1".into(),
                scope: TokenScope::Channels(HashSet::new()),
                admin: true,
            },
        ];
        let with = |token: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_str(token).unwrap());
            headers
        };
        assert!(matches!(
            authorize_admin(&tokens, &HeaderMap::new()),
            Err(ApiError::AdminUnauthorized)
        ));
        assert!(matches!(
            authorize_admin(&tokens, &with("Bearer secret-publish-1")),
            Err(ApiError::AdminForbidden)
        ));
        assert!(matches!(
            authorize_admin(&tokens, &with("Bearer wrong-secret-99")),
            Err(ApiError::AdminUnauthorized)
        ));
        assert_eq!(
            authorize_admin(&tokens, &with("bearer secret-admin-1"))
                .unwrap()
                .name,
            "admin"
        );
        // An admin token manages channels; it does not publish.
        let world = ChannelId::new("world").unwrap();
        assert!(matches!(
            authorize(&tokens, &with("Bearer secret-admin-1"), &world),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn bearer_tokens_are_checked_for_channel_scope() {
        let world = ChannelId::new("world").unwrap();
        let tech = ChannelId::new("tech").unwrap();
        let tokens = vec![TokenConfig {
            name: "w".into(),
            secret: "secret-world-1".into(),
            scope: TokenScope::Channels(HashSet::from([world.clone()])),
            admin: false,
        }];
        let mut headers = HeaderMap::new();
        assert!(matches!(
            authorize(&tokens, &headers, &world),
            Err(ApiError::Unauthorized)
        ));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer wrong-token-00"),
        );
        assert!(matches!(
            authorize(&tokens, &headers, &world),
            Err(ApiError::Unauthorized)
        ));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("bearer  secret-world-1 "),
        );
        assert_eq!(authorize(&tokens, &headers, &world).unwrap().name, "w");
        assert!(matches!(
            authorize(&tokens, &headers, &tech),
            Err(ApiError::Forbidden(_))
        ));
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic secret-world-1"),
        );
        assert!(matches!(
            authorize(&tokens, &headers, &world),
            Err(ApiError::Unauthorized)
        ));
    }
}
