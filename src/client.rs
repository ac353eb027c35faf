//! A small HTTP client for the log's API, used by the CLI and the tests. It checks nothing
//! cryptographic itself: callers verify what it fetches with [`crate::core::proof`] and
//! [`crate::core::tlog`].

use crate::api::{
    CommitmentList, CommitmentView, ErrorBody, KeyChange, LogInfo, NewParty, SubmitResponse,
};
use crate::core::dsse::Envelope;
use crate::core::tlog::Hash;
use base64::prelude::{Engine, BASE64_STANDARD};
use std::time::Duration;

pub mod drand;
pub mod monitor;
pub mod transport;
pub mod verify;
pub mod witness;

pub use transport::http_client;

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
        let http = http_client(Duration::from_secs(60), &[base]);
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

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
    ) -> Result<T, ClientError> {
        resp.json()
            .await
            .map_err(|e| ClientError::BadAnswer(e.to_string()))
    }

    /// Registers a party (operator API).
    pub async fn add_party(
        &self,
        token: &str,
        party: &NewParty,
    ) -> Result<SubmitResponse, ClientError> {
        let url = self.url("v1/admin/parties");
        let resp = self
            .send(self.http.post(&url).bearer_auth(token).json(party), &url)
            .await?;
        self.json(resp).await
    }

    /// Adds or revokes a party's keys (operator API).
    pub async fn change_keys(
        &self,
        token: &str,
        name: &str,
        change: &KeyChange,
    ) -> Result<SubmitResponse, ClientError> {
        let url = self.url(&format!("v1/admin/parties/{name}/keys"));
        let resp = self
            .send(self.http.post(&url).bearer_auth(token).json(change), &url)
            .await?;
        self.json(resp).await
    }

    pub async fn parties(&self) -> Result<Vec<crate::log::registry::Party>, ClientError> {
        let url = self.url("v1/parties");
        let resp = self.send(self.http.get(&url), &url).await?;
        self.json(resp).await
    }

    /// One registered party (`GET /v1/parties/<name>`).
    pub async fn party(&self, name: &str) -> Result<crate::log::registry::Party, ClientError> {
        let url = self.url(&format!("v1/parties/{name}"));
        let resp = self.send(self.http.get(&url), &url).await?;
        self.json(resp).await
    }

    pub async fn commitment(&self, index: u64) -> Result<CommitmentView, ClientError> {
        let url = self.url(&format!("v1/commitments/{index}"));
        let resp = self.send(self.http.get(&url), &url).await?;
        self.json(resp).await
    }

    /// Lists commitments; `query` is e.g. `platform=p&status=due`.
    pub async fn commitments(&self, query: &str) -> Result<CommitmentList, ClientError> {
        let url = self.url(&format!("v1/commitments?{query}"));
        let resp = self.send(self.http.get(&url), &url).await?;
        self.json(resp).await
    }

    /// Uploads a model stream to reveal commitment `index`, optionally signed by the platform
    /// (`signature` = `<keyid> <base64 sig>`).
    pub async fn reveal(
        &self,
        index: u64,
        body: reqwest::Body,
        signature: Option<String>,
    ) -> Result<SubmitResponse, ClientError> {
        let url = self.url(&format!("v1/commitments/{index}/reveal"));
        let mut req = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(24 * 3600))
            .header(
                reqwest::header::CONTENT_TYPE,
                crate::model::model_stream::CONTENT_TYPE,
            )
            .body(body);
        if let Some(sig) = signature {
            req = req.header(crate::api::SIGNATURE_HEADER, sig);
        }
        let resp = self.send(req, &url).await?;
        self.json(resp).await
    }

    /// Starts downloading the revealed model of commitment `index` (a model stream).
    pub async fn model(&self, index: u64) -> Result<reqwest::Response, ClientError> {
        let url = self.url(&format!("v1/commitments/{index}/model"));
        self.send(
            self.http.get(&url).timeout(Duration::from_secs(24 * 3600)),
            &url,
        )
        .await
    }
}

/// A request body that streams a model from disk without holding it in memory: a blocking
/// thread writes the model stream into a small bounded channel.
pub fn model_upload_body(
    model: std::path::PathBuf,
    manifest: crate::model::digest::Manifest,
) -> reqwest::Body {
    use std::io::Write;
    struct ChannelWriter {
        tx: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
        buf: Vec<u8>,
    }
    impl Write for ChannelWriter {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.buf.extend_from_slice(data);
            if self.buf.len() >= 1 << 20 {
                self.flush()?;
            }
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            if !self.buf.is_empty() {
                let chunk = std::mem::take(&mut self.buf);
                self.tx
                    .blocking_send(Ok(chunk))
                    .map_err(|_| std::io::Error::other("the upload was cancelled"))?;
            }
            Ok(())
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(1 << 20),
        };
        let result = crate::model::model_stream::write_stream(&model, &manifest, &mut w)
            .and_then(|()| w.flush());
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    reqwest::Body::wrap_stream(stream)
}

/// Audit reports (`src/server/audits.rs`).
impl Client {
    /// The audits of commitment `index`, with links to their stored reports.
    pub async fn audits(&self, index: u64) -> Result<crate::api::AuditList, ClientError> {
        let url = self.url(&format!("v1/commitments/{index}/audits"));
        let resp = self.send(self.http.get(&url), &url).await?;
        self.json(resp).await
    }

    /// Stores the full report of audit entry `entry` of commitment `index`.
    pub async fn put_audit_report(
        &self,
        index: u64,
        entry: u64,
        report: Vec<u8>,
    ) -> Result<crate::api::StoredReport, ClientError> {
        let url = self.url(&format!("v1/commitments/{index}/audits/{entry}/report"));
        let req = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(report);
        let resp = self.send(req, &url).await?;
        self.json(resp).await
    }

    /// The stored full report of audit entry `entry` of commitment `index`, byte for byte.
    pub async fn audit_report(&self, index: u64, entry: u64) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("v1/commitments/{index}/audits/{entry}/report"))
            .await
    }
}

/// Timelocked escrows (`src/server/escrow.rs`).
impl Client {
    /// Deposits the ciphertext of commitment `index`'s escrow (`len` bytes, streamed).
    pub async fn deposit_escrow(
        &self,
        index: u64,
        body: reqwest::Body,
        len: u64,
    ) -> Result<crate::api::Deposited, ClientError> {
        let url = self.url(&format!("v1/commitments/{index}/escrow"));
        let req = self
            .http
            .put(&url)
            .timeout(Duration::from_secs(24 * 3600))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(body);
        let resp = self.send(req, &url).await?;
        self.json(resp).await
    }

    /// Starts downloading commitment `index`'s escrow ciphertext.
    pub async fn escrow_ciphertext(&self, index: u64) -> Result<reqwest::Response, ClientError> {
        let url = self.url(&format!("v1/commitments/{index}/escrow"));
        self.send(
            self.http.get(&url).timeout(Duration::from_secs(24 * 3600)),
            &url,
        )
        .await
    }

    /// The drand chains the log lets escrows lock to.
    pub async fn beacons(&self) -> Result<crate::api::Chains, ClientError> {
        let url = self.url("v1/beacon");
        let resp = self.send(self.http.get(&url), &url).await?;
        self.json(resp).await
    }

    /// Hands the log a round signature; it opens the escrows locked to that round.
    pub async fn post_beacon(
        &self,
        round: &crate::api::RoundSignature,
    ) -> Result<crate::api::Opened, ClientError> {
        let url = self.url("v1/beacon");
        let req = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(24 * 3600))
            .json(round);
        let resp = self.send(req, &url).await?;
        self.json(resp).await
    }

    /// Posts a trustee's share of commitment `index`'s escrow.
    pub async fn post_share(
        &self,
        index: u64,
        share: &crate::api::SharePost,
    ) -> Result<crate::api::ShareAnswer, ClientError> {
        let url = self.url(&format!("v1/commitments/{index}/escrow/shares"));
        let req = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(24 * 3600))
            .json(share);
        let resp = self.send(req, &url).await?;
        self.json(resp).await
    }
}

/// A request body streaming a file from disk.
pub async fn file_body(path: &std::path::Path) -> std::io::Result<(reqwest::Body, u64)> {
    let file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20);
    Ok((reqwest::Body::wrap_stream(stream), len))
}
