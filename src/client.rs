//! A small HTTP client for the log's API, used by the CLI and the tests. It checks nothing
//! cryptographic itself: callers verify what it fetches with [`crate::proof`] and
//! [`crate::tlog`].

use crate::dsse::Envelope;
use crate::server::{ErrorBody, LogInfo, SubmitResponse};
use crate::tlog::Hash;
use base64::prelude::{Engine, BASE64_STANDARD};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the log at {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("the log refused the request ({status}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the log's answer could not be read: {0}")]
    BadAnswer(String),
}

pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the log at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building the HTTP client");
        Client {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.to_owned(),
                source,
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        let (code, message) = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) => (e.error, e.message),
            Err(_) => (String::new(), body),
        };
        Err(ClientError::Refused {
            status: status.as_u16(),
            code,
            message,
        })
    }

    async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let url = self.url(path);
        let resp = self.send(self.http.get(&url), &url).await?;
        resp.text()
            .await
            .map_err(|e| ClientError::BadAnswer(e.to_string()))
    }

    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path);
        let resp = self.send(self.http.get(&url), &url).await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| ClientError::BadAnswer(e.to_string()))?
            .to_vec())
    }

    /// Posts an envelope to `/v1/entries`.
    pub async fn submit(&self, envelope: &Envelope) -> Result<SubmitResponse, ClientError> {
        let url = self.url("v1/entries");
        let resp = self.send(self.http.post(&url).json(envelope), &url).await?;
        resp.json()
            .await
            .map_err(|e| ClientError::BadAnswer(e.to_string()))
    }

    pub async fn checkpoint(&self) -> Result<String, ClientError> {
        self.get_text("checkpoint").await
    }

    pub async fn info(&self) -> Result<LogInfo, ClientError> {
        let url = self.url("v1/log");
        let resp = self.send(self.http.get(&url), &url).await?;
        resp.json()
            .await
            .map_err(|e| ClientError::BadAnswer(e.to_string()))
    }

    pub async fn entry(&self, index: u64) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("v1/entries/{index}")).await
    }

    /// A tlog-proof for entry `index` (in the latest checkpoint, or the one of `size`).
    pub async fn inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<String, ClientError> {
        let q = match size {
            Some(s) => format!("v1/proof/inclusion?index={index}&size={s}"),
            None => format!("v1/proof/inclusion?index={index}"),
        };
        self.get_text(&q).await
    }

    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ClientError> {
        let text = self
            .get_text(&format!("v1/proof/consistency?old={old}&new={new}"))
            .await?;
        text.lines()
            .map(|l| {
                BASE64_STANDARD
                    .decode(l)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .map(Hash)
                    .ok_or_else(|| ClientError::BadAnswer(format!("bad proof line {l:?}")))
            })
            .collect()
    }
}
