//! `schema/openapi.yaml` describes the HTTP API as built, and its examples are real.
//!
//! - `router_and_spec_have_the_same_routes`: every `.route(...)` of `src/server/mod.rs`'s router,
//!   and of the modules it merges (`browse.rs`, `audits.rs`, `web.rs`, ...), is a path of the
//!   spec with the same methods, and the other way round (a catch-all such as `/tile/{*path}`
//!   or `/assets/{*file}` stands for every spec path under its prefix), so neither can drift.
//! - `signed_examples_are_what_the_fixed_seeds_make`: the signed examples (envelopes, reveal
//!   signatures, vkeys) are exactly what the fixtures below produce from fixed, public seeds,
//!   so anyone can regenerate them (`cargo test --test openapi_examples -- --ignored
//!   --nocapture print_examples` prints them as YAML).
//! - `every_example_gets_the_documented_answer`: the real `embargo serve` runs as a child
//!   process; the request examples of the operations with request bodies are sent in the
//!   order of [`SCENARIO`] and each must get its `x-expected-status`; response examples with an
//!   `x-request` are requested and must get the status they are filed under. Every answer must
//!   be documented (status and media type), JSON answers must match the documented schema (the
//!   entry schemas in `schema/` resolve through relative `$ref`s), error codes must match the
//!   example of the same name, and every proof the log returns must verify.
//!
//! Changing the examples: edit the fixtures, print the request examples with `print_examples`
//! and paste them into the spec. To see the answers the log gives now (to refresh response
//! examples), run with `OPENAPI_CAPTURE=/tmp/answers.json`: every answer is written there by
//! request, and error codes are not compared with the spec's examples for that run.

mod common;

use base64::prelude::{Engine, BASE64_STANDARD};
use common::{keygen, Server, TOKEN};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything the signed examples are made of: fixed keys, statements, the example model.
mod fixtures {
    use base64::prelude::{Engine, BASE64_STANDARD};
    use embargo::core::dsse::Envelope;
    use embargo::core::note::{KeyPair, PublicKey};

    pub const ORIGIN: &str = "transparency.example/embargo";

    /// A signing key from a fixed, public seed: 32 bytes of `byte`. For examples only.
    pub fn private_key_text(name: &str, byte: u8) -> String {
        let seed = [byte; 32];
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        let pk = PublicKey::new(name, sk.verifying_key()).unwrap();
        let mut raw = vec![0x01];
        raw.extend_from_slice(&seed);
        format!(
            "PRIVATE+KEY+{name}+{:08x}+{}",
            pk.id(),
            BASE64_STANDARD.encode(raw)
        )
    }

    pub fn key(name: &str, byte: u8) -> KeyPair {
        KeyPair::from_private_key(&private_key_text(name, byte)).unwrap()
    }

    pub fn platform() -> KeyPair {
        key("social.example", 0x01)
    }
    pub fn platform_rotated() -> KeyPair {
        key("social.example", 0x02)
    }
    pub fn auditor() -> KeyPair {
        key("audits.example", 0x03)
    }
    pub fn writer() -> KeyPair {
        key("writer.example", 0x04)
    }
    pub fn stranger() -> KeyPair {
        key("stranger.example", 0x05)
    }

    pub const CONFIG: &str = "{\"features\":[\"account_age_days\",\"likes_24h\",\"follows_author\"],\"threshold\":0.5}\n";
    pub const WEIGHTS: &str =
        "feature,weight\naccount_age_days,-0.0021\nlikes_24h,0.3117\nfollows_author,1.2040\n";

    pub fn model_stream() -> String {
        format!(
            "embargo-model-stream/v1\n2\n{} config.json\n{} weights.csv\n\n{CONFIG}{WEIGHTS}",
            CONFIG.len(),
            WEIGHTS.len()
        )
    }

    pub fn model_digest() -> String {
        use embargo::model::model_stream::{read_body, Header};
        let s = model_stream();
        let mut r = std::io::Cursor::new(s.into_bytes());
        let h = Header::read_from(&mut r).unwrap();
        read_body(&h, &mut r, |_, _| Ok(()))
            .unwrap()
            .digest()
            .to_hex()
    }

    pub fn sha3(s: &str) -> String {
        use sha3::Digest;
        embargo::core::predicate::hex(&sha3::Sha3_256::digest(s.as_bytes()))
    }
    pub fn sha256(s: &str) -> String {
        use sha2::Digest;
        embargo::core::predicate::hex(&sha2::Sha256::digest(s.as_bytes()))
    }

    pub fn sign(statement: &str, key: &KeyPair) -> Envelope {
        Envelope::sign(statement.as_bytes(), key)
    }

    pub const STATEMENT: &str = "https://in-toto.io/Statement/v1";

    /// A model-commitment statement for the `feed-ranker` model.
    pub fn commitment(
        digest: &str,
        platform: &str,
        version: &str,
        total_size: i64,
        reveal_at: &str,
        supersedes: Option<u64>,
    ) -> String {
        let supersedes = supersedes
            .map(|i| format!(r#","supersedes":{i}"#))
            .unwrap_or_default();
        format!(
            r#"{{"_type":"{STATEMENT}","subject":[{{"name":"feed-ranker","digest":{{"sha3-256":"{digest}"}}}}],"predicateType":"https://embargo.dev/model-commitment/v1","predicate":{{"platform":"{platform}","model":{{"name":"feed-ranker","version":"{version}","format":"directory","total_size":{total_size},"file_count":2}},"reveal_at":"{reveal_at}","purpose":"ranks posts in the home feed"{supersedes}}}}}"#
        )
    }

    pub fn decision_batch(commitment: u64) -> String {
        let root = sha3("decision records of 2026-11-23");
        format!(
            r#"{{"_type":"{STATEMENT}","subject":[{{"name":"batch","digest":{{"sha3-256":"{root}"}}}}],"predicateType":"https://embargo.dev/decision-batch/v1","predicate":{{"platform":"social.example","commitment":{commitment},"window":{{"start":"2026-11-23T00:00:00Z","end":"2026-11-24T00:00:00Z"}},"record_count":1000}}}}"#
        )
    }

    pub fn audit_report(auditor: &str, commitment: u64, digest: &str) -> String {
        let suite = sha256("suite: feed-ranker exposure and parity checks");
        let data = sha256("dataset: 2026-11 held-out feed sample");
        let report = sha256("report: feed-ranker 2026.11");
        format!(
            r#"{{"_type":"{STATEMENT}","subject":[{{"name":"feed-ranker","digest":{{"sha3-256":"{digest}"}}}}],"predicateType":"https://embargo.dev/audit-report/v1","predicate":{{"auditor":"{auditor}","commitment":{commitment},"suite_digest":"sha256:{suite}","dataset_digest":"sha256:{data}","verdict":"pass","metrics":{{"demographic_parity_ratio":0.91,"equal_opportunity_difference":0.03}},"report_digest":"sha256:{report}"}}}}"#
        )
    }

    pub fn model_card() -> String {
        let d = model_digest();
        format!(
            r#"{{"_type":"{STATEMENT}","subject":[{{"name":"feed-ranker","digest":{{"sha3-256":"{d}"}}}}],"predicateType":"https://example.org/model-card/v1","predicate":{{"intended_use":"ranking posts in a social feed","limitations":"trained on interactions from 2026 only"}}}}"#
        )
    }

    pub fn registration_attempt() -> String {
        let d = sha256("social.example");
        let k1 = platform().public().to_string();
        let k5 = stranger().public().to_string();
        format!(
            r#"{{"_type":"{STATEMENT}","subject":[{{"name":"social.example","digest":{{"sha256":"{d}"}}}}],"predicateType":"https://embargo.dev/registration/v1","predicate":{{"name":"social.example","display_name":"Social Example","role":"platform","keys":["{k1}","{k5}"]}}}}"#
        )
    }

    pub fn next_digest() -> String {
        sha3("feed-ranker 2027.01 (stand-in digest)")
    }
    pub fn third_digest() -> String {
        sha3("feed-ranker 2027.02 (stand-in digest)")
    }

    pub fn model_size() -> i64 {
        (CONFIG.len() + WEIGHTS.len()) as i64
    }

    /// The index each accepted example lands at, in the scenario's order.
    pub const COMMITMENT: u64 = 2;
    pub const SUPERSEDING: u64 = 7;

    /// An example request body for `POST /v1/entries`.
    pub struct EntryExample {
        pub name: &'static str,
        pub status: u16,
        pub summary: &'static str,
        /// The decoded statement, when the payload is one.
        pub statement: Option<String>,
        /// The request body, as JSON text (field order as sent).
        pub body: String,
    }

    fn envelope_json(e: &Envelope) -> String {
        e.to_canonical_json()
    }

    pub fn entry_examples() -> Vec<EntryExample> {
        let d = model_digest();
        let k1 = platform();
        let commit = commitment(
            &d,
            "social.example",
            "2026.11",
            model_size(),
            "2030-01-01T00:00:00Z",
            None,
        );
        let commit_env = sign(&commit, &k1);
        let superseding = commitment(
            &next_digest(),
            "social.example",
            "2027.01",
            1_048_576,
            "2031-01-01T00:00:00Z",
            Some(COMMITMENT),
        );
        let again = commitment(
            &third_digest(),
            "social.example",
            "2027.02",
            1_048_576,
            "2031-06-01T00:00:00Z",
            Some(COMMITMENT),
        );
        let rotated = commitment(
            &third_digest(),
            "social.example",
            "2027.02",
            1_048_576,
            "2031-06-01T00:00:00Z",
            None,
        );
        let negative = commitment(
            &d,
            "social.example",
            "2026.11",
            -1,
            "2030-01-01T00:00:00Z",
            None,
        );
        let other_party = commitment(
            &d,
            "other.example",
            "2026.11",
            model_size(),
            "2030-01-01T00:00:00Z",
            None,
        );
        let past = commitment(
            &d,
            "social.example",
            "2026.10",
            model_size(),
            "2020-01-01T00:00:00Z",
            None,
        );
        let altered = commitment(
            &d,
            "social.example",
            "2026.12",
            model_size(),
            "2030-01-01T00:00:00Z",
            None,
        );
        let not_statement = r#"{"hello":"world"}"#.to_owned();

        let mut bad_signature = commit_env.clone();
        bad_signature.payload = BASE64_STANDARD.encode(altered.as_bytes());
        let mut no_signatures = commit_env.clone();
        no_signatures.signatures.clear();
        let mut bad_type = commit_env.clone();
        bad_type.payload_type = "application/json".into();

        let e = |name, status, summary, statement: Option<&String>, body: String| EntryExample {
            name,
            status,
            summary,
            statement: statement.cloned(),
            body,
        };
        vec![
            e("modelCommitment", 201, "A platform commits to a model (accepted: 201, entry 2 in the test scenario)", Some(&commit), envelope_json(&commit_env)),
            e("decisionBatch", 201, "A batch of ranking decisions made by commitment 2 (accepted: 201)", Some(&decision_batch(COMMITMENT)), envelope_json(&sign(&decision_batch(COMMITMENT), &k1))),
            e("auditReport", 201, "An auditor's report on the revealed model of commitment 2 (accepted: 201)", Some(&audit_report("audits.example", COMMITMENT, &d)), envelope_json(&sign(&audit_report("audits.example", COMMITMENT, &d), &auditor()))),
            e("thirdPartyStatement", 201, "A statement of another kind, by a key the log was started with (--allow-key): accepted, 201", Some(&model_card()), envelope_json(&sign(&model_card(), &writer()))),
            e("supersedingCommitment", 201, "A new model version that supersedes commitment 2 (accepted: 201, entry 7 in the test scenario)", Some(&superseding), envelope_json(&sign(&superseding, &k1))),
            e("duplicate", 200, "The same envelope again: 200 with the original index and duplicate: true", Some(&commit), envelope_json(&commit_env)),
            e("badJson", 400, "Not a DSSE envelope (no signatures field): 400 bad_json", None, r#"{"payloadType":"application/vnd.in-toto+json","payload":"e30="}"#.to_owned()),
            e("badBase64", 400, "The payload is not standard base64: 400 bad_base64", None, format!(r#"{{"payloadType":"application/vnd.in-toto+json","payload":"not base64!","signatures":[{{"keyid":"{}","sig":"AAAA"}}]}}"#, k1.public().key_ref())),
            e("badPayloadType", 415, "A payload type other than application/vnd.in-toto+json: 415 bad_payload_type", Some(&commit), envelope_json(&bad_type)),
            e("badStatement", 400, "The payload is JSON but not an in-toto Statement: 400 bad_statement", Some(&not_statement), envelope_json(&sign(&not_statement, &k1))),
            e("schemaViolation", 400, "A commitment that breaks its JSON Schema (negative total_size): 400 bad_statement", Some(&negative), envelope_json(&sign(&negative, &k1))),
            e("badSignatures", 400, "An Embargo statement without exactly one signature: 400 bad_signatures", Some(&commit), envelope_json(&no_signatures)),
            e("unknownKey", 403, "Signed by a key no party has: 403 unknown_key", Some(&commit), envelope_json(&sign(&commit, &stranger()))),
            e("unknownWriter", 403, "Another kind of statement, signed by a key not passed to --allow-key: 403 unknown_key", Some(&model_card()), envelope_json(&sign(&model_card(), &stranger()))),
            e("badSignature", 403, "The payload was altered after signing: 403 bad_signature", Some(&altered), envelope_json(&bad_signature)),
            e("logOnly", 403, "A registration submitted by a platform (the log writes those itself): 403 log_only", Some(&registration_attempt()), envelope_json(&sign(&registration_attempt(), &k1))),
            e("wrongParty", 403, "A platform's key signing a commitment for another platform: 403 wrong_party", Some(&other_party), envelope_json(&sign(&other_party, &k1))),
            e("wrongRole", 403, "A platform signing an audit report: 403 wrong_role", Some(&audit_report("social.example", COMMITMENT, &d)), envelope_json(&sign(&audit_report("social.example", COMMITMENT, &d), &k1))),
            e("embargoPolicy", 422, "A reveal_at in the past (outside the log's embargo policy): 422 embargo_policy", Some(&past), envelope_json(&sign(&past, &k1))),
            e("noSuchCommitment", 422, "A decision batch for an entry that is not a model commitment: 422 no_such_commitment", Some(&decision_batch(999_999)), envelope_json(&sign(&decision_batch(999_999), &k1))),
            e("notRevealed", 422, "An audit of commitment 7, which is still sealed: 422 not_revealed", Some(&audit_report("audits.example", SUPERSEDING, &next_digest())), envelope_json(&sign(&audit_report("audits.example", SUPERSEDING, &next_digest()), &auditor()))),
            e("digestMismatch", 422, "An audit whose subject is not the revealed model's digest: 422 digest_mismatch", Some(&audit_report("audits.example", COMMITMENT, &next_digest())), envelope_json(&sign(&audit_report("audits.example", COMMITMENT, &next_digest()), &auditor()))),
            e("alreadySuperseded", 409, "A second commitment superseding commitment 2: 409 already_superseded", Some(&again), envelope_json(&sign(&again, &k1))),
            e("revokedKey", 403, "Signed by the platform's key revoked at entry 9: 403 revoked_key", Some(&rotated), envelope_json(&sign(&rotated, &platform_rotated()))),
        ]
    }

    /// The message a platform signs to reveal commitment `index` before its reveal_at.
    pub fn reveal_signature(key: &KeyPair, index: u64) -> String {
        let msg = embargo::log::registry::reveal_request_message(ORIGIN, index, &model_digest());
        format!(
            "{} {}",
            key.public().key_ref(),
            BASE64_STANDARD.encode(key.sign(&msg))
        )
    }

    /// `Embargo-Signature` header examples: (name, summary, value).
    pub fn signature_examples() -> Vec<(&'static str, &'static str, String)> {
        vec![
            (
                "platform",
                "social.example's key signs the reveal of commitment 2",
                reveal_signature(&platform(), COMMITMENT),
            ),
            (
                "otherParty",
                "a key of audits.example, which did not make commitment 2",
                reveal_signature(&auditor(), COMMITMENT),
            ),
            (
                "wrongMessage",
                "social.example's key, but signed over the message for commitment 3",
                reveal_signature(&platform(), 3),
            ),
        ]
    }

    /// A request body example of the reveal upload: (name, status, summary, the
    /// `Embargo-Signature` example it is sent with, x-path, body).
    pub type RevealExample = (
        &'static str,
        u16,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        String,
    );

    pub fn reveal_examples() -> Vec<RevealExample> {
        let good = model_stream();
        let n1 = CONFIG.len();
        let n2 = WEIGHTS.len();
        let header = |a: usize, b: usize| {
            format!("embargo-model-stream/v1\n2\n{a} config.json\n{b} weights.csv\n\n")
        };
        let bigger = format!("{}{CONFIG}{WEIGHTS}x", header(n1, n2 + 1));
        let smaller = format!("{}{CONFIG}{}", header(n1, n2 - 1), &WEIGHTS[..n2 - 1]);
        let truncated = format!("{}{CONFIG}{}", header(n1, n2), &WEIGHTS[..20]);
        let tampered = good.replace("follows_author,1.2040", "follows_author,9.2040");
        vec![
            ("noSuchCommitment", 404, "Entry 999 is not a model commitment: 404 no_such_commitment", None, Some("/v1/commitments/999/reveal"), good.clone()),
            ("sealed", 403, "An unsigned reveal before reveal_at: 403 sealed", None, None, good.clone()),
            ("otherParty", 403, "Signed by a key of another party: 403 bad_reveal_signature", Some("otherParty"), None, good.clone()),
            ("wrongMessage", 403, "A signature over another commitment's reveal message: 403 bad_reveal_signature", Some("wrongMessage"), None, good.clone()),
            ("badStream", 400, "Not a model stream: 400 bad_stream", Some("platform"), None, "PK\u{3}\u{4} this is a zip file, not a model stream\n".to_owned()),
            ("tooLarge", 413, "A stream declaring more bytes than committed: 413 too_large", Some("platform"), None, bigger),
            ("tooSmall", 422, "A stream declaring fewer bytes than committed: 422 too_small", Some("platform"), None, smaller),
            ("truncated", 400, "The upload ends before the declared sizes: 400 too_small", Some("platform"), None, truncated),
            ("digestMismatch", 422, "The committed sizes, other bytes: 422 digest_mismatch", Some("platform"), None, tampered),
            ("reveal", 201, "The committed model, signed by its platform before reveal_at: 201 with the reveal entry (entry 4)", Some("platform"), None, good.clone()),
            ("alreadyRevealed", 409, "The same upload again: 409 already_revealed", Some("platform"), None, good),
        ]
    }

    /// (name, status, summary, body) of `POST /v1/admin/parties`.
    pub fn party_examples() -> Vec<(&'static str, u16, &'static str, String)> {
        let k1 = platform().public().to_string();
        let k3 = auditor().public().to_string();
        let k5 = stranger().public().to_string();
        let k2 = platform_rotated().public().to_string();
        let platform = format!(
            r#"{{"name":"social.example","role":"platform","display_name":"Social Example","keys":["{k1}"],"contact":"transparency@social.example"}}"#
        );
        vec![
            (
                "platform",
                201,
                "Register a platform (entry 0 in the test scenario)",
                platform.clone(),
            ),
            (
                "auditor",
                201,
                "Register an auditor (entry 1)",
                format!(
                    r#"{{"name":"audits.example","role":"auditor","display_name":"Audits Example","keys":["{k3}"],"contact":"audits@audits.example"}}"#
                ),
            ),
            (
                "alreadyRegistered",
                409,
                "The same name again: 409 already_registered",
                platform,
            ),
            (
                "keyInUse",
                409,
                "A key that belongs to another party: 409 key_in_use",
                format!(r#"{{"name":"copycat.example","role":"platform","keys":["{k1}"]}}"#),
            ),
            (
                "noKeys",
                400,
                "No keys: 400 no_keys",
                r#"{"name":"empty.example","role":"platform","keys":[]}"#.to_owned(),
            ),
            (
                "badName",
                400,
                "A name with a space: 400 bad_name",
                format!(r#"{{"name":"has space","role":"platform","keys":["{k5}"]}}"#),
            ),
            (
                "badJson",
                400,
                "An unknown role: 400 bad_json",
                format!(r#"{{"name":"mod.example","role":"moderator","keys":["{k5}"]}}"#),
            ),
            (
                "badRegistration",
                400,
                "A key name the registration schema refuses (it must start with a letter or digit): 400 bad_registration",
                format!(r#"{{"name":"_private.example","role":"platform","keys":["{k5}"]}}"#),
            ),
            (
                "revokedKey",
                422,
                "A key revoked from another party (after entry 9): 422 revoked_key",
                format!(r#"{{"name":"reuse.example","role":"platform","keys":["{k2}"]}}"#),
            ),
        ]
    }

    /// (name, status, summary, x-path, body) of `POST /v1/admin/parties/{name}/keys`.
    pub fn key_change_examples() -> Vec<(
        &'static str,
        u16,
        &'static str,
        Option<&'static str>,
        serde_json::Value,
    )> {
        let k1 = platform().public().to_string();
        let k2 = platform_rotated().public().to_string();
        let k3 = auditor().public().to_string();
        vec![
            (
                "addCurrentKey",
                200,
                "Add a key the party already has: the registration this makes is entry 0's, so 200 with index 0 and duplicate: true",
                None,
                serde_json::json!({"add": [k1]}),
            ),
            (
                "addKey",
                201,
                "Add a second key to social.example (entry 8)",
                None,
                serde_json::json!({"add": [k2]}),
            ),
            (
                "revokeKey",
                201,
                "Revoke it (entry 9); it can never come back",
                None,
                serde_json::json!({"revoke": [k2]}),
            ),
            (
                "notACurrentKey",
                422,
                "Revoke a key the party does not have now: 422 not_a_current_key",
                None,
                serde_json::json!({"revoke": [k2]}),
            ),
            (
                "revokedKeyBack",
                422,
                "Add a revoked key again: 422 revoked_key",
                None,
                serde_json::json!({"add": [k2]}),
            ),
            (
                "keyInUse",
                409,
                "Add another party's key: 409 key_in_use",
                None,
                serde_json::json!({"add": [k3]}),
            ),
            (
                "noChange",
                400,
                "Nothing to add or revoke: 400 no_change",
                None,
                serde_json::json!({}),
            ),
            (
                "noSuchParty",
                404,
                "A party that is not registered: 404 no_such_party",
                Some("/v1/admin/parties/nobody.example/keys"),
                serde_json::json!({"add": [k2]}),
            ),
            (
                "badJson",
                400,
                "Not a verifier key: 400 bad_json",
                None,
                serde_json::json!({"add": ["social.example+00000000+AAAA"]}),
            ),
        ]
    }
}

/// YAML for compact JSON text: flow style (JSON is YAML), pretty-printed in the text's own
/// field order, continuation lines indented by `indent`.
fn yaml_json(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut depth = indent;
    let (mut in_str, mut escaped) = (false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&" ".repeat(depth));
    };
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                if matches!(chars.get(i + 1), Some('}') | Some(']')) {
                    continue;
                }
                depth += 2;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                if !matches!(chars.get(i.wrapping_sub(1)), Some('{') | Some('[')) {
                    depth -= 2;
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c => out.push(c),
        }
    }
    out
}

/// YAML for a string: a literal block when that round-trips exactly, else JSON quoting.
fn yaml_str(s: &str, indent: usize) -> String {
    let plain = s.ends_with('\n')
        && !s.ends_with("\n\n")
        && s.chars().all(|c| c == '\n' || !c.is_control())
        && !s.lines().any(|l| l.ends_with(' ') || l.starts_with(' '));
    if plain {
        let pad = " ".repeat(indent);
        let mut out = String::from("|");
        for l in s.lines() {
            out.push('\n');
            if !l.is_empty() {
                out.push_str(&pad);
                out.push_str(l);
            }
        }
        out
    } else {
        serde_json::to_string(s).unwrap()
    }
}

#[test]
#[ignore]
fn print_examples() {
    use fixtures::*;
    for (n, k) in [
        ("platform", platform()),
        ("platform_rotated", platform_rotated()),
        ("auditor", auditor()),
        ("writer", writer()),
        ("stranger", stranger()),
    ] {
        println!("# {n}: {} {}", k.to_private_key(), k.public());
    }
    println!("# digest {}", model_digest());
    println!("# ---- entries (indent 14)");
    for e in entry_examples() {
        println!("              {}:", e.name);
        println!(
            "                summary: {}",
            serde_json::to_string(e.summary).unwrap()
        );
        println!("                x-expected-status: {}", e.status);
        if let Some(st) = &e.statement {
            println!("                x-payload: {}", yaml_json(st, 18));
        }
        println!("                value: {}", yaml_json(&e.body, 18));
    }
    println!("# ---- signatures (indent 12)");
    for (n, summary, v) in signature_examples() {
        println!("            {n}:");
        println!(
            "              summary: {}",
            serde_json::to_string(summary).unwrap()
        );
        println!(
            "              value: {}",
            serde_json::to_string(&v).unwrap()
        );
    }
    println!("# ---- reveal (indent 14)");
    for (n, status, summary, sig, path, body) in reveal_examples() {
        println!("              {n}:");
        println!(
            "                summary: {}",
            serde_json::to_string(summary).unwrap()
        );
        println!("                x-expected-status: {status}");
        if let Some(sig) = sig {
            println!("                x-embargo-signature: {sig}");
        }
        if let Some(p) = path {
            println!("                x-path: {p}");
        }
        println!("                value: {}", yaml_str(&body, 18));
    }
    println!("# ---- parties (indent 14)");
    for (n, status, summary, body) in party_examples() {
        println!("              {n}:");
        println!(
            "                summary: {}",
            serde_json::to_string(summary).unwrap()
        );
        println!("                x-expected-status: {status}");
        println!("                value: {}", yaml_json(&body, 18));
    }
    println!("# ---- keys (indent 14)");
    for (n, status, summary, path, body) in key_change_examples() {
        println!("              {n}:");
        println!(
            "                summary: {}",
            serde_json::to_string(summary).unwrap()
        );
        println!("                x-expected-status: {status}");
        if let Some(p) = path {
            println!("                x-path: {p}");
        }
        println!(
            "                value: {}",
            yaml_json(&body.to_string(), 18)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The spec
// ---------------------------------------------------------------------------------------------

/// The base URI the spec's relative `$ref`s resolve against (the entry schemas' `$id`s).
const SPEC_BASE: &str = "https://embargo.dev/schema/openapi.yaml";
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_spec() -> Value {
    let path = crate_dir().join("schema/openapi.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let spec: Value = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    assert_eq!(spec["openapi"], "3.1.0", "the spec must be OpenAPI 3.1");
    spec
}

/// Follows a local `$ref` (`#/components/...`) if `v` is one.
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) if r.starts_with("#/") => {
            let target = spec
                .pointer(&r[1..])
                .unwrap_or_else(|| panic!("dangling $ref {r}"));
            resolve(spec, target)
        }
        _ => v,
    }
}

/// An operation of the spec.
struct Op<'a> {
    id: String,
    path: String,
    method: String,
    op: &'a Value,
}

fn operations(spec: &Value) -> Vec<Op<'_>> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                out.push(Op {
                    id: op["operationId"].as_str().unwrap_or("").to_owned(),
                    path: path.clone(),
                    method: m.to_owned(),
                    op,
                });
            }
        }
    }
    out
}

fn find_op<'a>(spec: &'a Value, id: &str) -> Op<'a> {
    operations(spec)
        .into_iter()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no operation {id} in the spec"))
}

/// The request body's (only) media type and its examples.
fn request_examples<'a>(op: &Op<'a>) -> (String, &'a serde_json::Map<String, Value>) {
    let content = op.op["requestBody"]["content"]
        .as_object()
        .unwrap_or_else(|| panic!("{} has no request body", op.id));
    assert_eq!(content.len(), 1, "{}: one request media type", op.id);
    let (mt, media) = content.iter().next().unwrap();
    let examples = media["examples"]
        .as_object()
        .unwrap_or_else(|| panic!("{}: request examples", op.id));
    (mt.clone(), examples)
}

/// Resolves JSON Schema `$ref`s to the schema files beside the spec.
struct SchemaFiles;

impl jsonschema::Retrieve for SchemaFiles {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri
            .as_str()
            .strip_prefix("https://embargo.dev/schema/")
            .ok_or_else(|| format!("unexpected schema reference {}", uri.as_str()))?;
        let text = std::fs::read_to_string(crate_dir().join("schema").join(name))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// Validates JSON against schemas of the spec (which may `$ref` the spec's components and the
/// entry schemas).
struct Validators<'a> {
    spec: &'a Value,
    cache: HashMap<String, jsonschema::Validator>,
}

impl<'a> Validators<'a> {
    fn new(spec: &'a Value) -> Self {
        Validators {
            spec,
            cache: HashMap::new(),
        }
    }

    /// Checks `instance` against `schema` (a schema object found in the spec).
    fn check(&mut self, schema: &Value, instance: &Value, what: &str) {
        let key = schema.to_string();
        let spec = self.spec;
        let validator = self.cache.entry(key).or_insert_with(|| {
            // The spec as the root resource, so `#/components/...` resolves, with the schema
            // to check as its only assertion.
            let mut root = spec.clone();
            root["$id"] = Value::from(SPEC_BASE);
            root["allOf"] = Value::Array(vec![schema.clone()]);
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .with_retriever(SchemaFiles)
                .build(&root)
                .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}"))
        });
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .take(5)
            .map(|e| format!("at {}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} does not match its schema in the spec:\n{}\n{}",
            errors.join("\n"),
            serde_json::to_string_pretty(instance).unwrap()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Router and spec agree
// ---------------------------------------------------------------------------------------------

/// `(path, methods)` of every route the router serves, from `embargo::server::routes()` (the
/// table the router itself is built from), methods in lower case as the spec writes them.
fn router_routes() -> Vec<(String, BTreeSet<String>)> {
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    for (method, path) in embargo::server::routes() {
        let method = method.as_str().to_ascii_lowercase();
        assert!(
            METHODS.contains(&method.as_str()),
            "route {path}: method {method} is not one the spec can describe"
        );
        match out.iter_mut().find(|(p, _)| p == path) {
            Some((_, methods)) => {
                assert!(
                    methods.insert(method.clone()),
                    "route {method} {path} is declared twice"
                )
            }
            None => out.push((path.to_owned(), BTreeSet::from([method]))),
        }
    }
    assert!(
        out.len() > 5,
        "found only {} routes in the router",
        out.len()
    );
    out
}

#[test]
fn router_and_spec_have_the_same_routes() {
    let spec = load_spec();
    let mut spec_paths: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for op in operations(&spec) {
        spec_paths.entry(op.path).or_default().insert(op.method);
    }
    let routes = router_routes();
    let mut covered = BTreeSet::new();
    for (path, methods) in &routes {
        if let Some(i) = path.find("{*") {
            // A catch-all: it stands for every spec path under its prefix.
            let prefix = &path[..i];
            let under: Vec<_> = spec_paths
                .iter()
                .filter(|(p, _)| p.starts_with(prefix))
                .collect();
            assert!(
                !under.is_empty(),
                "the router's {path} is not described: the spec has no path under {prefix}"
            );
            for (p, m) in under {
                assert_eq!(
                    m, methods,
                    "spec path {p} (under the router's {path}): methods"
                );
                covered.insert(p.clone());
            }
        } else {
            let m = spec_paths.get(path).unwrap_or_else(|| {
                panic!("the router's {path} is missing from schema/openapi.yaml")
            });
            assert_eq!(
                m, methods,
                "{path}: the spec's methods are not the router's"
            );
            covered.insert(path.clone());
        }
    }
    for p in spec_paths.keys() {
        assert!(
            covered.contains(p),
            "schema/openapi.yaml describes {p}, which the router does not serve"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The signed examples are reproducible
// ---------------------------------------------------------------------------------------------

fn example<'a>(examples: &'a serde_json::Map<String, Value>, name: &str, op: &str) -> &'a Value {
    examples
        .get(name)
        .unwrap_or_else(|| panic!("{op}: no request example {name:?} in the spec"))
}

#[test]
fn signed_examples_are_what_the_fixed_seeds_make() {
    let spec = load_spec();
    let parse = |s: &str| -> Value { serde_json::from_str(s).unwrap() };

    let submit = find_op(&spec, "submitEntry");
    let (_, ex) = request_examples(&submit);
    let made = fixtures::entry_examples();
    assert_eq!(
        ex.keys().collect::<BTreeSet<_>>(),
        made.iter()
            .map(|e| e.name.to_owned())
            .collect::<BTreeSet<_>>()
            .iter()
            .collect(),
        "submitEntry: the spec's examples are not the fixtures' (regenerate with print_examples)"
    );
    for e in &made {
        let x = example(ex, e.name, "submitEntry");
        assert_eq!(
            x["value"],
            parse(&e.body),
            "submitEntry example {}: value",
            e.name
        );
        assert_eq!(
            x["x-expected-status"], e.status,
            "submitEntry example {}",
            e.name
        );
        match &e.statement {
            Some(st) => assert_eq!(x["x-payload"], parse(st), "{}: x-payload", e.name),
            None => assert!(x.get("x-payload").is_none(), "{}: x-payload", e.name),
        }
    }

    let reveal = find_op(&spec, "revealModel");
    let (_, ex) = request_examples(&reveal);
    let made = fixtures::reveal_examples();
    assert_eq!(ex.len(), made.len(), "revealModel: number of examples");
    for (name, status, _, sig, path, body) in &made {
        let x = example(ex, name, "revealModel");
        assert_eq!(
            x["value"],
            Value::from(body.as_str()),
            "revealModel example {name}"
        );
        assert_eq!(
            x["x-expected-status"], *status,
            "revealModel example {name}"
        );
        assert_eq!(
            x.get("x-embargo-signature").and_then(Value::as_str),
            *sig,
            "{name}"
        );
        assert_eq!(x.get("x-path").and_then(Value::as_str), *path, "{name}");
    }
    let header = reveal.op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Embargo-Signature")
        .expect("the Embargo-Signature header parameter");
    for (name, _, value) in fixtures::signature_examples() {
        assert_eq!(
            header["examples"][name]["value"], value,
            "signature example {name}"
        );
    }

    let add = find_op(&spec, "addParty");
    let (_, ex) = request_examples(&add);
    let made = fixtures::party_examples();
    assert_eq!(ex.len(), made.len(), "addParty: number of examples");
    for (name, status, _, body) in &made {
        let x = example(ex, name, "addParty");
        assert_eq!(x["value"], parse(body), "addParty example {name}");
        assert_eq!(x["x-expected-status"], *status, "addParty example {name}");
    }

    let keys = find_op(&spec, "changePartyKeys");
    let (_, ex) = request_examples(&keys);
    let made = fixtures::key_change_examples();
    assert_eq!(ex.len(), made.len(), "changePartyKeys: number of examples");
    for (name, status, _, path, body) in &made {
        let x = example(ex, name, "changePartyKeys");
        assert_eq!(&x["value"], body, "changePartyKeys example {name}");
        assert_eq!(
            x["x-expected-status"], *status,
            "changePartyKeys example {name}"
        );
        assert_eq!(x.get("x-path").and_then(Value::as_str), *path, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// The real server
// ---------------------------------------------------------------------------------------------

/// A fresh log in `dir`, set up as the spec's introduction says.
fn start(dir: &Path) -> Server {
    keygen(dir, fixtures::ORIGIN, "log.key");
    Server::with_flags(
        &dir.join("data"),
        &dir.join("log.key"),
        &[
            "--min-embargo",
            "1s",
            "--max-embargo",
            "36500d",
            "--interval",
            "20ms",
            "--allow-key",
            &fixtures::writer().public().to_string(),
        ],
    )
}

/// An answer, read whole.
struct Answer {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the answer is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<(String, Vec<u8>)>,
) -> Answer {
    let url = format!("{base}{path}");
    let mut req = http.request(method.to_uppercase().parse().unwrap(), &url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    if let Some((content_type, bytes)) = body {
        req = req
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.bytes().await.unwrap().to_vec();
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

/// Fills `{param}`s of an operation's path with its parameters' examples.
fn example_path(spec: &Value, op: &Op) -> String {
    let mut path = op.path.clone();
    for p in op.op["parameters"].as_array().into_iter().flatten() {
        let p = resolve(spec, p);
        if p["in"] == "path" {
            let name = p["name"].as_str().unwrap();
            let v = &p["example"];
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            path = path.replace(&format!("{{{name}}}"), &v);
        }
    }
    assert!(
        !path.contains('{'),
        "{}: a path parameter without an example",
        op.id
    );
    path
}

/// What the tests learn while they run.
struct Run<'a> {
    spec: &'a Value,
    validators: Validators<'a>,
    log_key: Option<embargo::core::note::PublicKey>,
    /// Answers by request, written to $OPENAPI_CAPTURE if set (to refresh response examples;
    /// error codes are then not compared with the examples').
    capture: BTreeMap<String, Value>,
    capturing: bool,
}

impl Run<'_> {
    /// Checks that `answer` is documented for `op` and matches what is documented. `name` is the
    /// example the request came from, whose same-named response example (if any) must agree.
    fn check(&mut self, op: &Op, answer: &Answer, name: &str, what: &str) {
        let spec = self.spec;
        let status = answer.status.to_string();
        let body_text = String::from_utf8_lossy(&answer.body).into_owned();
        let resp = op.op["responses"].get(&status).unwrap_or_else(|| {
            panic!(
                "{what}: answered {status}, which {} does not document: {body_text}",
                op.id
            )
        });
        let resp = resolve(spec, resp);
        for (h, def) in resp["headers"].as_object().into_iter().flatten() {
            let def = resolve(spec, def);
            let got = answer
                .headers
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{what}: no {h} header, which the spec documents"));
            if let Some(c) = def["schema"].get("const") {
                let c = c
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| c.to_string());
                assert_eq!(got, c, "{what}: header {h}");
            }
        }
        let content = resp["content"].as_object();
        if answer.body.is_empty() && content.is_none() {
            return;
        }
        let media = content
            .and_then(|c| c.get(&answer.content_type))
            .unwrap_or_else(|| {
                panic!(
                    "{what}: {status} answered as {:?}, which the spec does not document for it ({:?}): {body_text}",
                    answer.content_type,
                    content.map(|c| c.keys().collect::<Vec<_>>())
                )
            });
        let same_name = media["examples"].get(name).map(|x| resolve(spec, x));
        if answer.content_type == "application/json" {
            let body = answer.json();
            self.validators.check(&media["schema"], &body, what);
            if let (Some(x), Some(code), false) = (same_name, body.get("error"), self.capturing) {
                assert_eq!(
                    &x["value"]["error"], code,
                    "{what}: the error code is not the one in the spec's example {name}: {body_text}"
                );
            }
            if answer.status < 300 && body.get("tlog_proof").is_some() {
                self.verify_proof(&body, what);
            }
        } else if answer.content_type == embargo::model::model_stream::CONTENT_TYPE {
            if let Some(v) = same_name.and_then(|x| x["value"].as_str()) {
                assert_eq!(body_text, v, "{what}: the model is not the example's bytes");
            }
        }
    }

    /// Verifies a SubmitResponse's proof against the log's key.
    fn verify_proof(&self, body: &Value, what: &str) {
        let key = self.log_key.as_ref().expect("the log's key is known");
        let proof = embargo::core::proof::TlogProof::parse(body["tlog_proof"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{what}: the tlog_proof does not parse: {e}"));
        proof
            .verify(key, body["entry"].as_str().unwrap().as_bytes())
            .unwrap_or_else(|e| panic!("{what}: the tlog_proof does not verify: {e}"));
        assert_eq!(
            Some(proof.index),
            body["index"].as_u64(),
            "{what}: proof index"
        );
    }

    fn record(&mut self, key: String, answer: &Answer) {
        let body = Value::from(String::from_utf8_lossy(&answer.body).into_owned());
        self.capture.insert(
            key,
            serde_json::json!({"status": answer.status, "content_type": answer.content_type, "body": body}),
        );
    }
}

/// The order the request examples are sent in, by operation and example name. Entries the
/// accepted examples append: 0 platform, 1 auditor, 2 commitment, 3 decision batch, 4 reveal,
/// 5 audit report, 6 third-party statement, 7 superseding commitment, 8 and 9 key changes.
const SCENARIO: &[(&str, &[&str])] = &[
    (
        "addParty",
        &[
            "platform",
            "auditor",
            "alreadyRegistered",
            "keyInUse",
            "noKeys",
            "badName",
            "badJson",
            "badRegistration",
        ],
    ),
    ("submitEntry", &["modelCommitment", "decisionBatch"]),
    (
        "revealModel",
        &[
            "noSuchCommitment",
            "sealed",
            "otherParty",
            "wrongMessage",
            "badStream",
            "tooLarge",
            "tooSmall",
            "truncated",
            "digestMismatch",
            "reveal",
            "alreadyRevealed",
        ],
    ),
    (
        "submitEntry",
        &[
            "auditReport",
            "thirdPartyStatement",
            "supersedingCommitment",
            "duplicate",
            "badJson",
            "badBase64",
            "badPayloadType",
            "badStatement",
            "schemaViolation",
            "badSignatures",
            "unknownKey",
            "unknownWriter",
            "badSignature",
            "logOnly",
            "wrongParty",
            "wrongRole",
            "embargoPolicy",
            "noSuchCommitment",
            "notRevealed",
            "digestMismatch",
            "alreadySuperseded",
        ],
    ),
    ("putAuditReport", &["digestMismatch", "noSuchAudit"]),
    ("depositEscrow", &["noEscrow", "noSuchCommitment"]),
    ("postEscrowShare", &["noEscrow"]),
    (
        "postBeacon",
        &["noEscrowForRound", "wrongRound", "unknownBeacon", "badHex"],
    ),
    (
        "changePartyKeys",
        &[
            "addCurrentKey",
            "addKey",
            "revokeKey",
            "notACurrentKey",
            "revokedKeyBack",
            "keyInUse",
            "noChange",
            "noSuchParty",
            "badJson",
        ],
    ),
    ("submitEntry", &["revokedKey"]),
    ("addParty", &["revokedKey"]),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_gets_the_documented_answer() {
    let spec = load_spec();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path());
    let base = server.url.clone();
    let mut run = Run {
        spec: &spec,
        validators: Validators::new(&spec),
        log_key: None,
        capture: BTreeMap::new(),
        capturing: std::env::var_os("OPENAPI_CAPTURE").is_some(),
    };
    let info = send(&http, &base, "get", "/v1/log", &[], None).await.json();
    run.log_key = Some(info["vkey"].as_str().unwrap().parse().unwrap());
    assert_eq!(info["origin"], fixtures::ORIGIN);

    // Request examples, in the scenario's order.
    let mut sent: BTreeSet<(String, String)> = BTreeSet::new();
    for (op_id, names) in SCENARIO {
        let op = find_op(&spec, op_id);
        let (media_type, examples) = request_examples(&op);
        let default_path = example_path(&spec, &op);
        for name in *names {
            let x = example(examples, name, op_id);
            assert!(
                sent.insert((op_id.to_string(), name.to_string())),
                "{op_id}/{name} is in the scenario twice"
            );
            let what = format!("{op_id} example {name}");
            let path = x
                .get("x-path")
                .and_then(Value::as_str)
                .unwrap_or(&default_path);
            let mut headers = Vec::new();
            if op.op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                headers.push(("authorization", format!("Bearer {TOKEN}")));
            }
            if let Some(sig) = x.get("x-embargo-signature").and_then(Value::as_str) {
                let param = op.op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == "Embargo-Signature")
                    .expect("Embargo-Signature parameter");
                let v = param["examples"][sig]["value"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: no Embargo-Signature example {sig}"));
                headers.push(("embargo-signature", v.to_owned()));
            }
            let value = &x["value"];
            let bytes = if media_type == "application/json" {
                serde_json::to_vec(value).unwrap()
            } else {
                value.as_str().expect("a text example").as_bytes().to_vec()
            };
            if let Some(payload) = x.get("x-payload") {
                let decoded = BASE64_STANDARD
                    .decode(value["payload"].as_str().unwrap())
                    .unwrap();
                let decoded: Value = serde_json::from_slice(&decoded).unwrap();
                assert_eq!(
                    &decoded, payload,
                    "{what}: x-payload is not the decoded payload"
                );
            }
            let expected = x["x-expected-status"]
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: no x-expected-status"));
            if expected < 300 && media_type == "application/json" {
                let schema = &op.op["requestBody"]["content"][&media_type]["schema"];
                run.validators
                    .check(schema, value, &format!("{what} (request)"));
            }
            let answer = send(
                &http,
                &base,
                &op.method,
                path,
                &headers,
                Some((media_type.clone(), bytes)),
            )
            .await;
            assert_eq!(
                u64::from(answer.status),
                expected,
                "{what}: POST {path} answered {}, the spec says {expected}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
            run.check(&op, &answer, name, &what);
            run.record(format!("{op_id}/{name}"), &answer);
        }
    }
    for op in operations(&spec) {
        if op.op.get("requestBody").is_some() {
            let (_, examples) = request_examples(&op);
            for name in examples.keys() {
                assert!(
                    sent.contains(&(op.id.clone(), name.clone())),
                    "request example {}/{name} is not in SCENARIO: add it where it belongs",
                    op.id
                );
            }
        }
    }

    // Response examples that a bare request reproduces.
    let mut replayed = 0;
    for op in operations(&spec) {
        for (status, resp) in op.op["responses"].as_object().unwrap() {
            let resp = resolve(&spec, resp);
            for (_, media) in resp["content"].as_object().into_iter().flatten() {
                for (name, x) in media["examples"].as_object().into_iter().flatten() {
                    let x = resolve(&spec, x);
                    let schema = media.get("schema").filter(|_| !run.capturing);
                    if let (Some(value), Some(schema)) = (x.get("value"), schema) {
                        if value.is_object() || value.is_array() {
                            run.validators.check(
                                schema,
                                value,
                                &format!("{} response example {name}", op.id),
                            );
                        }
                    }
                    let Some(req) = x.get("x-request").and_then(Value::as_str) else {
                        continue;
                    };
                    let (method, path) = req.split_once(' ').expect("x-request is `METHOD /path`");
                    assert_eq!(
                        method.to_lowercase(),
                        op.method,
                        "{}: x-request {req}",
                        op.id
                    );
                    let answer = send(&http, &base, method, path, &[], None).await;
                    let what = format!("{} response example {name} ({req})", op.id);
                    assert_eq!(
                        answer.status.to_string(),
                        *status,
                        "{what}: {}",
                        String::from_utf8_lossy(&answer.body)
                    );
                    run.check(&op, &answer, name, &what);
                    run.record(req.to_owned(), &answer);
                    replayed += 1;
                }
            }
        }
    }
    // The fallbacks for paths and methods the API does not have (no operation to file them
    // under: `components.responses` entries with an `x-status`).
    for (rname, resp) in spec["components"]["responses"].as_object().unwrap() {
        let Some(status) = resp.get("x-status").and_then(Value::as_u64) else {
            continue;
        };
        let media = &resp["content"]["application/json"];
        for (name, x) in media["examples"].as_object().into_iter().flatten() {
            let req = x["x-request"]
                .as_str()
                .expect("fallback examples have an x-request");
            let (method, path) = req.split_once(' ').unwrap();
            let answer = send(&http, &base, method, path, &[], None).await;
            let what = format!("{rname} example {name} ({req})");
            assert_eq!(u64::from(answer.status), status, "{what}");
            assert_eq!(answer.content_type, "application/json", "{what}");
            let body = answer.json();
            run.validators.check(&media["schema"], &body, &what);
            if !run.capturing {
                assert_eq!(x["value"]["error"], body["error"], "{what}: error code");
            }
            run.record(req.to_owned(), &answer);
            replayed += 1;
        }
    }
    assert!(
        replayed > 20,
        "only {replayed} response examples have an x-request"
    );

    // What no example can carry: bodies over the limits.
    let submit = find_op(&spec, "submitEntry");
    let huge = format!(
        "{{\"payloadType\":\"{}\",\"pad\":\"{}\"}}",
        "x",
        " ".repeat(70_000)
    );
    let answer = send(
        &http,
        &base,
        "post",
        "/v1/entries",
        &[],
        Some(("application/json".into(), huge.into_bytes())),
    )
    .await;
    assert_eq!(
        answer.status,
        413,
        "a 70 kB body: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["error"], "too_large");
    run.check(&submit, &answer, "tooLarge", "a 70 kB body");
    let big = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"{}"}}}}],"predicateType":"https://example.org/big/v1","predicate":{{"pad":"{}"}}}}"#,
        "0".repeat(64),
        "x".repeat(50_000)
    );
    let env = fixtures::sign(&big, &fixtures::writer());
    let answer = send(
        &http,
        &base,
        "post",
        "/v1/entries",
        &[],
        Some((
            "application/json".into(),
            env.to_canonical_json().into_bytes(),
        )),
    )
    .await;
    assert_eq!(
        answer.status,
        413,
        "a leaf over 64 KiB: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["error"], "too_large");
    run.check(&submit, &answer, "tooLarge", "a leaf over 64 KiB");

    if let Ok(path) = std::env::var("OPENAPI_CAPTURE") {
        std::fs::write(&path, serde_json::to_string_pretty(&run.capture).unwrap()).unwrap();
    }
    drop(server);
}
