//! Keys from the identity provider's JWKS endpoint (`auth.jwks_url`): RS256 and ES256 keys
//! picked by `kid`. The set is cached; an unknown `kid`, or a cache older than
//! `auth.jwks_cache_secs`, refetches it, at most once per `auth.jwks_min_refresh_secs`, so a
//! key rotation at the identity provider just works and a flood of made-up `kid`s costs one
//! fetch per interval. When a refetch fails, the keys already known stay in use.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::error::TokenError;

/// One usable key of the set.
pub struct JwksKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

/// How the set is fetched and kept.
#[derive(Debug, Clone)]
pub struct JwksOptions {
    pub url: String,
    pub cache_for: Duration,
    pub min_refresh: Duration,
    pub timeout: Duration,
}

struct Cached {
    keys: HashMap<String, Arc<JwksKey>>,
    fetched_at: Instant,
}

pub struct Jwks {
    options: JwksOptions,
    http: reqwest::Client,
    cached: RwLock<Cached>,
    /// One refetch at a time; the others wait for its result.
    refetch: Mutex<()>,
}

impl Jwks {
    /// Fetches the set once: start-up fails when the identity provider cannot be reached or
    /// offers no usable key.
    pub async fn fetch(options: JwksOptions) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()?;
        let keys = fetch_keys(&http, &options.url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot fetch auth.jwks_url {}: {e}", options.url))?;
        if keys.is_empty() {
            anyhow::bail!(
                "auth.jwks_url {} offers no RS256 or ES256 signing key with a kid",
                options.url
            );
        }
        tracing::info!(keys = keys.len(), url = %options.url, "JWKS fetched");
        Ok(Self {
            options,
            http,
            cached: RwLock::new(Cached {
                keys,
                fetched_at: Instant::now(),
            }),
            refetch: Mutex::new(()),
        })
    }

    /// The key `kid`, refetching the set when it is unknown or the cache is old.
    pub async fn key(&self, kid: &str) -> Result<Arc<JwksKey>, TokenError> {
        {
            let cached = self.cached.read().await;
            if let Some(key) = cached.keys.get(kid)
                && cached.fetched_at.elapsed() < self.options.cache_for
            {
                return Ok(key.clone());
            }
        }
        let _one_at_a_time = self.refetch.lock().await;
        let fetched_at = self.cached.read().await.fetched_at;
        if fetched_at.elapsed() >= self.options.min_refresh {
            match fetch_keys(&self.http, &self.options.url).await {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "JWKS refetched");
                    *self.cached.write().await = Cached {
                        keys,
                        fetched_at: Instant::now(),
                    };
                }
                Err(error) => {
                    tracing::warn!(%error, "JWKS refetch failed; the keys already known stay in use");
                    let cached = self.cached.read().await;
                    return cached
                        .keys
                        .get(kid)
                        .cloned()
                        .ok_or(TokenError::KeysUnavailable(error));
                }
            }
        }
        self.cached
            .read()
            .await
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| TokenError::UnknownKey(kid.to_owned()))
    }
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

/// The usable keys of the set at `url`: signing keys with a `kid`, RSA (RS256) or EC P-256
/// (ES256). Other keys (encryption keys, other algorithms) are skipped, not errors.
async fn fetch_keys(
    http: &reqwest::Client,
    url: &str,
) -> Result<HashMap<String, Arc<JwksKey>>, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .error_for_status()
        .map_err(|e| e.to_string())?;
    let set: KeySet = response.json().await.map_err(|e| e.to_string())?;
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
