//! The read-only views the public website (`web/`) reads, served under `/v1/browse/` by
//! `server/browse.rs`: what is sealed, due, revealed, what audits found, who is registered.
//!
//! Everything here is derived from the log and its indexes; nothing here needs trust: the
//! pages check what matters (the checkpoint's signature, the entries' inclusion, that the
//! entry says what the page shows) against the tiles themselves. These endpoints only save the
//! browser from fetching and decoding every entry. Every answer is bounded:
//!
//! | endpoint | what | bounds |
//! |---|---|---|
//! | `GET /v1/browse/summary` | origin, vkey, checkpoint, when the latest entry was logged, counts of commitments by status (revealed split into on time and late), parties, audits by verdict, decision batches | scans at most [`MAX_SCAN`] commitments and reads at most [`MAX_AUDITS`] audit entries (`truncated` says so); cached for a second |
//! | `GET /v1/browse/entries?before=&limit=` | the latest entries, newest first, decoded: kind, subject, signer, predicate | `limit` 1..=[`MAX_ENTRIES`] (default 20); `before` is an exclusive index |
//! | `GET /v1/browse/commitments/<i>` | one commitment with its status and its decision batches and audits decoded | the last [`MAX_RELATED`] batches and audits (with totals) |
//! | `GET /v1/browse/parties` | every registered party with its record | as `summary` |
//! | `GET /v1/browse/parties/<name>` | one party, its record, its commitments (platforms) or audits (auditors) | [`MAX_LIST`] commitments, [`MAX_RELATED`] audits |
//! | `GET /v1/browse/search?q=` | an entry index, a model digest (hex prefix of at least 6, `sha3-256:` optional), a platform or auditor name, or a model name | [`MAX_RESULTS`] results a kind; scans at most [`MAX_SCAN`] commitments |
//!
//! A party's record: for a platform, its commitments by status with reveals on time and
//! late, the audit verdicts on its models and its decision batches; for an auditor, its
//! audits by verdict.
//!
//! Never: speaks HTTP (refusals are [`ViewError`]); every function here reads files and is
//! meant to run on a blocking thread.

use super::AppState;
use crate::core::entry::Leaf;
use crate::core::predicate::Kind;
use crate::core::tlog::{self, TileId, TileKind, TILE_WIDTH};
use crate::log::registry::{AdmitError, Commitment, Party, Status};
use crate::log::{Log, LogError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most commitments one scan (summary, records, search) looks at.
pub const MAX_SCAN: usize = 100_000;
/// Most audit entries a summary reads to learn their verdicts.
pub const MAX_AUDITS: usize = 10_000;
/// Most entries one `/v1/browse/entries` answer holds.
pub const MAX_ENTRIES: usize = 100;
/// Most decision batches or audits listed with one commitment or auditor.
pub const MAX_RELATED: usize = 200;
/// Most commitments listed with one platform.
pub const MAX_LIST: usize = 1000;
/// Most results of each kind one search returns.
pub const MAX_RESULTS: usize = 50;
/// How long a computed summary is reused.
const STATS_TTL: Duration = Duration::from_secs(1);

/// Why a view could not be given.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("there is no model commitment at entry {0}")]
    NoSuchCommitment(u64),
    #[error("{0} is not registered")]
    NoSuchParty(String),
    #[error("search for an entry index, a model digest (at least 6 hex digits), or a platform, auditor or model name (q=..., at most 256 characters)")]
    BadQuery,
    #[error(transparent)]
    Registry(#[from] AdmitError),
    #[error(transparent)]
    Log(#[from] LogError),
}

/// An entry, decoded as far as it decodes. Fields are absent for entries that are not
/// in-toto statements.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct EntrySummary {
    pub index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logged_at: Option<DateTime<Utc>>,
    /// One of Embargo's kinds (`registration`, `model-commitment`, ...), if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<String>,
    /// The first subject's digests, by algorithm.
    #[serde(default)]
    pub subject_digest: BTreeMap<String, String>,
    /// The envelope's first signer (`<name>+<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate: Option<serde_json::Value>,
}

impl EntrySummary {
    fn decode(index: u64, bytes: &[u8]) -> EntrySummary {
        let mut out = EntrySummary {
            index,
            logged_at: None,
            kind: None,
            predicate_type: None,
            subject_name: None,
            subject_digest: BTreeMap::new(),
            signer: None,
            predicate: None,
        };
        let Ok(leaf) = Leaf::parse(bytes) else {
            return out;
        };
        out.logged_at = Some(leaf.logged_at);
        out.signer = leaf.envelope.signatures.first().map(|s| s.keyid.clone());
        let Some(mut st) = leaf
            .envelope
            .payload_bytes()
            .ok()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
        else {
            return out;
        };
        out.predicate_type = st["predicateType"].as_str().map(str::to_owned);
        out.kind = out
            .predicate_type
            .as_deref()
            .and_then(Kind::from_predicate_type);
        let subject = &st["subject"][0];
        out.subject_name = subject["name"].as_str().map(str::to_owned);
        if let Some(d) = subject["digest"].as_object() {
            out.subject_digest = d
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect();
        }
        out.predicate = st.get_mut("predicate").map(serde_json::Value::take);
        out
    }

    fn field(&self, name: &str) -> Option<&serde_json::Value> {
        self.predicate.as_ref()?.get(name)
    }
}

/// Reads the given entries (any order), one bundle read per bundle. Indexes at or past the
/// log's size are skipped.
fn read_entries(log: &Log, indexes: &[u64]) -> Result<HashMap<u64, Vec<u8>>, ViewError> {
    let size = log.size();
    let mut by_bundle: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &i in indexes.iter().filter(|&&i| i < size) {
        by_bundle.entry(i / TILE_WIDTH).or_default().push(i);
    }
    let mut out = HashMap::new();
    for (bundle, wanted) in by_bundle {
        let entries = tlog::tile_width_at(0, bundle, size).and_then(|width| {
            let id = TileId {
                kind: TileKind::Entries,
                index: bundle,
                width,
            };
            let data = log.store().read(&id).ok()?;
            let entries: Vec<Vec<u8>> = tlog::decode_bundle(&data)?
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect();
            (entries.len() == usize::from(width)).then_some(entries)
        });
        for i in wanted {
            let bytes = match &entries {
                Some(e) => e[(i % TILE_WIDTH) as usize].clone(),
                // The bundle moved on (a partial one was completed meanwhile): read it afresh.
                None => log.entry(i)?,
            };
            out.insert(i, bytes);
        }
    }
    Ok(out)
}

fn decode_entries(log: &Log, indexes: &[u64]) -> Result<Vec<EntrySummary>, ViewError> {
    let raw = read_entries(log, indexes)?;
    Ok(indexes
        .iter()
        .filter_map(|i| raw.get(i).map(|b| EntrySummary::decode(*i, b)))
        .collect())
}

/// Commitments by status; revealed ones also split by whether the reveal was on time.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct StatusCounts {
    pub total: u64,
    pub sealed: u64,
    pub due: u64,
    pub revealed: u64,
    pub revealed_on_time: u64,
    pub revealed_late: u64,
    pub overdue: u64,
    /// Escrows that opened to other bytes than the committed model, or did not open.
    #[serde(default)]
    pub escrow_invalid: u64,
}

impl StatusCounts {
    fn add(&mut self, c: &Commitment, now: DateTime<Utc>) {
        self.total += 1;
        match c.status(now) {
            Status::Sealed => self.sealed += 1,
            Status::Due => self.due += 1,
            Status::Overdue => self.overdue += 1,
            Status::EscrowInvalid => self.escrow_invalid += 1,
            Status::Revealed => {
                self.revealed += 1;
                if c.reveal.as_ref().is_some_and(|r| r.on_time) {
                    self.revealed_on_time += 1;
                } else {
                    self.revealed_late += 1;
                }
            }
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct VerdictCounts {
    pub total: u64,
    pub pass: u64,
    pub fail: u64,
}

impl VerdictCounts {
    fn add(&mut self, verdict: &str) {
        self.total += 1;
        match verdict {
            "pass" => self.pass += 1,
            "fail" => self.fail += 1,
            _ => {}
        }
    }
}

/// What a party has done in this log.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Record {
    /// A platform's commitments.
    pub commitments: StatusCounts,
    /// Verdicts of audits: on a platform's models, or written by an auditor.
    pub audits: VerdictCounts,
    /// A platform's decision batches.
    pub decision_batches: u64,
}

/// One audit, as the pages list it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct AuditRow {
    pub index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logged_at: Option<DateTime<Utc>>,
    pub auditor: String,
    pub verdict: String,
    pub commitment: u64,
    pub platform: String,
    pub model_name: String,
    pub model_version: String,
}

/// Everything the summary and the records need, from one scan.
struct Stats {
    now: DateTime<Utc>,
    commitments: StatusCounts,
    audits: VerdictCounts,
    decision_batches: u64,
    records: HashMap<String, Record>,
    audit_rows: Vec<AuditRow>,
    truncated: bool,
}

type StatsCache = Mutex<Option<(usize, u64, Instant, Arc<Stats>)>>;

/// The last computed stats, keyed by the log (its address) and its size.
static STATS: StatsCache = Mutex::new(None);

fn stats(s: &AppState) -> Result<Arc<Stats>, ViewError> {
    let key = Arc::as_ptr(&s.log) as usize;
    let size = s.log.size();
    if let Some((k, sz, at, st)) = STATS.lock().unwrap().as_ref() {
        if *k == key && *sz == size && at.elapsed() < STATS_TTL {
            return Ok(st.clone());
        }
    }
    let st = Arc::new(compute_stats(&s.log)?);
    *STATS.lock().unwrap() = Some((key, size, Instant::now(), st.clone()));
    Ok(st)
}

/// Visits commitments in log order, at most [`MAX_SCAN`]; returns whether it stopped early.
fn scan(
    log: &Log,
    platform: Option<&str>,
    now: DateTime<Utc>,
    mut f: impl FnMut(Commitment),
) -> Result<bool, ViewError> {
    const PAGE: usize = 1000;
    let mut after = None;
    let mut seen = 0;
    loop {
        let page = log
            .registry()
            .commitments(platform, None, after, PAGE, now)?;
        let n = page.len();
        for c in page {
            if seen == MAX_SCAN {
                return Ok(true);
            }
            seen += 1;
            after = Some(c.index);
            f(c);
        }
        if n < PAGE {
            return Ok(false);
        }
    }
}

fn compute_stats(log: &Log) -> Result<Stats, ViewError> {
    let now = Utc::now();
    let mut st = Stats {
        now,
        commitments: StatusCounts::default(),
        audits: VerdictCounts::default(),
        decision_batches: 0,
        records: HashMap::new(),
        audit_rows: Vec::new(),
        truncated: false,
    };
    let mut audits: Vec<(u64, Commitment)> = Vec::new();
    st.truncated = scan(log, None, now, |c| {
        st.commitments.add(&c, now);
        st.decision_batches += c.decision_batches.len() as u64;
        let rec = st.records.entry(c.platform.clone()).or_default();
        rec.commitments.add(&c, now);
        rec.decision_batches += c.decision_batches.len() as u64;
        for &a in &c.audits {
            audits.push((a, c.clone()));
        }
    })?;
    if audits.len() > MAX_AUDITS {
        st.truncated = true;
        audits.drain(..audits.len() - MAX_AUDITS);
    }
    audits.sort_by_key(|(i, _)| *i);
    let indexes: Vec<u64> = audits.iter().map(|(i, _)| *i).collect();
    let raw = read_entries(log, &indexes)?;
    for (i, c) in audits {
        let Some(bytes) = raw.get(&i) else { continue };
        let e = EntrySummary::decode(i, bytes);
        let verdict = e
            .field("verdict")
            .and_then(|v| v.as_str())
            .unwrap_or("unknown")
            .to_owned();
        let auditor = e
            .field("auditor")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned();
        st.audits.add(&verdict);
        st.records
            .entry(c.platform.clone())
            .or_default()
            .audits
            .add(&verdict);
        st.records
            .entry(auditor.clone())
            .or_default()
            .audits
            .add(&verdict);
        st.audit_rows.push(AuditRow {
            index: i,
            logged_at: e.logged_at,
            auditor,
            verdict,
            commitment: c.index,
            platform: c.platform.clone(),
            model_name: c.model.name.clone(),
            model_version: c.model.version.clone(),
        });
    }
    Ok(st)
}

#[derive(Serialize, Deserialize, Debug)]
pub struct PartyCounts {
    pub platforms: u64,
    pub auditors: u64,
}

/// `GET /v1/browse/summary`.
#[derive(Serialize, Deserialize, Debug)]
pub struct Summary {
    pub origin: String,
    pub vkey: String,
    /// The checkpoint as served at `/checkpoint` (verify it; do not trust this copy): with
    /// witnesses, the witnessed one and its cosignatures (the log's own until one exists).
    pub checkpoint: String,
    /// The size of `checkpoint`.
    pub size: u64,
    /// With witnesses: the policy, each witness and the witnessed checkpoint's lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnessing: Option<crate::api::WitnessingInfo>,
    /// When the newest entry was logged: the checkpoint was signed in that batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_logged_at: Option<DateTime<Utc>>,
    /// The log's clock (statuses are relative to it).
    pub now: DateTime<Utc>,
    pub commitments: StatusCounts,
    pub audits: VerdictCounts,
    pub decision_batches: u64,
    pub parties: PartyCounts,
    /// The counts stopped at a scan limit.
    pub truncated: bool,
}

/// `GET /v1/browse/entries`.
#[derive(Serialize, Deserialize, Debug)]
pub struct EntryList {
    /// The log's size when it answered.
    pub size: u64,
    /// Newest first.
    pub entries: Vec<EntrySummary>,
}

/// `GET /v1/browse/commitments/<i>`.
#[derive(Serialize, Deserialize, Debug)]
pub struct CommitmentDetail {
    pub now: DateTime<Utc>,
    pub status: Status,
    pub commitment: Commitment,
    /// The decision batches, decoded (the last [`MAX_RELATED`]).
    pub decision_batches: Vec<EntrySummary>,
    pub decision_batches_total: usize,
    /// The audits, decoded (the last [`MAX_RELATED`]).
    pub audits: Vec<EntrySummary>,
    pub audits_total: usize,
}

/// A party with its record.
#[derive(Serialize, Deserialize, Debug)]
pub struct PartyRecord {
    #[serde(flatten)]
    pub party: Party,
    pub record: Record,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct PartyList {
    pub now: DateTime<Utc>,
    pub parties: Vec<PartyRecord>,
    pub truncated: bool,
}

/// `GET /v1/browse/parties/<name>`.
#[derive(Serialize, Deserialize, Debug)]
pub struct PartyDetail {
    pub now: DateTime<Utc>,
    #[serde(flatten)]
    pub party: PartyRecord,
    /// A platform's commitments with their statuses (the first [`MAX_LIST`]).
    pub commitments: Vec<crate::api::CommitmentView>,
    /// Audits written by an auditor, or of a platform's models (the last [`MAX_RELATED`]).
    pub audits: Vec<AuditRow>,
    pub truncated: bool,
}

/// `GET /v1/browse/search`.
#[derive(Serialize, Deserialize, Debug)]
pub struct SearchResults {
    pub query: String,
    pub now: DateTime<Utc>,
    /// The entry at the index searched for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntrySummary>,
    /// Commitments whose index, digest or model name matched.
    pub commitments: Vec<crate::api::CommitmentView>,
    /// Parties whose name or display name matched.
    pub parties: Vec<Party>,
    /// The scan or a result list stopped at its limit.
    pub truncated: bool,
}

/// `GET /v1/browse/summary`.
pub fn summary(s: &AppState) -> Result<Summary, ViewError> {
    let witnessed = s.witnessing.as_ref().and_then(|w| w.witnessed());
    let cp = witnessed.map_or_else(|| s.log.checkpoint(), |w| (*w).clone());
    let size = cp.size();
    let latest_logged_at = match size {
        0 => None,
        n => decode_entries(&s.log, &[n - 1])?
            .pop()
            .and_then(|e| e.logged_at),
    };
    let st = stats(s)?;
    let parties = s.log.registry().parties()?;
    let count = |role| parties.iter().filter(|p| p.role == role).count() as u64;
    Ok(Summary {
        origin: s.log.origin().to_owned(),
        vkey: s.log.key().public().to_string(),
        checkpoint: cp.text,
        size,
        witnessing: s.witnessing.as_ref().map(|w| w.info(&s.log)),
        latest_logged_at,
        now: st.now,
        commitments: st.commitments.clone(),
        audits: st.audits.clone(),
        decision_batches: st.decision_batches,
        parties: PartyCounts {
            platforms: count(crate::core::predicate::Role::Platform),
            auditors: count(crate::core::predicate::Role::Auditor),
        },
        truncated: st.truncated,
    })
}

/// `GET /v1/browse/entries`: up to `limit` (default 20, at most [`MAX_ENTRIES`]) entries
/// before index `before` (default: the log's size), newest first.
pub fn entries(
    s: &AppState,
    before: Option<u64>,
    limit: Option<u64>,
) -> Result<EntryList, ViewError> {
    let limit = limit.unwrap_or(20).clamp(1, MAX_ENTRIES as u64);
    let size = s.log.size();
    let before = before.unwrap_or(size).min(size);
    let indexes: Vec<u64> = (before.saturating_sub(limit)..before).rev().collect();
    let entries = decode_entries(&s.log, &indexes)?;
    Ok(EntryList { size, entries })
}

fn last(v: &[u64], n: usize) -> Vec<u64> {
    v[v.len().saturating_sub(n)..].to_vec()
}

/// `GET /v1/browse/commitments/<i>`.
pub fn commitment(s: &AppState, index: u64) -> Result<CommitmentDetail, ViewError> {
    let c = s
        .log
        .registry()
        .commitment(index)?
        .ok_or(ViewError::NoSuchCommitment(index))?;
    let now = Utc::now();
    let batches = decode_entries(&s.log, &last(&c.decision_batches, MAX_RELATED))?;
    let audits = decode_entries(&s.log, &last(&c.audits, MAX_RELATED))?;
    Ok(CommitmentDetail {
        now,
        status: c.status(now),
        decision_batches_total: c.decision_batches.len(),
        audits_total: c.audits.len(),
        decision_batches: batches,
        audits,
        commitment: c,
    })
}

/// `GET /v1/browse/parties`.
pub fn parties(s: &AppState) -> Result<PartyList, ViewError> {
    let st = stats(s)?;
    let parties = s.log.registry().parties()?;
    Ok(PartyList {
        now: st.now,
        truncated: st.truncated,
        parties: parties
            .into_iter()
            .map(|p| PartyRecord {
                record: st.records.get(&p.name).cloned().unwrap_or_default(),
                party: p,
            })
            .collect(),
    })
}

/// `GET /v1/browse/parties/<name>`.
pub fn party(s: &AppState, name: &str) -> Result<PartyDetail, ViewError> {
    let p = s
        .log
        .registry()
        .party(name)?
        .ok_or_else(|| ViewError::NoSuchParty(name.to_owned()))?;
    let st = stats(s)?;
    let now = st.now;
    let commitments = s
        .log
        .registry()
        .commitments(Some(&p.name), None, None, MAX_LIST, now)?
        .into_iter()
        .map(|c| crate::service::commitments::view(s, c, now))
        .collect();
    let mut audits: Vec<AuditRow> = st
        .audit_rows
        .iter()
        .filter(|a| a.auditor == p.name || a.platform == p.name)
        .cloned()
        .collect();
    audits.drain(..audits.len().saturating_sub(MAX_RELATED));
    Ok(PartyDetail {
        now,
        party: PartyRecord {
            record: st.records.get(&p.name).cloned().unwrap_or_default(),
            party: p,
        },
        commitments,
        audits,
        truncated: st.truncated,
    })
}

/// `GET /v1/browse/search?q=`: an entry index, a model digest prefix, a party or model name.
pub fn search(s: &AppState, query: &str) -> Result<SearchResults, ViewError> {
    let query = query.trim();
    if query.is_empty() || query.len() > 256 {
        return Err(ViewError::BadQuery);
    }
    let now = Utc::now();
    let mut out = SearchResults {
        query: query.to_owned(),
        now,
        entry: None,
        commitments: Vec::new(),
        parties: Vec::new(),
        truncated: false,
    };
    search_index(s, query, &mut out)?;
    search_commitments(s, &query.to_lowercase(), &mut out)?;
    search_parties(s, &query.to_lowercase(), &mut out)?;
    Ok(out)
}

/// The entry and commitment at the index searched for (`12` or `#12`).
fn search_index(s: &AppState, query: &str, out: &mut SearchResults) -> Result<(), ViewError> {
    let index = query.strip_prefix('#').unwrap_or(query);
    if let Ok(i) = index.parse::<u64>() {
        if i < s.log.size() {
            out.entry = decode_entries(&s.log, &[i])?.pop();
        }
        if let Some(c) = s.log.registry().commitment(i)? {
            out.commitments
                .push(crate::service::commitments::view(s, c, out.now));
        }
    }
    Ok(())
}

/// Commitments whose model digest starts with the query (6 to 64 hex digits) or whose model
/// name contains it.
fn search_commitments(s: &AppState, lower: &str, out: &mut SearchResults) -> Result<(), ViewError> {
    let hex = lower.strip_prefix("sha3-256:").unwrap_or(lower);
    let is_hex = hex.len() >= 6 && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let mut matched = Vec::new();
    let already: Vec<u64> = out.commitments.iter().map(|v| v.commitment.index).collect();
    out.truncated = scan(&s.log, None, out.now, |c| {
        if matched.len() > MAX_RESULTS || already.contains(&c.index) {
            return;
        }
        let by_digest = is_hex && c.model_digest.starts_with(hex);
        let by_name = lower.len() >= 2 && c.model.name.to_lowercase().contains(lower);
        if by_digest || by_name {
            matched.push(c);
        }
    })?;
    if matched.len() > MAX_RESULTS {
        out.truncated = true;
        matched.truncate(MAX_RESULTS);
    }
    let now = out.now;
    out.commitments.extend(
        matched
            .into_iter()
            .map(|c| crate::service::commitments::view(s, c, now)),
    );
    Ok(())
}

/// Parties whose name or display name contains the query.
fn search_parties(s: &AppState, lower: &str, out: &mut SearchResults) -> Result<(), ViewError> {
    let mut parties: Vec<Party> = s
        .log
        .registry()
        .parties()?
        .into_iter()
        .filter(|p| {
            p.name.to_lowercase().contains(lower) || p.display_name.to_lowercase().contains(lower)
        })
        .collect();
    if parties.len() > MAX_RESULTS {
        out.truncated = true;
        parties.truncate(MAX_RESULTS);
    }
    out.parties = parties;
    Ok(())
}
