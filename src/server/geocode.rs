//! `GET /v1/geocode?q=NAME`: place search for the weather location picker, proxied to the
//! Open-Meteo geocoding API and cached, so typing a city name in many desktops costs few
//! upstream requests and no client talks to a third party.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::ingest::fetch::{Fetched, Fetcher, Validators};
use crate::protocol::{GeocodeResponse, Place};

/// How long an answer is reused.
const TTL: Duration = Duration::from_secs(24 * 3600);
/// Most answers kept; the oldest go first.
const MAX_ENTRIES: usize = 2_000;
/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// Results returned when the request does not say.
pub const DEFAULT_COUNT: usize = 8;
/// Most results per request.
pub const MAX_COUNT: usize = 20;

type CacheKey = (String, usize, String);
type Cache = HashMap<CacheKey, (Instant, Arc<GeocodeResponse>)>;

/// The geocoding proxy with its cache.
#[derive(Debug, Clone)]
pub struct Geocoder {
    fetcher: Fetcher,
    base_url: String,
    cache: Arc<Mutex<Cache>>,
}

#[derive(Debug, Deserialize)]
struct Upstream {
    #[serde(default)]
    results: Vec<UpstreamPlace>,
}

#[derive(Debug, Deserialize)]
struct UpstreamPlace {
    name: String,
    latitude: f64,
    longitude: f64,
    #[serde(default)]
    admin1: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    population: Option<u64>,
}

impl Geocoder {
    /// A geocoder asking `base_url` (`/v1/search` is appended).
    #[must_use]
    pub fn new(fetcher: Fetcher, base_url: String) -> Self {
        Self {
            fetcher,
            base_url,
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Places named like `query` (already trimmed, 2 to [`MAX_QUERY_CHARS`] characters).
    /// `language` is a two-letter code for the names.
    pub async fn search(
        &self,
        query: &str,
        count: usize,
        language: &str,
    ) -> Result<Arc<GeocodeResponse>, String> {
        let key = (query.to_lowercase(), count, language.to_owned());
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let mut url = reqwest::Url::parse(&format!("{}/v1/search", self.base_url))
            .map_err(|e| format!("bad geocoding URL: {e}"))?;
        url.query_pairs_mut()
            .append_pair("name", query)
            .append_pair("count", &count.to_string())
            .append_pair("language", language)
            .append_pair("format", "json");
        let body = match self
            .fetcher
            .fetch(url.as_str(), &Validators::default())
            .await
        {
            Ok(Fetched::Modified { body, .. }) => body,
            Ok(Fetched::NotModified { .. }) => {
                return Err("the place search answered 304 to a plain request".to_owned());
            }
            Err(error) => return Err(format!("the place search failed: {error}")),
        };
        let upstream: Upstream = serde_json::from_slice(&body)
            .map_err(|e| format!("the place search sent an unreadable answer: {e}"))?;
        let answer = Arc::new(GeocodeResponse {
            results: upstream
                .results
                .into_iter()
                .filter(|p| {
                    (-90.0..=90.0).contains(&p.latitude) && (-180.0..=180.0).contains(&p.longitude)
                })
                .take(count)
                .map(|p| Place {
                    name: p.name,
                    region: p.admin1,
                    country: p.country,
                    country_code: p.country_code,
                    latitude: p.latitude,
                    longitude: p.longitude,
                    timezone: p.timezone,
                    population: p.population,
                })
                .collect(),
        });
        self.store(key, Arc::clone(&answer));
        Ok(answer)
    }

    fn cached(&self, key: &CacheKey) -> Option<Arc<GeocodeResponse>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, answer)| Arc::clone(answer))
    }

    fn store(&self, key: CacheKey, answer: Arc<GeocodeResponse>) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_ENTRIES {
            cache.retain(|_, (at, _)| at.elapsed() < TTL);
            if cache.len() >= MAX_ENTRIES
                && let Some(oldest) = cache
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(key, _)| key.clone())
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(key, (Instant::now(), answer));
    }
}
