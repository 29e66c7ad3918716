//! Keys from the identity provider's JWKS endpoint (`auth.jwks_url`): RS256 and ES256 keys
//! picked by `kid`. An outage of the identity provider stalls no request:
//!
//! - **A known `kid` is answered from memory**, however old the set: requests never wait
//!   for a fetch of a key they already have.
//! - **Refreshes run in the background, one at a time**: a task refetches the set every
//!   `auth.jwks_cache_secs`, and, after a failure, every `auth.jwks_min_refresh_secs`.
//!   Success or failure, no two fetches start closer than `auth.jwks_min_refresh_secs`.
//! - **An unknown `kid` waits for at most one fetch** (a key rotation at the identity
//!   provider), and only when the interval allows one; otherwise it is refused at once. Each
//!   unknown `kid` is remembered for the interval, so a flood of made-up `kid`s costs one
//!   fetch per interval and no waiting.
//! - **A failed, empty or much smaller answer does not replace the keys.** A set that drops
//!   more than half of the known keys is applied only when the next fetch returns the same
//!   set; until then its new keys are added and the others kept.
//! - The client follows no redirect, and a body over [`MAX_JWKS_BYTES`] is refused.
//! - Readiness fails when the last successful fetch is older than `auth.jwks_max_stale_secs`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use mfa_totp_application::ReadinessCheck;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::TokenError;

/// The largest JWKS document read: real sets are a few kilobytes.
pub const MAX_JWKS_BYTES: usize = 1 << 20;
/// The most unknown `kid`s remembered at once; past it the memory starts afresh.
const MAX_REMEMBERED_UNKNOWN: usize = 4096;
/// The shortest pause of the background task, whatever the settings.
const MIN_PAUSE: Duration = Duration::from_secs(1);

/// One usable key of the set.
pub struct JwksKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

/// How the set is fetched and kept.
#[derive(Debug, Clone)]
pub struct JwksOptions {
    pub url: String,
    /// `auth.jwks_cache_secs`: how often the set is refetched in the background.
    pub cache_for: Duration,
    /// `auth.jwks_min_refresh_secs`: the shortest time between two fetches.
    pub min_refresh: Duration,
    /// `auth.jwks_max_stale_secs`: readiness fails when the keys are older.
    pub max_stale: Duration,
    pub timeout: Duration,
}

type Keys = HashMap<String, Arc<JwksKey>>;

struct State {
    keys: Keys,
    /// The last fetch that gave keys.
    fetched_at: Instant,
    /// The last fetch, whatever came of it.
    attempted_at: Instant,
    /// Why the last fetch failed, while it is the last one.
    failure: Option<String>,
    /// `kid`s found unknown, and when.
    unknown: HashMap<String, Instant>,
    /// The `kid`s of a much smaller set, waiting for a second fetch to confirm it.
    shrink: Option<BTreeSet<String>>,
}

struct Inner {
    options: JwksOptions,
    http: reqwest::Client,
    state: RwLock<State>,
    /// One fetch at a time.
    fetching: Mutex<()>,
}

/// The identity provider's keys; cheap to clone (one set, one background task).
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

impl Jwks {
    /// Fetches the set once and starts the background refresh: start-up fails when the
    /// identity provider cannot be reached or offers no usable key.
    pub async fn fetch(options: JwksOptions) -> anyhow::Result<Self> {
        let shown = mfa_totp_http::redacted(&options.url);
        let http = mfa_totp_http::client(mfa_totp_http::Target::new(
            "auth.jwks_url",
            &options.url,
            options.timeout,
        ))?;
        let keys = fetch_keys(&http, &options.url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot fetch auth.jwks_url {shown}: {e}"))?;
        if keys.is_empty() {
            anyhow::bail!("auth.jwks_url {shown} offers no RS256 or ES256 signing key with a kid");
        }
        tracing::info!(keys = keys.len(), url = %shown, "JWKS fetched");
        count_fetch(true);
        let now = Instant::now();
        let inner = Arc::new(Inner {
            options,
            http,
            state: RwLock::new(State {
                keys,
                fetched_at: now,
                attempted_at: now,
                failure: None,
                unknown: HashMap::new(),
                shrink: None,
            }),
            fetching: Mutex::new(()),
        });
        tokio::spawn(refresh_in_background(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// The key `kid`: from memory when known; an unknown `kid` waits for at most one fetch,
    /// when the interval allows one.
    pub async fn key(&self, kid: &str) -> Result<Arc<JwksKey>, TokenError> {
        let inner = &self.inner;
        match inner.lookup(kid) {
            Lookup::Known(key) => return Ok(key),
            Lookup::Remembered => return Err(inner.unknown(kid)),
            Lookup::Unknown => {}
        }
        let _one_at_a_time = inner.fetching.lock().await;
        if let Lookup::Known(key) = inner.lookup(kid) {
            return Ok(key);
        }
        if inner.may_fetch() {
            inner.refresh().await;
        }
        match inner.lookup(kid) {
            Lookup::Known(key) => Ok(key),
            _ => {
                inner.remember_unknown(kid);
                Err(inner.unknown(kid))
            }
        }
    }

    /// How long ago the keys were last fetched.
    pub fn age(&self) -> Duration {
        self.inner.read().fetched_at.elapsed()
    }
}

enum Lookup {
    Known(Arc<JwksKey>),
    /// Found unknown within the interval: refused without waiting.
    Remembered,
    Unknown,
}

impl Inner {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lookup(&self, kid: &str) -> Lookup {
        let state = self.read();
        if let Some(key) = state.keys.get(kid) {
            return Lookup::Known(key.clone());
        }
        match state.unknown.get(kid) {
            Some(at) if at.elapsed() < self.options.min_refresh => Lookup::Remembered,
            _ => Lookup::Unknown,
        }
    }

    fn may_fetch(&self) -> bool {
        self.read().attempted_at.elapsed() >= self.options.min_refresh
    }

    fn remember_unknown(&self, kid: &str) {
        let mut state = self.write();
        if state.unknown.len() >= MAX_REMEMBERED_UNKNOWN {
            state.unknown.clear();
        }
        state.unknown.insert(kid.to_owned(), Instant::now());
    }

    /// Why `kid` is refused: unknown to a set that answered, or unavailable while the last
    /// fetch failed.
    fn unknown(&self, kid: &str) -> TokenError {
        match &self.read().failure {
            Some(failure) => TokenError::KeysUnavailable(failure.clone()),
            None => TokenError::UnknownKey(TokenError::shown(kid)),
        }
    }

    /// One fetch; the caller holds `fetching`.
    async fn refresh(&self) {
        let fetched = fetch_keys(&self.http, &self.options.url).await;
        count_fetch(matches!(&fetched, Ok(keys) if !keys.is_empty()));
        let mut state = self.write();
        state.attempted_at = Instant::now();
        match fetched {
            Ok(keys) if keys.is_empty() => {
                tracing::warn!(
                    known = state.keys.len(),
                    "the JWKS offers no usable key; the keys already known stay in use"
                );
                state.failure = Some("the JWKS offers no usable key".into());
            }
            Ok(keys) => {
                state.accept(keys);
                state.failure = None;
                state.fetched_at = Instant::now();
                state.unknown.clear();
            }
            Err(error) => {
                tracing::warn!(%error, "JWKS refetch failed; the keys already known stay in use");
                state.failure = Some(error);
            }
        }
    }

    /// How long the background task waits before the next fetch.
    fn pause(&self) -> Duration {
        let state = self.read();
        let due = if state.failure.is_some() {
            self.options
                .min_refresh
                .saturating_sub(state.attempted_at.elapsed())
        } else {
            self.options
                .cache_for
                .saturating_sub(state.fetched_at.elapsed())
        };
        due.max(
            self.options
                .min_refresh
                .saturating_sub(state.attempted_at.elapsed()),
        )
        .max(MIN_PAUSE)
    }
}

impl State {
    /// Takes a fetched set: whole, unless it drops more than half of the known keys and
    /// the fetch before did not return the same set.
    fn accept(&mut self, keys: Keys) {
        let kids: BTreeSet<String> = keys.keys().cloned().collect();
        let kept = self.keys.keys().filter(|kid| kids.contains(*kid)).count();
        let much_smaller = kept * 2 < self.keys.len();
        if !much_smaller || self.shrink.as_ref() == Some(&kids) {
            tracing::info!(keys = keys.len(), "JWKS refetched");
            self.keys = keys;
            self.shrink = None;
            return;
        }
        tracing::warn!(
            known = self.keys.len(),
            offered = keys.len(),
            "the JWKS drops most known keys; they stay in use until the next fetch confirms it"
        );
        self.keys.extend(keys);
        self.shrink = Some(kids);
    }
}

/// Refetches while the set is in use: every `cache_for`, or `min_refresh` after a failure.
async fn refresh_in_background(inner: Weak<Inner>) {
    loop {
        let Some(pause) = inner.upgrade().map(|inner| inner.pause()) else {
            return;
        };
        tokio::time::sleep(pause).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let _one_at_a_time = inner.fetching.lock().await;
        if inner.may_fetch() {
            inner.refresh().await;
        }
    }
}

#[async_trait]
impl ReadinessCheck for Jwks {
    fn name(&self) -> &'static str {
        "identity provider's keys (auth.jwks_url)"
    }

    /// Ready while the last successful fetch is at most `auth.jwks_max_stale_secs` old.
    async fn is_ready(&self) -> bool {
        self.age() <= self.inner.options.max_stale
    }
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

/// Counts a fetch; a successful one sets the time of the last success (for the staleness
/// alert). Both outcomes are registered on the first, so a failure is an increase from 0.
fn count_fetch(success: bool) {
    use crate::telemetry::metric::{JWKS_FETCHES, JWKS_LAST_SUCCESS};
    for outcome in ["success", "failure"] {
        let moved = u64::from((outcome == "success") == success);
        metrics::counter!(JWKS_FETCHES, "outcome" => outcome).increment(moved);
    }
    if success {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        metrics::gauge!(JWKS_LAST_SUCCESS).set(now);
    }
}

/// The usable keys of the set at `url`: signing keys with a `kid`, RSA (RS256) or EC P-256
/// (ES256). Other keys (encryption keys, other algorithms) are skipped, not errors. Any
/// answer but a 2xx (a redirect included) is an error.
async fn fetch_keys(http: &reqwest::Client, url: &str) -> Result<Keys, String> {
    let mut response = mfa_totp_http::send("identity-provider", http.get(url))
        .await
        .map_err(|e| mfa_totp_http::chain(&e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "HTTP {} (redirects are not followed)",
            status.as_u16()
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| mfa_totp_http::chain(&e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    let set: KeySet = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, Arc::new(usable(&jwk)?))))
        .collect())
}

fn usable(jwk: &Jwk) -> Option<JwksKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    Some(JwksKey {
        key: DecodingKey::from_jwk(jwk).ok()?,
        algorithm,
    })
}
