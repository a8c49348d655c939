//! `GET /v1/geocode?q=NAME`: place search for the weather location picker, proxied to the
//! Open-Meteo geocoding API and cached, so typing a city name in many desktops costs few
//! upstream requests and no client talks to a third party. Identical searches that arrive while
//! the first is still upstream wait for its answer instead of asking again (single flight).

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
type Answer = Result<Arc<GeocodeResponse>, String>;
/// One upstream request that identical searches share.
type Flight = Arc<tokio::sync::OnceCell<Answer>>;

/// Answers kept, and searches on their way upstream, behind one lock so that a search either
/// finds the answer, or joins the flight fetching it, or starts that flight: never two.
#[derive(Debug, Default)]
struct Cache {
    answers: HashMap<CacheKey, (Instant, Arc<GeocodeResponse>)>,
    flights: HashMap<CacheKey, Flight>,
}

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
            cache: Arc::new(Mutex::new(Cache::default())),
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
        let flight = {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, answer)) = cache.answers.get(&key).filter(|(at, _)| at.elapsed() < TTL)
            {
                return Ok(Arc::clone(answer));
            }
            Arc::clone(cache.flights.entry(key.clone()).or_default())
        };
        // If the search that started the flight is dropped (its client went away), the next
        // waiter takes over the fetch.
        let answer = flight
            .get_or_init(|| async {
                let answer = self.fetch(query, count, language).await;
                let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
                if let Ok(answer) = &answer {
                    cache.store(key.clone(), Arc::clone(answer));
                }
                // Failures are shared with the waiters but not kept: the next search tries again.
                cache.flights.remove(&key);
                answer
            })
            .await;
        answer.clone()
    }

    /// Asks upstream.
    async fn fetch(&self, query: &str, count: usize, language: &str) -> Answer {
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
        Ok(answer)
    }
}

impl Cache {
    fn store(&mut self, key: CacheKey, answer: Arc<GeocodeResponse>) {
        let answers = &mut self.answers;
        if answers.len() >= MAX_ENTRIES {
            answers.retain(|_, (at, _)| at.elapsed() < TTL);
            if answers.len() >= MAX_ENTRIES
                && let Some(oldest) = answers
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(key, _)| key.clone())
            {
                answers.remove(&oldest);
            }
        }
        answers.insert(key, (Instant::now(), answer));
    }
}
