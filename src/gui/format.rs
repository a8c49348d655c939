//! Words and numbers for the screen: the status line, relative times, temperatures and wind in
//! the user's units. Pure functions with the clock passed in, so every case is unit-tested.

use std::time::Duration;

use chrono::{DateTime, Local, NaiveDate, Utc};

use super::settings::{TemperatureUnit, Units, WindUnit};
use crate::client::connection::ConnectionState;

/// How the status line should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// All is well.
    Good,
    /// Working on it.
    Neutral,
    /// Something is off but content is shown.
    Caution,
    /// Needs the user.
    Bad,
}

/// The connection as the status line tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    /// The words.
    pub text: String,
    /// The colour.
    pub tone: Tone,
}

/// The status line: always the truth about the connection, and when content last changed.
/// With several servers (a cluster's nodes) it also names the one it is on or trying.
///
/// `retry_left` is what remains of a retry wait; `cached_at` is when the shown content was
/// cached (for the offline case); `last_change` when content last changed.
#[must_use]
pub fn status_line(
    state: &ConnectionState,
    retry_left: Duration,
    cached_at: Option<DateTime<Local>>,
    last_change: Option<DateTime<Local>>,
) -> StatusLine {
    let updated = last_change.map(|at| format!("updated {}", at.format("%H:%M")));
    let seconds = retry_left.as_secs() + u64::from(retry_left.subsec_millis() > 0);
    let join =
        |parts: Vec<Option<String>>| parts.into_iter().flatten().collect::<Vec<_>>().join(" · ");
    // One server needs no name (the user chose it); with several, say which.
    let host = state
        .server()
        .filter(|server| server.count > 1)
        .map(|server| server.host.clone());
    match state {
        ConnectionState::Live { .. } => StatusLine {
            text: join(vec![Some("Live".to_owned()), host, updated]),
            tone: Tone::Good,
        },
        ConnectionState::Connecting { attempt, .. } => {
            let to = host.map(|host| format!(" to {host}")).unwrap_or_default();
            let attempt = if *attempt > 1 {
                format!(" (attempt {attempt})")
            } else {
                String::new()
            };
            StatusLine {
                text: join(vec![Some(format!("Connecting{to}{attempt}…")), updated]),
                tone: Tone::Neutral,
            }
        }
        // Several servers, one failed: on to the next at once, nothing to wait for.
        ConnectionState::Retrying { delay, reason, .. }
        | ConnectionState::Offline { delay, reason, .. }
            if delay.is_zero() && host.is_some() =>
        {
            StatusLine {
                text: join(vec![
                    Some("Trying the next server".to_owned()),
                    host.map(|host| format!("{host}: {reason}")),
                    updated,
                ]),
                tone: Tone::Neutral,
            }
        }
        ConnectionState::Retrying { reason, .. } => StatusLine {
            text: join(vec![
                Some(format!("Retrying in {seconds} s")),
                host,
                Some(reason.clone()),
                updated,
            ]),
            tone: Tone::Caution,
        },
        ConnectionState::Offline { reason, .. } => {
            let cached = cached_at
                .or(last_change)
                .map(|at| format!("showing cached content from {}", at.format("%H:%M")));
            StatusLine {
                text: join(vec![
                    Some("Offline".to_owned()),
                    cached,
                    Some(format!("retrying in {seconds} s")),
                    Some(reason.clone()),
                ]),
                tone: Tone::Caution,
            }
        }
        ConnectionState::Unauthorized { status, reason, .. } => StatusLine {
            text: join(vec![
                Some(format!("Unauthorized ({status})")),
                host,
                (!reason.is_empty()).then(|| reason.clone()),
                Some("check the server and token in Settings".to_owned()),
            ]),
            tone: Tone::Bad,
        },
        ConnectionState::Closed { reason } => StatusLine {
            text: join(vec![Some(format!("Disconnected: {reason}")), updated]),
            tone: Tone::Bad,
        },
    }
}

/// The status line's tooltip: which server the connection is about (the built-in one, or a
/// shared one by host, with its place when there are several).
#[must_use]
pub fn connection_tooltip(state: &ConnectionState, embedded: bool) -> String {
    match state.server() {
        _ if embedded => "Connection to the built-in server".to_owned(),
        Some(server) if server.count > 1 => format!(
            "Connection to the Tidings server {} (server {} of {})",
            server.host,
            server.index + 1,
            server.count
        ),
        Some(server) if !server.host.is_empty() => {
            format!("Connection to the Tidings server {}", server.host)
        }
        _ => "Connection to the Tidings server".to_owned(),
    }
}

/// "just now", "5 min ago", "3 h ago", "yesterday", "Mon 24 Nov".
#[must_use]
pub fn relative_time(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let age = now.signed_duration_since(at);
    let minutes = age.num_minutes();
    if minutes < 1 {
        return "just now".to_owned();
    }
    if minutes < 60 {
        return format!("{minutes} min ago");
    }
    let hours = age.num_hours();
    if hours < 24 {
        return format!("{hours} h ago");
    }
    let local_day = |t: DateTime<Utc>| t.with_timezone(&Local).date_naive();
    if local_day(now).pred_opt() == Some(local_day(at)) {
        return "yesterday".to_owned();
    }
    at.with_timezone(&Local).format("%a %-d %b").to_string()
}

/// An item's source and age: "BBC News · 5 min ago".
#[must_use]
pub fn item_meta(source: Option<&str>, published: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let age = relative_time(published, now);
    match source {
        Some(source) if !source.is_empty() => format!("{source} · {age}"),
        _ => age,
    }
}

/// A temperature in the user's unit, rounded: `7°`.
#[must_use]
pub fn temperature(celsius: f64, units: Units) -> String {
    let value = match units.temperature {
        TemperatureUnit::Celsius => celsius,
        TemperatureUnit::Fahrenheit => celsius * 9.0 / 5.0 + 32.0,
    };
    let rounded = value.round();
    // Never "-0°".
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    format!("{rounded:.0}°")
}

/// The temperature unit's symbol.
#[must_use]
pub fn temperature_unit(units: Units) -> &'static str {
    match units.temperature {
        TemperatureUnit::Celsius => "°C",
        TemperatureUnit::Fahrenheit => "°F",
    }
}

/// A wind speed in the user's unit with the compass point it comes from: `18 km/h SW`.
#[must_use]
pub fn wind(kmh: f64, from_degrees: Option<f64>, units: Units) -> String {
    let (value, unit) = match units.wind {
        WindUnit::Kmh => (kmh, "km/h"),
        WindUnit::Mph => (kmh / 1.609_344, "mph"),
    };
    match from_degrees {
        Some(degrees) => format!("{value:.0} {unit} {}", compass(degrees)),
        None => format!("{value:.0} {unit}"),
    }
}

/// The 8-point compass direction of a bearing.
#[must_use]
pub fn compass(degrees: f64) -> &'static str {
    const POINTS: [&str; 8] = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
    let index = ((degrees.rem_euclid(360.0) + 22.5) / 45.0) as usize % 8;
    POINTS.get(index).copied().unwrap_or("N")
}

/// A whole number with thousands separated: `131,400`.
#[must_use]
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// "Today", "Tomorrow", or the weekday ("Sat").
#[must_use]
pub fn day_name(date: NaiveDate, today: NaiveDate) -> String {
    if date == today {
        "Today".to_owned()
    } else if today.succ_opt() == Some(date) {
        "Tomorrow".to_owned()
    } else {
        date.format("%a").to_string()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::client::connection::Endpoint;

    fn local(h: u32, m: u32) -> DateTime<Local> {
        Local.with_ymd_and_hms(2026, 11, 27, h, m, 0).unwrap()
    }

    fn server(index: usize, count: usize, host: &str) -> Endpoint {
        Endpoint {
            index,
            count,
            host: host.to_owned(),
        }
    }

    fn only() -> Endpoint {
        Endpoint::only("news.lan:8080")
    }

    #[test]
    fn the_status_line_tells_each_state() {
        let live = status_line(
            &ConnectionState::Live { server: only() },
            Duration::ZERO,
            None,
            Some(local(9, 5)),
        );
        assert_eq!(live.text, "Live · updated 09:05");
        assert_eq!(live.tone, Tone::Good);

        let retrying = status_line(
            &ConnectionState::Retrying {
                delay: Duration::from_secs(8),
                reason: "server answered 503".to_owned(),
                server: only(),
            },
            Duration::from_millis(4_200),
            None,
            Some(local(9, 5)),
        );
        assert_eq!(
            retrying.text,
            "Retrying in 5 s · server answered 503 · updated 09:05"
        );
        assert_eq!(retrying.tone, Tone::Caution);

        let offline = status_line(
            &ConnectionState::Offline {
                delay: Duration::from_secs(30),
                reason: "cannot reach 127.0.0.1:9".to_owned(),
                server: only(),
            },
            Duration::from_secs(12),
            Some(local(8, 40)),
            None,
        );
        assert_eq!(
            offline.text,
            "Offline · showing cached content from 08:40 · retrying in 12 s · cannot reach 127.0.0.1:9"
        );

        let unauthorized = status_line(
            &ConnectionState::Unauthorized {
                status: 401,
                reason: String::new(),
                server: only(),
            },
            Duration::ZERO,
            None,
            None,
        );
        assert_eq!(
            unauthorized.text,
            "Unauthorized (401) · check the server and token in Settings"
        );
        assert_eq!(unauthorized.tone, Tone::Bad);

        let connecting = status_line(
            &ConnectionState::Connecting {
                attempt: 3,
                server: only(),
            },
            Duration::ZERO,
            None,
            None,
        );
        assert_eq!(connecting.text, "Connecting (attempt 3)…");
    }

    #[test]
    fn with_several_servers_the_status_line_names_the_one_in_use() {
        let news2 = || server(1, 3, "news2.office.lan");
        let live = status_line(
            &ConnectionState::Live { server: news2() },
            Duration::ZERO,
            None,
            Some(local(9, 5)),
        );
        assert_eq!(live.text, "Live · news2.office.lan · updated 09:05");
        let connecting = status_line(
            &ConnectionState::Connecting {
                attempt: 2,
                server: news2(),
            },
            Duration::ZERO,
            None,
            None,
        );
        assert_eq!(
            connecting.text,
            "Connecting to news2.office.lan (attempt 2)…"
        );
        // A failure of one node moves on at once: no countdown, no alarm.
        let moving_on = status_line(
            &ConnectionState::Offline {
                delay: Duration::ZERO,
                reason: "cannot reach news2.office.lan: Connection refused".to_owned(),
                server: news2(),
            },
            Duration::ZERO,
            None,
            None,
        );
        assert_eq!(
            moving_on.text,
            "Trying the next server · news2.office.lan: cannot reach news2.office.lan: Connection refused"
        );
        assert_eq!(moving_on.tone, Tone::Neutral);
        let round = status_line(
            &ConnectionState::Retrying {
                delay: Duration::from_secs(4),
                reason: "all 3 servers failed; news2.office.lan: 502 Bad Gateway".to_owned(),
                server: news2(),
            },
            Duration::from_secs(4),
            None,
            None,
        );
        assert_eq!(
            round.text,
            "Retrying in 4 s · news2.office.lan · all 3 servers failed; news2.office.lan: 502 Bad Gateway"
        );
        assert_eq!(round.tone, Tone::Caution);
    }

    #[test]
    fn the_tooltip_names_the_server() {
        let live = |server| ConnectionState::Live { server };
        assert_eq!(
            connection_tooltip(&live(server(1, 3, "news2.office.lan")), false),
            "Connection to the Tidings server news2.office.lan (server 2 of 3)"
        );
        assert_eq!(
            connection_tooltip(&live(only()), false),
            "Connection to the Tidings server news.lan:8080"
        );
        assert_eq!(
            connection_tooltip(&live(Endpoint::only("127.0.0.1:39111")), true),
            "Connection to the built-in server"
        );
    }

    #[test]
    fn relative_times_read_naturally() {
        let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        let ago = |minutes: i64| relative_time(now - chrono::Duration::minutes(minutes), now);
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(5), "5 min ago");
        assert_eq!(ago(59), "59 min ago");
        assert_eq!(ago(180), "3 h ago");
        assert!(!ago(60 * 24 * 5).contains("ago"));
        // A time in the future (clock skew) is "just now", not negative.
        assert_eq!(ago(-3), "just now");
    }

    #[test]
    fn units_convert_and_round() {
        let metric = Units::default();
        let imperial = Units {
            temperature: TemperatureUnit::Fahrenheit,
            wind: WindUnit::Mph,
        };
        assert_eq!(temperature(7.6, metric), "8°");
        assert_eq!(temperature(-0.3, metric), "0°");
        assert_eq!(temperature(20.0, imperial), "68°");
        assert_eq!(temperature(-40.0, imperial), "-40°");
        assert_eq!(wind(18.2, Some(230.0), metric), "18 km/h SW");
        assert_eq!(wind(16.09344, None, imperial), "10 mph");
        assert_eq!(compass(359.0), "N");
        assert_eq!(compass(90.0), "E");
    }

    #[test]
    fn big_numbers_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(131_400), "131,400");
        assert_eq!(thousands(8_336_817), "8,336,817");
    }

    #[test]
    fn forecast_days_are_named() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(day_name(today, today), "Today");
        assert_eq!(day_name(today.succ_opt().unwrap(), today), "Tomorrow");
        assert_eq!(
            day_name(NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(), today),
            "Sun"
        );
    }
}
