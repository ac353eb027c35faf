//! A witness's `add-checkpoint` endpoint over HTTP (c2sp.org/tlog-witness), as a
//! [`WitnessEndpoint`] for the log's witnessing task: `POST <url>/add-checkpoint`, keep-alive
//! connections shared by all witnesses, a timeout per request. It reads the answer's status
//! and body only; the witnessing task verifies every cosignature before keeping it.

use super::transport::http_client;
use crate::witness::endpoint::{AddCheckpointError, WitnessEndpoint};
use std::time::Duration;

/// The largest answer read from a witness (a few signature lines; the 409 size).
const MAX_ANSWER: usize = 64 * 1024;

/// One witness's submission prefix (e.g. `https://witness.example/w1`).
pub struct HttpWitness {
    client: reqwest::Client,
    url: String,
}

impl HttpWitness {
    /// The witnesses at `urls`, in this order, sharing one HTTP client whose requests time
    /// out after `timeout`.
    pub fn all(urls: &[String], timeout: Duration) -> Vec<HttpWitness> {
        let targets: Vec<&str> = urls.iter().map(String::as_str).collect();
        let client = http_client(timeout, &targets);
        urls.iter()
            .map(|url| HttpWitness {
                client: client.clone(),
                url: url.trim_end_matches('/').to_owned(),
            })
            .collect()
    }
}

impl WitnessEndpoint for HttpWitness {
    fn url(&self) -> &str {
        &self.url
    }

    async fn add_checkpoint(&self, body: String) -> Result<String, AddCheckpointError> {
        let unreachable = |e: reqwest::Error| AddCheckpointError::Unreachable(e.to_string());
        let resp = self
            .client
            .post(format!("{}/add-checkpoint", self.url))
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status();
        let text = resp.text().await.map_err(unreachable)?;
        let text: String = text.chars().take(MAX_ANSWER).collect();
        classify(status.as_u16(), text)
    }
}

/// What an answer means: 200 is the signature lines, 409 the witness's size (the
/// `text/x.tlog.size` body), anything else a refusal with the witness's message.
fn classify(status: u16, body: String) -> Result<String, AddCheckpointError> {
    match status {
        200 => Ok(body),
        409 => body
            .strip_suffix('\n')
            .and_then(|s| s.parse::<u64>().ok())
            .map_or_else(
                || {
                    Err(AddCheckpointError::Unreachable(format!(
                        "409 without a tree size in its body: {body:?}"
                    )))
                },
                |size| Err(AddCheckpointError::Conflict(size)),
            ),
        _ => Err(AddCheckpointError::Refused {
            status,
            message: body.trim().to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_status() {
        assert_eq!(classify(200, "— w x\n".into()), Ok("— w x\n".into()));
        assert_eq!(
            classify(409, "300\n".into()),
            Err(AddCheckpointError::Conflict(300))
        );
        assert!(matches!(
            classify(409, "three hundred".into()),
            Err(AddCheckpointError::Unreachable(_))
        ));
        assert!(matches!(
            classify(422, "bad proof\n".into()),
            Err(AddCheckpointError::Refused { status: 422, .. })
        ));
    }
}
