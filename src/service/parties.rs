//! The operator's decisions about parties: who may register, which keys a party may add or
//! revoke. Every change becomes a registration entry signed by the log (through
//! [`super::submit::log_statement`], so the rules check it again in log order), which makes
//! who may write public.
//!
//! Never: reads headers or speaks HTTP (the server extracts the bearer token and maps
//! [`PartyError`] to statuses).

use super::submit::{answer_duplicate, log_statement, SubmitError};
use super::AppState;
use crate::api::{KeyChange, NewParty, SubmitResponse};
use crate::core::note::PublicKey;
use crate::core::predicate::{party_digest, statement, Kind, Registration, TypedStatement};
use crate::core::records::Party;
use crate::log::LogError;
use crate::rules::AdmitError;
use sha2::{Digest, Sha256};

/// Why an operator request was refused; nothing was logged.
#[derive(Debug, thiserror::Error)]
pub enum PartyError {
    #[error("the operator API is disabled: start the log with EMBARGO_OPERATOR_TOKEN set (or --operator-token-file)")]
    OperatorApiDisabled,
    #[error("the operator API needs `Authorization: Bearer <token>` with the log's operator token (EMBARGO_OPERATOR_TOKEN)")]
    Unauthorized,
    #[error("{0:?} is not a valid party name: no spaces or '+'")]
    BadName(String),
    #[error("a party needs at least one key (--vkey)")]
    NoKeys,
    #[error("name keys to add or revoke")]
    NoChange,
    #[error(
        "{name} is already registered (entry {at}); change its keys with `key add` / `key revoke`"
    )]
    AlreadyRegistered { name: String, at: u64 },
    #[error("{0} is not registered")]
    NoSuchParty(String),
    #[error("{key} is not a current key of {party}; nothing to revoke")]
    NotACurrentKey { key: String, party: String },
    #[error("{key} was revoked{from} and cannot come back; generate a new key")]
    RevokedKey { key: String, from: String },
    #[error("key {key} already belongs to {owner}; every party needs keys of its own")]
    KeyInUse { key: String, owner: String },
    #[error("this registration would not be a valid entry: {0}")]
    BadRegistration(String),
    #[error(transparent)]
    Submit(Box<SubmitError>),
    #[error(transparent)]
    Registry(#[from] AdmitError),
}

impl From<SubmitError> for PartyError {
    fn from(e: SubmitError) -> PartyError {
        PartyError::Submit(Box::new(e))
    }
}

impl From<LogError> for PartyError {
    fn from(e: LogError) -> PartyError {
        SubmitError::from(e).into()
    }
}

/// Checks the operator's bearer token (compared as hashes, in constant time per byte).
pub fn authorize(s: &AppState, bearer: Option<&str>) -> Result<(), PartyError> {
    let expected = s
        .operator_token
        .as_ref()
        .ok_or(PartyError::OperatorApiDisabled)?;
    let given = bearer.unwrap_or("");
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
        return Err(PartyError::Unauthorized);
    }
    Ok(())
}

/// Registers a new party.
pub async fn add(s: &AppState, p: NewParty) -> Result<SubmitResponse, PartyError> {
    if !crate::core::note::is_valid_name(&p.name) {
        return Err(PartyError::BadName(p.name));
    }
    if p.keys.is_empty() {
        return Err(PartyError::NoKeys);
    }
    // One operator change at a time, so `previous` and the key checks see the latest state.
    let _admin = s.admin.lock().await;
    if let Some(existing) = s.log.registry().party(&p.name)? {
        return Err(PartyError::AlreadyRegistered {
            name: p.name,
            at: existing.registered_at,
        });
    }
    check_keys_free(s, &p.name, &p.keys)?;
    register(
        s,
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

/// Adds and revokes keys of party `name`. Adding only keys it already has changes nothing and
/// is answered with its latest registration.
pub async fn change_keys(
    s: &AppState,
    name: &str,
    change: KeyChange,
) -> Result<SubmitResponse, PartyError> {
    if change.add.is_empty() && change.revoke.is_empty() {
        return Err(PartyError::NoChange);
    }
    let _admin = s.admin.lock().await;
    let party = s
        .log
        .registry()
        .party(name)?
        .ok_or_else(|| PartyError::NoSuchParty(name.to_owned()))?;
    check_change(&party, &change)?;
    check_keys_free(s, name, &change.add)?;
    let keys = keys_after(&party, &change);
    if change.revoke.is_empty() && keys == party.keys {
        return Ok(answer_duplicate(s, party.updated_at)?);
    }
    register(
        s,
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

/// Revokes only current keys; never brings a revoked key back.
fn check_change(party: &Party, change: &KeyChange) -> Result<(), PartyError> {
    if let Some(k) = change.revoke.iter().find(|k| !party.keys.contains(k)) {
        return Err(PartyError::NotACurrentKey {
            key: k.key_ref(),
            party: party.name.clone(),
        });
    }
    let revoked =
        |k: &PublicKey| party.revoked_keys.iter().any(|r| &r.key == k) || change.revoke.contains(k);
    if let Some(k) = change.add.iter().find(|k| revoked(k)) {
        return Err(PartyError::RevokedKey {
            key: k.key_ref(),
            from: String::new(),
        });
    }
    Ok(())
}

/// The party's keys after `change`, in order: the kept ones, then the added ones.
fn keys_after(party: &Party, change: &KeyChange) -> Vec<PublicKey> {
    let mut keys: Vec<PublicKey> = party
        .keys
        .iter()
        .filter(|k| !change.revoke.contains(k))
        .cloned()
        .collect();
    for k in &change.add {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

/// Refuses keys that already belong to another party, and keys revoked from any party.
fn check_keys_free(s: &AppState, party: &str, keys: &[PublicKey]) -> Result<(), PartyError> {
    for k in keys {
        match s.log.registry().key(&k.key_ref()) {
            Ok((owner, _)) if owner != party => {
                return Err(PartyError::KeyInUse {
                    key: k.key_ref(),
                    owner,
                });
            }
            Err(AdmitError::RevokedKey {
                party: owner,
                revoked_at,
                ..
            }) => {
                return Err(PartyError::RevokedKey {
                    key: k.key_ref(),
                    from: format!(" (from {owner}, at entry {revoked_at})"),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Logs `reg`, signed by the log, once it is a valid entry: an invalid one (name pattern, key
/// count, text lengths) is the operator's mistake, refused before the log signs anything.
async fn register(s: &AppState, reg: Registration) -> Result<SubmitResponse, PartyError> {
    let digest = party_digest(&reg.name);
    let st = statement(Kind::Registration, &reg.name, "sha256", &digest, &reg);
    TypedStatement::parse(Kind::Registration, &st)
        .map_err(|e| PartyError::BadRegistration(e.to_string()))?;
    Ok(log_statement(s, Kind::Registration, st).await?)
}

/// Every registered party.
pub fn list(s: &AppState) -> Result<Vec<Party>, PartyError> {
    Ok(s.log.registry().parties()?)
}

/// Party `name`, as of its latest registration.
pub fn show(s: &AppState, name: &str) -> Result<Party, PartyError> {
    s.log
        .registry()
        .party(name)?
        .ok_or_else(|| PartyError::NoSuchParty(name.to_owned()))
}
