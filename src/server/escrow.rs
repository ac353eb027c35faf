//! Timelocked escrows at the HTTP edge: extract, call [`crate::service::escrow`], answer.
//!
//! | route | what |
//! |---|---|
//! | `PUT /v1/commitments/<i>/escrow` | deposit the ciphertext; kept only if it hashes to the committed digest and its tlock stanza names the committed chain and round |
//! | `GET /v1/commitments/<i>/escrow` | the ciphertext, for anyone to check or open themselves |
//! | `POST /v1/commitments/<i>/escrow/shares` | a trustee's share, signed; opens the escrow once `threshold` are in |
//! | `GET /v1/beacon` | the drand chains escrows may be locked to |
//! | `POST /v1/beacon` | a round signature; opens every deposited escrow locked to that round |

use super::commitments::body_reader;
use super::routes::Routes;
use super::{parse_index, ApiError, AppState, IMMUTABLE};
use crate::api::{Chains, Deposited, Opened, RoundSignature, ShareAnswer, SharePost};
use crate::service::escrow::{self, deposit, opening, shares};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use std::sync::Arc;

pub(crate) fn routes(t: Routes) -> Routes {
    t.get("/v1/commitments/{index}/escrow", download)
        .put("/v1/commitments/{index}/escrow", deposit)
        .post("/v1/commitments/{index}/escrow/shares", post_share)
        .get("/v1/beacon", chains)
        .post("/v1/beacon", post_beacon)
}

async fn deposit(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<Deposited>), ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    let answer = deposit::deposit(&s, index, body_reader(body)).await?;
    let status = if answer.stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)))
}

async fn download(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    let (e, file) = deposit::ciphertext(&s, index).await?;
    let mut resp = Response::new(Body::from_stream(
        tokio_util::io::ReaderStream::with_capacity(file, 1 << 20),
    ));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(e.ciphertext_size));
    if let Ok(v) = HeaderValue::from_str(&e.ciphertext_digest) {
        h.insert("embargo-ciphertext-digest", v);
    }
    Ok(resp)
}

async fn chains(State(s): State<Arc<AppState>>) -> Json<Chains> {
    Json(escrow::chains(&s))
}

async fn post_beacon(
    State(s): State<Arc<AppState>>,
    Json(r): Json<RoundSignature>,
) -> Result<Json<Opened>, ApiError> {
    Ok(Json(opening::open_posted_round(&s, &r).await?))
}

async fn post_share(
    State(s): State<Arc<AppState>>,
    Path(index): Path<String>,
    Json(p): Json<SharePost>,
) -> Result<(StatusCode, Json<ShareAnswer>), ApiError> {
    let index = parse_index(&index, "the commitment index")?;
    Ok((
        StatusCode::ACCEPTED,
        Json(shares::post_share(&s, index, &p).await?),
    ))
}
