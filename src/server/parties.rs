//! The operator's API (`/v1/admin/...`, bearer token) and the public party listing.
//! Every change is a registration entry signed by the log, so who may write is public.

use super::submit::{bad_request, respond};
use super::{ApiError, AppState};
use crate::api::{KeyChange, NewParty};
use crate::core::note::PublicKey;
use crate::core::predicate::{party_digest, statement, Kind, Registration, TypedStatement};
use crate::log::registry::{AdmitError, Party};
use crate::service::submit::{answer_duplicate, log_statement};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;

use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Checks the operator's bearer token (compared as hashes, in constant time per byte).
fn authorize(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &s.operator_token else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "operator_api_disabled",
            "the operator API is disabled: start the log with EMBARGO_OPERATOR_TOKEN set (or --operator-token-file)",
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.as_bytes()),
    );
    let same = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0;
    if given.is_empty() || !same {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the operator API needs `Authorization: Bearer <token>` with the log's operator token (EMBARGO_OPERATOR_TOKEN)",
        ));
    }
    Ok(())
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad_request("bad_json", format!("{what}: {e}")))
}

/// Refuses keys that already belong to another party, and keys revoked from any party.
fn check_keys_free(s: &AppState, party: &str, keys: &[PublicKey]) -> Result<(), ApiError> {
    for k in keys {
        match s.log.registry.key(&k.key_ref()) {
            Ok((owner, _)) if owner != party => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "key_in_use",
                    format!(
                        "key {} already belongs to {owner}; every party needs keys of its own",
                        k.key_ref()
                    ),
                ));
            }
            Err(AdmitError::RevokedKey {
                party: owner,
                revoked_at,
                ..
            }) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "revoked_key",
                    format!(
                        "{} was revoked (from {owner}, at entry {revoked_at}) and cannot come back; generate a new key",
                        k.key_ref()
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn register(s: &AppState, reg: Registration) -> Result<Response, ApiError> {
    let digest = party_digest(&reg.name);
    let st = statement(Kind::Registration, &reg.name, "sha256", &digest, &reg);
    // The operator's input must make a valid entry (name pattern, key count, text lengths):
    // refuse it as the operator's mistake, before the log signs anything.
    TypedStatement::parse(Kind::Registration, &st).map_err(|e| {
        bad_request(
            "bad_registration",
            format!("this registration would not be a valid entry: {e}"),
        )
    })?;
    Ok(respond(log_statement(s, Kind::Registration, st).await?))
}

pub(crate) async fn add(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    authorize(&s, &headers)?;
    let p: NewParty = parse_json(
        &body,
        "expected {\"name\", \"role\", \"keys\": [vkey], \"display_name\"?, \"contact\"?}",
    )?;
    if !crate::core::note::is_valid_name(&p.name) {
        return Err(bad_request(
            "bad_name",
            format!("{:?} is not a valid party name: no spaces or '+'", p.name),
        ));
    }
    if p.keys.is_empty() {
        return Err(bad_request(
            "no_keys",
            "a party needs at least one key (--vkey)",
        ));
    }
    let _admin = s.admin.lock().await;
    if let Some(existing) = s.log.registry.party(&p.name)? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_registered",
            format!("{} is already registered (entry {}); change its keys with `key add` / `key revoke`", p.name, existing.registered_at),
        ));
    }
    check_keys_free(&s, &p.name, &p.keys)?;
    register(
        &s,
        Registration {
            display_name: p.display_name.unwrap_or_else(|| p.name.clone()),
            name: p.name,
            role: p.role,
            keys: p.keys,
            revoked_keys: Vec::new(),
            contact: p.contact,
            previous: None,
        },
    )
    .await
}

pub(crate) async fn change_keys(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    authorize(&s, &headers)?;
    let change: KeyChange = parse_json(&body, "expected {\"add\": [vkey], \"revoke\": [vkey]}")?;
    if change.add.is_empty() && change.revoke.is_empty() {
        return Err(bad_request("no_change", "name keys to add or revoke"));
    }
    let _admin = s.admin.lock().await;
    let party = s.log.registry.party(&name)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_party",
            format!("{name} is not registered"),
        )
    })?;
    for k in &change.revoke {
        if !party.keys.contains(k) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_a_current_key",
                format!(
                    "{} is not a current key of {name}; nothing to revoke",
                    k.key_ref()
                ),
            ));
        }
    }
    for k in &change.add {
        if party.revoked_keys.iter().any(|r| &r.key == k) || change.revoke.contains(k) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "revoked_key",
                format!(
                    "{} was revoked and cannot come back; generate a new key",
                    k.key_ref()
                ),
            ));
        }
    }
    check_keys_free(&s, &name, &change.add)?;
    let mut keys: Vec<PublicKey> = party
        .keys
        .iter()
        .filter(|k| !change.revoke.contains(k))
        .cloned()
        .collect();
    for k in change.add {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if change.revoke.is_empty() && keys == party.keys {
        // Nothing changes: the party's latest registration already says this.
        return Ok(respond(answer_duplicate(&s, party.updated_at)?));
    }
    register(
        &s,
        Registration {
            name: party.name,
            display_name: party.display_name,
            role: party.role,
            keys,
            revoked_keys: change.revoke,
            contact: party.contact,
            previous: Some(party.updated_at),
        },
    )
    .await
}

pub(crate) async fn list(State(s): State<Arc<AppState>>) -> Result<Json<Vec<Party>>, ApiError> {
    Ok(Json(s.log.registry.parties()?))
}

pub(crate) async fn show(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Party>, ApiError> {
    s.log.registry.party(&name)?.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_party",
            format!("{name} is not registered"),
        )
    })
}
