//! drand's HTTP API, as a [`RoundSource`] for the log's beacon watcher: `GET <url>/<chain
//! hash>/public/<round>`. It checks only that the answer is the round asked for; the watcher
//! verifies the signature before opening anything.

use super::transport::http_client;
use crate::api::RoundSignature;
use crate::core::predicate::hex;
use crate::escrow::round_source::{decode_hex, RoundSource};
use crate::escrow::Chain;
use std::time::Duration;

/// One drand HTTP endpoint (e.g. `https://api.drand.sh`).
pub struct DrandEndpoint {
    client: reqwest::Client,
    url: String,
}

impl DrandEndpoint {
    /// The endpoints at `urls`, tried in this order, sharing one HTTP client.
    pub fn all(urls: &[String]) -> Vec<DrandEndpoint> {
        if urls.is_empty() {
            return Vec::new();
        }
        let targets: Vec<&str> = urls.iter().map(String::as_str).collect();
        let client = http_client(Duration::from_secs(20), &targets);
        urls.iter()
            .map(|url| DrandEndpoint {
                client: client.clone(),
                url: url.clone(),
            })
            .collect()
    }
}

impl RoundSource for DrandEndpoint {
    fn name(&self) -> &str {
        &self.url
    }

    async fn fetch(&self, chain: &Chain, round: u64) -> Result<Vec<u8>, String> {
        fetch_round(&self.client, &self.url, chain, round).await
    }
}

/// `GET <url>/<chain hash>/public/<round>`, drand's HTTP API.
async fn fetch_round(
    client: &reqwest::Client,
    url: &str,
    chain: &Chain,
    round: u64,
) -> Result<Vec<u8>, String> {
    let u = format!(
        "{}/{}/public/{round}",
        url.trim_end_matches('/'),
        hex(&chain.chain_hash)
    );
    let resp = client.get(&u).send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("{u} answered {}", resp.status()));
    }
    let r: RoundSignature = resp.json().await.map_err(|e| e.to_string())?;
    if r.round != round {
        return Err(format!("{u} answered round {} instead", r.round));
    }
    decode_hex(&r.signature).ok_or_else(|| format!("{u} answered a signature that is not hex"))
}
