//! The monitor's [`LogSource`] over HTTP: one log URL's C2SP read API (`/checkpoint`, entry
//! bundles), its consistency proofs, the size `/v1/log` announces, and revealed models, which
//! it hashes as they stream (nothing is kept). Checks nothing itself: the follower
//! ([`crate::monitor::follow`]) verifies everything it gets.

use crate::client::{Client, ClientError};
use crate::core::tlog::{Hash, TileId, TileKind};
use crate::model::model_stream::{read_body, Header};
use crate::monitor::follow::{LogSource, SourceError};
use futures_util::TryStreamExt;

/// One URL of a log, read over HTTP.
pub struct HttpSource {
    client: Client,
}

impl HttpSource {
    pub fn new(url: &str) -> HttpSource {
        HttpSource {
            client: Client::new(url),
        }
    }

    fn error(&self, e: ClientError) -> SourceError {
        let url = self.client.base().to_owned();
        match e {
            ClientError::Unreachable { source, .. } => SourceError::Unreachable {
                url,
                message: source.to_string(),
            },
            ClientError::Refused {
                status, message, ..
            } => SourceError::Refused {
                url,
                status,
                message,
            },
            ClientError::BadAnswer(message) => SourceError::BadAnswer { url, message },
        }
    }
}

impl LogSource for HttpSource {
    fn url(&self) -> &str {
        self.client.base()
    }

    async fn checkpoint(&self) -> Result<String, SourceError> {
        self.client.checkpoint().await.map_err(|e| self.error(e))
    }

    async fn entry_bundle(&self, index: u64, width: u16) -> Result<Vec<u8>, SourceError> {
        let id = TileId {
            kind: TileKind::Entries,
            index,
            width,
        };
        self.client
            .get_bytes(&id.path())
            .await
            .map_err(|e| self.error(e))
    }

    async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, SourceError> {
        self.client
            .consistency_proof(old, new)
            .await
            .map_err(|e| self.error(e))
    }

    async fn announced_size(&self) -> Result<u64, SourceError> {
        Ok(self.client.info().await.map_err(|e| self.error(e))?.size)
    }

    async fn revealed_digest(&self, index: u64) -> Result<String, SourceError> {
        let resp = self.client.model(index).await.map_err(|e| self.error(e))?;
        let stream = resp.bytes_stream().map_err(std::io::Error::other);
        let reader = tokio_util::io::StreamReader::new(stream);
        let mut sync = tokio_util::io::SyncIoBridge::new(reader);
        let url = self.client.base().to_owned();
        let digest = tokio::task::spawn_blocking(move || {
            let mut r = std::io::BufReader::with_capacity(1 << 20, &mut sync);
            let header = Header::read_from(&mut r).map_err(|e| e.to_string())?;
            let manifest = read_body(&header, &mut r, |_, _| Ok(())).map_err(|e| e.to_string())?;
            Ok::<_, String>(manifest.digest().to_hex())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        digest.map_err(|message| SourceError::BadAnswer {
            url,
            message: format!(
                "the model of commitment {index} is not a whole model stream: {message}"
            ),
        })
    }
}
