//! HTTP helpers shared by the client and the server's feed fetcher: reading `Retry-After`, and
//! describing a failed request in one line without its URL (which may carry secrets).
//!
//! No I/O; both rooms call it, neither depends on the other.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// `Retry-After` as delta-seconds or an HTTP date; a date in the past is zero.
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The innermost cause of an error: the part people can act on ("Connection refused").
#[must_use]
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// A failed request in one line: what failed and its root cause, naming the host but never
/// the full URL.
#[must_use]
pub fn describe(error: &reqwest::Error) -> String {
    let host = error
        .url()
        .and_then(|u| u.host_str())
        .unwrap_or("the server");
    let what = if error.is_timeout() {
        "timed out talking to"
    } else if error.is_connect() {
        "cannot reach"
    } else {
        "lost the connection to"
    };
    format!("{what} {host}: {}", root_cause(error))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[tokio::test]
    async fn describe_names_the_host_and_the_root_cause_not_the_url() {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let error = reqwest::get(format!("http://{free}/secret-path?token=abc"))
            .await
            .unwrap_err();
        let text = describe(&error);
        assert!(text.starts_with("cannot reach 127.0.0.1: "), "{text}");
        assert!(
            !text.contains("secret-path") && !text.contains("token"),
            "{text}"
        );
    }
}
