//! The witness's HTTP interface (c2sp.org/tlog-witness), HTTP only: every decision is
//! [`Witness::add_checkpoint`]'s; this module maps bodies and outcomes to the wire.
//!
//! - `POST /add-checkpoint`: request body as the spec says (read up to
//!   [`MAX_REQUEST_BYTES`], 413 above it); 200 with the cosignature line(s); 409 with
//!   `Content-Type: text/x.tlog.size` and the cosigned size; 400, 403, 404 and 422 with a
//!   one-line plain-text reason. No JSON anywhere.
//! - `GET /<hex SHA-256 of origin>/checkpoint`: the latest cosigned checkpoint of that log,
//!   with the log's signature and this witness's cosignature (404 if none yet).
//!
//! `sign-subtree` is not served (404): the spec requires a cosignature format that supports
//! subtrees, and Ed25519 `cosignature/v1` does not (only ML-DSA-44 does).

use super::protocol::{Refusal, MAX_REQUEST_BYTES};
use super::{Witness, WitnessError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// The `Content-Type` of a 409 answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
const TEXT: &str = "text/plain; charset=utf-8";

/// The witness's routes.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route(
            "/add-checkpoint",
            post(add_checkpoint).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)),
        )
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .with_state(witness)
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn add_checkpoint(
    State(witness): State<Arc<Witness>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let msg = format!(
                "the request body is over the witness's limit of {MAX_REQUEST_BYTES} bytes\n"
            );
            return text(StatusCode::PAYLOAD_TOO_LARGE, TEXT, msg);
        }
        Err(e) => return text(e.status(), TEXT, format!("{}\n", e.body_text())),
    };
    let result = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body)).await;
    match result {
        Ok(Ok(lines)) => text(StatusCode::OK, TEXT, lines),
        Ok(Err(e)) => refusal(e),
        Err(e) => internal(format!("the cosigning task failed: {e}")),
    }
}

fn refusal(e: WitnessError) -> Response {
    match e {
        WitnessError::Refused(Refusal::OldSizeMismatch { current, .. }) => text(
            StatusCode::CONFLICT,
            SIZE_CONTENT_TYPE,
            format!("{current}\n"),
        ),
        WitnessError::Refused(r) => {
            let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST);
            text(status, TEXT, format!("{r}\n"))
        }
        other => internal(other.to_string()),
    }
}

fn internal(msg: String) -> Response {
    tracing::error!("{msg}");
    eprintln!("embargo witness: {msg}");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        TEXT,
        format!("the witness failed: {msg}\n"),
    )
}

async fn checkpoint(
    State(witness): State<Arc<Witness>>,
    Path(origin_hash): Path<String>,
) -> Response {
    let well_formed = origin_hash.len() == 64
        && origin_hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    match witness.latest_by_hash(&origin_hash).filter(|_| well_formed) {
        Some(note) => text(StatusCode::OK, TEXT, note),
        None => text(
            StatusCode::NOT_FOUND,
            TEXT,
            "this witness has cosigned no checkpoint for that log (the path is the lowercase hex SHA-256 of the origin)\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::checkpoint::Checkpoint;
    use crate::core::note::KeyPair;
    use crate::witness::cosignature::{verify_cosignatures, Cosigner};
    use crate::witness::protocol::TrustedLogs;
    use crate::witness::state::origin_hash;

    /// A witness for one log on a free local port; its URL, the log key and the cosigner.
    async fn serve(dir: &std::path::Path) -> (String, KeyPair, Cosigner) {
        let log = KeyPair::generate("example.com/log").unwrap();
        let cosigner = Cosigner::new(&KeyPair::generate("witness.example/w").unwrap());
        let logs = TrustedLogs::new([log.public().clone()]);
        let w = Witness::open(cosigner.clone(), logs, dir).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(Arc::new(w))).await });
        (url, log, cosigner)
    }

    async fn post(url: &str, body: Vec<u8>) -> (u16, String, String) {
        let resp = reqwest::Client::new()
            .post(format!("{url}/add-checkpoint"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let ct = resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        (status, ct, resp.text().await.unwrap())
    }

    fn empty_tree(log: &KeyPair) -> String {
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 0,
            root: crate::core::tlog::EMPTY_HASH,
        };
        cp.sign(log).unwrap().text
    }

    #[tokio::test]
    async fn cosigns_and_maps_refusals_to_the_wire() {
        let dir = tempfile::tempdir().unwrap();
        let (url, log, cosigner) = serve(dir.path()).await;
        let note = empty_tree(&log);
        let (status, ct, body) = post(&url, format!("old 0\n\n{note}").into_bytes()).await;
        assert_eq!((status, ct.as_str()), (200, TEXT), "{body}");
        assert!(body.starts_with("\u{2014} witness.example/w ") && body.ends_with('\n'));
        let cosigned = format!("{note}{body}");
        let report = verify_cosignatures(&cosigned, &[cosigner.public().clone()]).unwrap();
        assert_eq!(report.valid.len(), 1);

        let more = Checkpoint::parse_body(
            "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        )
        .unwrap();
        let more = more.sign(&log).unwrap().text;
        let (status, ct, body) = post(&url, format!("old 1\n\n{more}").into_bytes()).await;
        assert_eq!(
            (status, ct.as_str(), body.as_str()),
            (409, SIZE_CONTENT_TYPE, "0\n")
        );
        let (status, ct, body) = post(&url, b"old 0\n".to_vec()).await;
        assert_eq!((status, ct.as_str()), (400, TEXT));
        assert!(
            body.starts_with("malformed add-checkpoint request"),
            "{body}"
        );

        let monitor = format!("{url}/{}/checkpoint", origin_hash("example.com/log"));
        let got = reqwest::get(monitor).await.unwrap().text().await.unwrap();
        assert_eq!(got, cosigned);
    }

    #[tokio::test]
    async fn over_the_limit_is_413_and_unknown_paths_404() {
        let dir = tempfile::tempdir().unwrap();
        let (url, _, _) = serve(dir.path()).await;
        let (status, _, body) = post(&url, vec![b'x'; MAX_REQUEST_BYTES + 1]).await;
        assert_eq!(status, 413);
        assert!(body.contains("65536"), "{body}");
        let none = format!("{url}/{}/checkpoint", "0".repeat(64));
        assert_eq!(reqwest::get(none).await.unwrap().status().as_u16(), 404);
        let sub = reqwest::Client::new()
            .post(format!("{url}/sign-subtree"))
            .send()
            .await
            .unwrap();
        assert_eq!(sub.status().as_u16(), 404);
    }
}
