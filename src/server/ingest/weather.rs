//! Weather from the Open-Meteo forecast API: current conditions and a 5-day forecast per
//! location cell, in metric units, one upstream request per cell however many clients share it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use tokio::time::Instant;

use super::cells::{CellError, CellOutcome, PollCell, cell_coordinates};
use super::fetch::{Fetched, Fetcher, Validators};
use crate::protocol::{
    ChannelId, Condition, CurrentWeather, DailyForecast, Event, ItemKey, WeatherReport,
    WeatherUnits,
};
use crate::server::log::{EventKind, EventLog, NewEvent, StateChange};

/// Days of forecast asked for, today included.
pub const FORECAST_DAYS: usize = 5;

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
         &daily=weather_code,temperature_2m_max,temperature_2m_min,precipitation_probability_max\
         &timezone=auto&forecast_days={FORECAST_DAYS}\
         &temperature_unit=celsius&wind_speed_unit=kmh&precipitation_unit=mm"
    )
}

#[derive(Debug, Deserialize)]
struct Forecast {
    #[serde(default)]
    utc_offset_seconds: i64,
    current: Current,
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

/// Turns an Open-Meteo forecast response into a report for `cell`.
pub fn parse_forecast(
    body: &[u8],
    channel: &ChannelId,
    cell: &ItemKey,
) -> Result<WeatherReport, String> {
    let forecast: Forecast =
        serde_json::from_slice(body).map_err(|e| format!("not an Open-Meteo forecast: {e}"))?;
    let current = forecast.current;
    let observed = NaiveDateTime::parse_from_str(&current.time, "%Y-%m-%dT%H:%M")
        .map_err(|e| format!("bad current time {:?}: {e}", current.time))?
        .and_utc()
        - chrono::Duration::seconds(forecast.utc_offset_seconds);
    let is_day = current.is_day.is_none_or(|flag| flag >= 0.5);
    let code = |value: Option<f64>| value.map_or(u8::MAX, |c| c.clamp(0.0, 255.0) as u8);
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
    fn the_request_names_metric_units_and_five_days() {
        let url = forecast_url("http://127.0.0.1:9", 52.5, 13.4);
        assert!(url.starts_with("http://127.0.0.1:9/v1/forecast?latitude=52.5&longitude=13.4&"));
        assert!(url.contains("forecast_days=5"));
        assert!(url.contains("wind_speed_unit=kmh"));
    }
}
