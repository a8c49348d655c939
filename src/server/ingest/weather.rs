//! Weather from the Open-Meteo forecast API: current conditions, the next 48 hours and a 5-day
//! forecast per location cell, in metric units, one upstream request per cell however many
//! clients share it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use tokio::time::Instant;

use super::cells::{CellError, CellOutcome, PollCell, cell_coordinates};
use super::fetch::{Fetched, Fetcher, Validators};
use crate::protocol::{
    ChannelId, Condition, CurrentWeather, DailyForecast, Event, HourlyForecast, ItemKey,
    WeatherReport, WeatherUnits,
};
use crate::server::log::{EventKind, EventLog, NewEvent, StateChange};

/// Days of forecast asked for, today included.
pub const FORECAST_DAYS: usize = 5;
/// Hours of hourly forecast sent, the current hour first.
pub const FORECAST_HOURS: usize = 48;

/// The English label and icon name of a WMO weather interpretation code (as Open-Meteo
/// reports it). Night variants (`clear-night`, …) are chosen with `is_day`.
#[must_use]
pub fn condition(code: u8, is_day: bool) -> Condition {
    let (label, icon) = match code {
        0 => ("Clear sky", "clear"),
        1 => ("Mainly clear", "mostly-clear"),
        2 => ("Partly cloudy", "partly-cloudy"),
        3 => ("Overcast", "overcast"),
        45 => ("Fog", "fog"),
        48 => ("Freezing fog", "fog"),
        51 => ("Light drizzle", "drizzle"),
        53 => ("Drizzle", "drizzle"),
        55 => ("Heavy drizzle", "drizzle"),
        56 => ("Light freezing drizzle", "freezing-rain"),
        57 => ("Freezing drizzle", "freezing-rain"),
        61 => ("Light rain", "rain"),
        63 => ("Rain", "rain"),
        65 => ("Heavy rain", "heavy-rain"),
        66 => ("Light freezing rain", "freezing-rain"),
        67 => ("Freezing rain", "freezing-rain"),
        71 => ("Light snow", "snow"),
        73 => ("Snow", "snow"),
        75 => ("Heavy snow", "heavy-snow"),
        77 => ("Snow grains", "snow"),
        80 => ("Light showers", "showers"),
        81 => ("Showers", "showers"),
        82 => ("Violent showers", "heavy-rain"),
        85 => ("Light snow showers", "snow-showers"),
        86 => ("Snow showers", "snow-showers"),
        95 => ("Thunderstorm", "thunderstorm"),
        96 => ("Thunderstorm with hail", "thunderstorm-hail"),
        99 => ("Thunderstorm with heavy hail", "thunderstorm-hail"),
        _ => ("Unknown", "unknown"),
    };
    let icon = match icon {
        "clear" | "mostly-clear" | "partly-cloudy" if !is_day => format!("{icon}-night"),
        _ => icon.to_owned(),
    };
    Condition {
        code,
        label: label.to_owned(),
        icon,
    }
}

/// The forecast request for a cell.
#[must_use]
pub fn forecast_url(base: &str, latitude: f64, longitude: f64) -> String {
    format!(
        "{base}/v1/forecast?latitude={latitude}&longitude={longitude}\
         &current=temperature_2m,apparent_temperature,relative_humidity_2m,weather_code,\
         wind_speed_10m,wind_direction_10m,is_day\
         &hourly=temperature_2m,precipitation_probability,weather_code,is_day\
         &daily=weather_code,temperature_2m_max,temperature_2m_min,precipitation_probability_max\
         &timezone=auto&forecast_days={FORECAST_DAYS}&forecast_hours={FORECAST_HOURS}\
         &temperature_unit=celsius&wind_speed_unit=kmh&precipitation_unit=mm"
    )
}

#[derive(Debug, Deserialize)]
struct Forecast {
    #[serde(default)]
    utc_offset_seconds: Option<i64>,
    current: Current,
    hourly: Option<Hourly>,
    daily: Option<Daily>,
}

#[derive(Debug, Deserialize)]
struct Current {
    time: String,
    temperature_2m: f64,
    apparent_temperature: Option<f64>,
    relative_humidity_2m: Option<f64>,
    weather_code: Option<f64>,
    wind_speed_10m: Option<f64>,
    wind_direction_10m: Option<f64>,
    is_day: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Daily {
    time: Vec<NaiveDate>,
    #[serde(default)]
    weather_code: Vec<Option<f64>>,
    #[serde(default)]
    temperature_2m_max: Vec<Option<f64>>,
    #[serde(default)]
    temperature_2m_min: Vec<Option<f64>>,
    #[serde(default)]
    precipitation_probability_max: Vec<Option<f64>>,
}

#[derive(Debug, Deserialize)]
struct Hourly {
    /// Local wall-clock times, `2026-11-27T09:00`.
    time: Vec<String>,
    #[serde(default)]
    temperature_2m: Vec<Option<f64>>,
    #[serde(default)]
    precipitation_probability: Vec<Option<f64>>,
    #[serde(default)]
    weather_code: Vec<Option<f64>>,
    #[serde(default)]
    is_day: Vec<Option<f64>>,
}

fn wmo_code(value: Option<f64>) -> u8 {
    value.map_or(u8::MAX, |c| c.clamp(0.0, 255.0) as u8)
}

/// The next [`FORECAST_HOURS`] hours from the current hour, `current` being the cell's local
/// time now and `utc_offset` its offset from UTC.
///
/// `forecast_hours` should make the upstream start at the current hour, but an upstream that
/// ignores it (an older self-hosted Open-Meteo) sends whole days from midnight, so the list is
/// sliced here either way. The hours are consecutive in real time, so each one's instant is
/// counted from the current hour's rather than converted from its wall-clock label: that stays
/// right across a daylight-saving change, where the labels jump or repeat.
fn next_hours(
    hourly: &Hourly,
    current: NaiveDateTime,
    utc_offset: chrono::Duration,
) -> Vec<HourlyForecast> {
    use chrono::Timelike as _;
    let Some(this_hour) = current.with_minute(0).and_then(|t| t.with_second(0)) else {
        return Vec::new();
    };
    let local: Vec<Option<NaiveDateTime>> = hourly
        .time
        .iter()
        .map(|t| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M").ok())
        .collect();
    let Some(anchor) = local
        .iter()
        .position(|t| *t == Some(this_hour))
        .or_else(|| local.iter().position(|t| t.is_some_and(|t| t > this_hour)))
    else {
        return Vec::new();
    };
    let Some(Some(anchor_local)) = local.get(anchor) else {
        return Vec::new();
    };
    let anchor_utc = anchor_local.and_utc() - utc_offset;
    (anchor..hourly.time.len())
        .take(FORECAST_HOURS)
        .filter_map(|i| {
            // An hour without a temperature is left out rather than invented.
            let temperature = hourly.temperature_2m.get(i).copied().flatten()?;
            let is_day = hourly
                .is_day
                .get(i)
                .copied()
                .flatten()
                .is_none_or(|flag| flag >= 0.5);
            let hours = i64::try_from(i - anchor).ok()?;
            Some(HourlyForecast {
                time: anchor_utc + chrono::Duration::hours(hours),
                temperature,
                precipitation_chance_percent: hourly
                    .precipitation_probability
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|p| p.clamp(0.0, 100.0)),
                condition: condition(
                    wmo_code(hourly.weather_code.get(i).copied().flatten()),
                    is_day,
                ),
                is_day,
            })
        })
        .collect()
}

/// Turns an Open-Meteo forecast response into a report for `cell`.
pub fn parse_forecast(
    body: &[u8],
    channel: &ChannelId,
    cell: &ItemKey,
) -> Result<WeatherReport, String> {
    let forecast: Forecast =
        serde_json::from_slice(body).map_err(|e| format!("not an Open-Meteo forecast: {e}"))?;
    let current = forecast.current;
    let current_local = NaiveDateTime::parse_from_str(&current.time, "%Y-%m-%dT%H:%M")
        .map_err(|e| format!("bad current time {:?}: {e}", current.time))?;
    // Real offsets lie within ±18 h; anything else is not an offset worth passing on.
    let utc_offset_seconds = forecast
        .utc_offset_seconds
        .and_then(|s| i32::try_from(s).ok())
        .filter(|s| s.unsigned_abs() <= 18 * 3600);
    let utc_offset = chrono::Duration::seconds(i64::from(utc_offset_seconds.unwrap_or(0)));
    let observed = current_local.and_utc() - utc_offset;
    let is_day = current.is_day.is_none_or(|flag| flag >= 0.5);
    let code = wmo_code;
    let hourly = forecast.hourly.as_ref().map_or_else(Vec::new, |hourly| {
        next_hours(hourly, current_local, utc_offset)
    });
    let daily = forecast.daily.map_or_else(Vec::new, |daily| {
        daily
            .time
            .iter()
            .enumerate()
            .filter_map(|(i, date)| {
                let high = daily.temperature_2m_max.get(i).copied().flatten()?;
                let low = daily.temperature_2m_min.get(i).copied().flatten()?;
                Some(DailyForecast {
                    date: *date,
                    high,
                    low,
                    condition: condition(code(daily.weather_code.get(i).copied().flatten()), true),
                    precipitation_chance_percent: daily
                        .precipitation_probability_max
                        .get(i)
                        .copied()
                        .flatten(),
                })
            })
            .take(FORECAST_DAYS)
            .collect()
    });
    Ok(WeatherReport {
        channel: channel.clone(),
        cell: cell.as_str().to_owned(),
        place: None,
        observed,
        units: WeatherUnits::default(),
        current: CurrentWeather {
            temperature: current.temperature_2m,
            apparent_temperature: current
                .apparent_temperature
                .unwrap_or(current.temperature_2m),
            condition: condition(code(current.weather_code), is_day),
            wind_speed: current.wind_speed_10m.unwrap_or(0.0),
            wind_direction_deg: current.wind_direction_10m,
            humidity_percent: current.relative_humidity_2m.unwrap_or(0.0),
            is_day,
        },
        daily,
        hourly,
        utc_offset_seconds,
    })
}

/// Fetches weather for one cell and appends a `weather` event when it changed.
#[derive(Clone)]
pub struct WeatherPoll {
    /// Shared HTTP client.
    pub fetcher: Fetcher,
    /// Forecast API base URL.
    pub base_url: String,
    /// The weather channel.
    pub channel: ChannelId,
    /// Where reports go.
    pub log: Arc<dyn EventLog>,
    /// Time between refreshes.
    pub refresh: Duration,
}

impl WeatherPoll {
    async fn poll_cell(&self, cell: &ItemKey) -> Result<CellOutcome, CellError> {
        let stored = self
            .log
            .entry(&self.channel, EventKind::Weather, cell)
            .await
            .map_err(|e| e.to_string())?;
        // After a restart, a report younger than the refresh interval is still good.
        if let Some(stored) = &stored {
            let age = Duration::from_millis(
                u64::try_from(Utc::now().timestamp_millis())
                    .unwrap_or(0)
                    .saturating_sub(stored.id.millis),
            );
            if age < self.refresh {
                return Ok(CellOutcome::FreshUntil(
                    Instant::now() + (self.refresh - age),
                ));
            }
        }
        let Some((latitude, longitude)) = cell_coordinates(cell) else {
            return Err(format!("{cell} is not a location").into());
        };
        let url = forecast_url(&self.base_url, latitude, longitude);
        let body = match self.fetcher.fetch(&url, &Validators::default()).await {
            Ok(Fetched::Modified { body, .. }) => body,
            Ok(Fetched::NotModified { .. }) => return Ok(CellOutcome::Fresh),
            Err(error) => {
                return Err(CellError::fetch(&format!("weather for {cell}"), &error));
            }
        };
        let report = parse_forecast(&body, &self.channel, cell)
            .map_err(|e| format!("weather for {cell}: {e}"))?;
        let data = Event::Weather(report).to_json();
        if stored.is_some_and(|stored| *stored.data == *data) {
            return Ok(CellOutcome::Fresh);
        }
        self.log
            .append(vec![NewEvent {
                channel: self.channel.clone(),
                kind: EventKind::Weather,
                data,
                change: StateChange::Upsert {
                    key: cell.clone(),
                    expires_millis: None,
                },
            }])
            .await
            .map_err(|e| e.to_string())?;
        Ok(CellOutcome::Fresh)
    }
}

impl PollCell for WeatherPoll {
    async fn poll(&self, cell: &ItemKey) -> CellOutcome {
        self.poll_cell(cell)
            .await
            .unwrap_or_else(CellOutcome::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
        "latitude": 52.52, "longitude": 13.419998, "utc_offset_seconds": 3600,
        "timezone": "Europe/Berlin",
        "current_units": {"temperature_2m": "°C"},
        "current": {"time": "2026-11-27T09:15", "interval": 900, "temperature_2m": 3.4,
            "apparent_temperature": -0.2, "relative_humidity_2m": 87, "weather_code": 61,
            "wind_speed_10m": 14.8, "wind_direction_10m": 245, "is_day": 1},
        "daily": {"time": ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01"],
            "weather_code": [61, 3, 2, 71, null],
            "temperature_2m_max": [5.1, 4.0, 3.2, 1.0, 2.0],
            "temperature_2m_min": [1.2, 0.4, -1.5, -3.0, null],
            "precipitation_probability_max": [80, 20, 5, 60, null]}
    }"#;

    #[test]
    fn open_meteo_forecasts_become_reports() {
        let channel = ChannelId::new("weather").unwrap();
        let cell = ItemKey::new("52.5,13.4").unwrap();
        let report = parse_forecast(SAMPLE.as_bytes(), &channel, &cell).unwrap();
        assert_eq!(report.cell, "52.5,13.4");
        assert_eq!(report.observed.to_rfc3339(), "2026-11-27T08:15:00+00:00");
        assert_eq!(report.current.temperature, 3.4);
        assert_eq!(report.current.apparent_temperature, -0.2);
        assert_eq!(report.current.condition.label, "Light rain");
        assert_eq!(report.current.condition.icon, "rain");
        assert_eq!(report.current.humidity_percent, 87.0);
        assert_eq!(report.current.wind_direction_deg, Some(245.0));
        assert_eq!(report.units, WeatherUnits::default());
        // The last day lacks a low, so it is left out rather than invented.
        assert_eq!(report.daily.len(), 4);
        assert_eq!(report.daily[3].condition.label, "Light snow");
        assert_eq!(report.daily[2].precipitation_chance_percent, Some(5.0));
    }

    /// An Open-Meteo `hourly` block of `hours` hours from `start` (local), temperatures
    /// counting up from 0.0 by 0.5, so each hour's value names its index.
    fn hourly_json(start: &str, hours: usize) -> String {
        let start = NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M").unwrap();
        let times: Vec<String> = (0..hours)
            .map(|h| {
                (start + chrono::Duration::hours(h as i64))
                    .format("\"%Y-%m-%dT%H:%M\"")
                    .to_string()
            })
            .collect();
        let temps: Vec<String> = (0..hours)
            .map(|h| format!("{:.1}", h as f64 / 2.0))
            .collect();
        let rain: Vec<String> = (0..hours).map(|h| (h % 11 * 10).to_string()).collect();
        let codes: Vec<&str> = (0..hours)
            .map(|h| if h % 2 == 0 { "0" } else { "61" })
            .collect();
        let day: Vec<&str> = (0..hours)
            .map(|h| {
                if (8..17).contains(
                    &((start + chrono::Duration::hours(h as i64))
                        .format("%H")
                        .to_string()
                        .parse::<u32>()
                        .unwrap()),
                ) {
                    "1"
                } else {
                    "0"
                }
            })
            .collect();
        format!(
            r#""hourly": {{"time": [{}], "temperature_2m": [{}], "precipitation_probability": [{}], "weather_code": [{}], "is_day": [{}]}}"#,
            times.join(","),
            temps.join(","),
            rain.join(","),
            codes.join(","),
            day.join(",")
        )
    }

    fn with_hourly(hourly: &str) -> String {
        SAMPLE.replacen("\"daily\":", &format!("{hourly}, \"daily\":"), 1)
    }

    #[test]
    fn the_hourly_forecast_starts_at_the_current_hour_in_utc() {
        let channel = ChannelId::new("weather").unwrap();
        let cell = ItemKey::new("52.5,13.4").unwrap();
        // As asked (forecast_hours=48): from the current local hour, 09:00 in Berlin.
        let body = with_hourly(&hourly_json("2026-11-27T09:00", 48));
        let report = parse_forecast(body.as_bytes(), &channel, &cell).unwrap();
        assert_eq!(report.utc_offset_seconds, Some(3600));
        assert_eq!(report.hourly.len(), FORECAST_HOURS);
        let first = &report.hourly[0];
        assert_eq!(first.time.to_rfc3339(), "2026-11-27T08:00:00+00:00");
        assert_eq!(first.temperature, 0.0);
        assert_eq!(first.precipitation_chance_percent, Some(0.0));
        assert_eq!(first.condition.icon, "clear");
        let last = report.hourly.last().unwrap();
        assert_eq!(last.time.to_rfc3339(), "2026-11-29T07:00:00+00:00");
        assert_eq!(last.temperature, 23.5);
        // Night hours get night icons; rain has none.
        assert_eq!(report.hourly[12].condition.icon, "clear-night");
        assert_eq!(report.hourly[13].condition.icon, "rain");
    }

    #[test]
    fn whole_days_from_an_upstream_that_ignores_forecast_hours_are_sliced() {
        let channel = ChannelId::new("weather").unwrap();
        let cell = ItemKey::new("52.5,13.4").unwrap();
        // Five days from local midnight; the current time is 09:15.
        let body = with_hourly(&hourly_json("2026-11-27T00:00", 120));
        let report = parse_forecast(body.as_bytes(), &channel, &cell).unwrap();
        assert_eq!(report.hourly.len(), FORECAST_HOURS);
        assert_eq!(
            report.hourly[0].time.to_rfc3339(),
            "2026-11-27T08:00:00+00:00"
        );
        // Hour 9 of the list is the first kept: its temperature is 9 / 2.
        assert_eq!(report.hourly[0].temperature, 4.5);
        assert_eq!(report.hourly[47].temperature, (9.0 + 47.0) / 2.0);
    }

    #[test]
    fn hourly_instants_stay_consecutive_across_a_daylight_saving_change() {
        let channel = ChannelId::new("weather").unwrap();
        let cell = ItemKey::new("52.5,13.4").unwrap();
        // Berlin, the night summer time ends: the local labels repeat 02:00.
        let labels: Vec<String> = ["00", "01", "02", "02", "03", "04"]
            .iter()
            .map(|h| format!("\"2026-10-25T{h}:00\""))
            .collect();
        let hourly = format!(
            r#""hourly": {{"time": [{}], "temperature_2m": [1, 2, 3, 4, 5, null]}}"#,
            labels.join(",")
        );
        let body = with_hourly(&hourly)
            .replace("2026-11-27T09:15", "2026-10-25T00:40")
            .replace(
                "\"utc_offset_seconds\": 3600",
                "\"utc_offset_seconds\": 7200",
            );
        let report = parse_forecast(body.as_bytes(), &channel, &cell).unwrap();
        let times: Vec<String> = report
            .hourly
            .iter()
            .map(|h| h.time.format("%H:%M").to_string())
            .collect();
        // Every hour one real hour after the last; the hour without a temperature is left out.
        assert_eq!(times, ["22:00", "23:00", "00:00", "01:00", "02:00"]);
        assert_eq!(report.hourly[0].precipitation_chance_percent, None);
    }

    #[test]
    fn a_forecast_without_hours_has_an_empty_hourly_list() {
        let channel = ChannelId::new("weather").unwrap();
        let cell = ItemKey::new("52.5,13.4").unwrap();
        let report = parse_forecast(SAMPLE.as_bytes(), &channel, &cell).unwrap();
        assert!(report.hourly.is_empty());
        // Nor is it written: older clients see the report they always did.
        let json = Event::Weather(report).to_json();
        assert!(!json.contains("hourly"), "{json}");
        // Hours that ended before the current one are no forecast.
        let stale = with_hourly(&hourly_json("2026-11-25T00:00", 24));
        let report = parse_forecast(stale.as_bytes(), &channel, &cell).unwrap();
        assert!(report.hourly.is_empty());
    }

    #[test]
    fn bad_responses_are_clear_errors() {
        let channel = ChannelId::new("weather").unwrap();
        let cell = ItemKey::new("52.5,13.4").unwrap();
        for body in [
            "",
            "<html>",
            r#"{"error": true, "reason": "Latitude must be in range"}"#,
            r#"{"current": {"time": "yesterday", "temperature_2m": 1}}"#,
        ] {
            let error = parse_forecast(body.as_bytes(), &channel, &cell).unwrap_err();
            assert!(!error.is_empty(), "{body}");
        }
    }

    #[test]
    fn every_wmo_code_has_a_label_and_night_icons_differ() {
        for code in [
            0, 1, 2, 3, 45, 48, 51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 71, 73, 75, 77, 80, 81, 82,
            85, 86, 95, 96, 99,
        ] {
            assert_ne!(condition(code, true).label, "Unknown", "{code}");
        }
        assert_eq!(condition(0, false).icon, "clear-night");
        assert_eq!(condition(61, false).icon, "rain");
        assert_eq!(condition(42, true).icon, "unknown");
    }

    #[test]
    fn the_request_names_metric_units_five_days_and_48_hours() {
        let url = forecast_url("http://127.0.0.1:9", 52.5, 13.4);
        assert!(url.starts_with("http://127.0.0.1:9/v1/forecast?latitude=52.5&longitude=13.4&"));
        assert!(url.contains("forecast_days=5"));
        assert!(url.contains("forecast_hours=48"));
        assert!(
            url.contains("hourly=temperature_2m,precipitation_probability,weather_code,is_day")
        );
        assert!(url.contains("wind_speed_unit=kmh"));
    }
}
