//! drand chains: chain info, round arithmetic and BLS round-signature verification,
//! plus a local [`TestBeacon`] that signs rounds exactly like a drand chain.
//!
//! Owns: parsing and validating drand chain info (the `/info` JSON), the drand chain
//! hash, the round <-> time mapping, and verification of `bls-unchained-g1-rfc9380`
//! round signatures (message = SHA-256(round as u64 big-endian), signature in G1
//! hashed with RFC 9380 DST `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_`, public
//! key in G2).
//!
//! Never: fetches beacons or chain info (no network), reads a clock (times are
//! arguments), or panics on malformed keys, signatures or JSON.

use ark_bls12_381::{g1, Bls12_381, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{
    hashing::{curve_maps::wb::WBMap, map_to_curve_hasher::MapToCurveBasedHasher, HashToCurve},
    pairing::Pairing,
    short_weierstrass, AffineRepr, CurveGroup, PrimeGroup,
};
use ark_ff::{field_hashers::DefaultFieldHasher, PrimeField};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use chrono::{DateTime, Utc};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::escrow::EscrowError;

/// The only drand scheme supported: unchained BLS with signatures on G1 (RFC 9380
/// hash-to-curve) and public key on G2. quicknet uses it.
pub const SUPPORTED_SCHEME: &str = "bls-unchained-g1-rfc9380";

/// RFC 9380 domain separation tag for hashing round messages to G1.
pub(crate) const G1_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// Size of a compressed G1 point (a round signature).
pub(crate) const G1_SIZE: usize = 48;
/// Size of a compressed G2 point (a chain public key).
pub(crate) const G2_SIZE: usize = 96;

const QUICKNET_PUBLIC_KEY: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";
const QUICKNET_GENESIS_SEED: &str =
    "f477d5c89f21a17c863a7f937c6a6d15859414d2be09cd448d4279af331c5d3e";
const QUICKNET_CHAIN_HASH: &str =
    "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971";

/// A drand chain, as described by its `/info` endpoint.
///
/// (De)serializes in drand's `/info` JSON shape: `public_key` (hex), `period`,
/// `genesis_time`, `hash` (hex), `groupHash` (hex genesis seed), `schemeID`,
/// `metadata.beaconID`. Deserializing also accepts the v2 field names
/// (`chain_hash`, `genesis_seed`, `scheme`, `beacon_id`) and always validates (see
/// [`Chain::validate`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "InfoJson", into = "InfoJson")]
pub struct Chain {
    /// Compressed BLS12-381 G2 public key (96 bytes).
    pub public_key: Vec<u8>,
    /// Seconds between rounds.
    pub period: u64,
    /// Unix time of round 1.
    pub genesis_time: u64,
    /// drand's genesis seed (`groupHash` in `/info`); part of the chain hash.
    pub genesis_seed: Vec<u8>,
    /// drand chain hash (SHA-256 over the fields above and the beacon id).
    pub chain_hash: [u8; 32],
    /// drand scheme id; must be [`SUPPORTED_SCHEME`].
    pub scheme: String,
    /// drand beacon id (`quicknet`).
    pub beacon_id: String,
}

#[derive(Serialize, Deserialize)]
struct InfoMetadata {
    #[serde(rename = "beaconID", default, skip_serializing_if = "Option::is_none")]
    beacon_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct InfoJson {
    public_key: String,
    period: u64,
    genesis_time: u64,
    #[serde(alias = "chain_hash", default, skip_serializing_if = "Option::is_none")]
    hash: Option<String>,
    #[serde(
        rename = "groupHash",
        alias = "genesis_seed",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    group_hash: Option<String>,
    #[serde(
        rename = "schemeID",
        alias = "scheme",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<InfoMetadata>,
    #[serde(default, skip_serializing)]
    beacon_id: Option<String>,
}

impl From<Chain> for InfoJson {
    fn from(c: Chain) -> Self {
        InfoJson {
            public_key: hex::encode(&c.public_key),
            period: c.period,
            genesis_time: c.genesis_time,
            hash: Some(hex::encode(c.chain_hash)),
            group_hash: Some(hex::encode(&c.genesis_seed)),
            scheme: Some(c.scheme),
            metadata: Some(InfoMetadata {
                beacon_id: Some(c.beacon_id),
            }),
            beacon_id: None,
        }
    }
}

impl TryFrom<InfoJson> for Chain {
    type Error = EscrowError;

    fn try_from(j: InfoJson) -> Result<Self, EscrowError> {
        let public_key = hex::decode(j.public_key.trim())
            .map_err(|e| EscrowError::ChainInfo(format!("`public_key` is not hex: {e}")))?;
        let genesis_seed = hex::decode(
            j.group_hash
                .ok_or_else(|| {
                    EscrowError::ChainInfo(
                        "`groupHash` (genesis seed) is missing, so the chain hash cannot be \
                         checked"
                            .into(),
                    )
                })?
                .trim(),
        )
        .map_err(|e| EscrowError::ChainInfo(format!("`groupHash` is not hex: {e}")))?;
        let scheme = j.scheme.ok_or_else(|| {
            EscrowError::ChainInfo(format!(
                "`schemeID` is missing (drand then means the legacy chained scheme); only \
                 `{SUPPORTED_SCHEME}` is supported"
            ))
        })?;
        let beacon_id = j
            .metadata
            .and_then(|m| m.beacon_id)
            .or(j.beacon_id)
            .unwrap_or_default();
        let mut chain = Chain {
            public_key,
            period: j.period,
            genesis_time: j.genesis_time,
            genesis_seed,
            chain_hash: [0; 32],
            scheme,
            beacon_id,
        };
        // Check the scheme and key before the hash: the most useful error first.
        chain.check_scheme_and_key()?;
        let computed = chain.computed_hash()?;
        match j.hash {
            Some(h) => {
                let claimed = hex::decode(h.trim())
                    .ok()
                    .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
                    .ok_or_else(|| {
                        EscrowError::ChainInfo("`hash` is not 32 bytes of hex".into())
                    })?;
                if claimed != computed {
                    return Err(EscrowError::ChainHash {
                        claimed: hex::encode(claimed),
                        computed: hex::encode(computed),
                    });
                }
                chain.chain_hash = claimed;
            }
            None => chain.chain_hash = computed,
        }
        Ok(chain)
    }
}

impl Chain {
    /// drand's quicknet mainnet chain (3 s rounds since 2023-08-23).
    pub fn quicknet() -> Chain {
        // Constants checked by tests (`quicknet_constants_validate`).
        let decode = |s: &str| hex::decode(s).unwrap_or_default();
        let mut chain_hash = [0u8; 32];
        chain_hash.copy_from_slice(&decode(QUICKNET_CHAIN_HASH));
        Chain {
            public_key: decode(QUICKNET_PUBLIC_KEY),
            period: 3,
            genesis_time: 1_692_803_367,
            genesis_seed: decode(QUICKNET_GENESIS_SEED),
            chain_hash,
            scheme: SUPPORTED_SCHEME.to_string(),
            beacon_id: "quicknet".to_string(),
        }
    }

    /// Parses and validates drand chain info JSON (as served by `<relay>/<hash>/info`).
    ///
    /// Refuses unsupported schemes, public keys that are not valid G2 points of the
    /// prime-order subgroup (or the identity), a zero period, and a `hash` that does
    /// not match drand's chain hash of the other fields.
    pub fn from_info_json(json: &str) -> Result<Chain, EscrowError> {
        let info: InfoJson = serde_json::from_str(json)
            .map_err(|e| EscrowError::ChainInfo(format!("not drand chain info JSON: {e}")))?;
        Chain::try_from(info)
    }

    /// Serializes in drand's `/info` JSON shape.
    pub fn to_info_json(&self) -> String {
        // Serializing plain strings and integers cannot fail.
        serde_json::to_string(&InfoJson::from(self.clone())).unwrap_or_default()
    }

    /// Checks everything [`Chain::from_info_json`] checks. The fields are public, so
    /// sealing and opening call this again.
    pub fn validate(&self) -> Result<(), EscrowError> {
        self.check_scheme_and_key()?;
        let computed = self.computed_hash()?;
        if computed != self.chain_hash {
            return Err(EscrowError::ChainHash {
                claimed: hex::encode(self.chain_hash),
                computed: hex::encode(computed),
            });
        }
        Ok(())
    }

    fn check_scheme_and_key(&self) -> Result<(), EscrowError> {
        if self.scheme != SUPPORTED_SCHEME {
            return Err(EscrowError::UnsupportedScheme(self.scheme.clone()));
        }
        let _ = parse_public_key(&self.public_key)?;
        if self.period == 0 {
            return Err(EscrowError::ChainInfo("`period` is 0".into()));
        }
        Ok(())
    }

    /// drand's chain hash: SHA-256(period as u32 BE || genesis_time as i64 BE ||
    /// public key || genesis seed || beacon id unless it is "" or "default").
    /// This is `chain.Info.Hash()` in drand (Go); it reproduces quicknet's hash.
    pub fn computed_hash(&self) -> Result<[u8; 32], EscrowError> {
        let period = u32::try_from(self.period)
            .map_err(|_| EscrowError::ChainInfo("`period` does not fit in 32 bits".into()))?;
        let genesis = i64::try_from(self.genesis_time).map_err(|_| {
            EscrowError::ChainInfo("`genesis_time` does not fit in a signed 64-bit int".into())
        })?;
        let mut h = Sha256::new();
        h.update(period.to_be_bytes());
        h.update(genesis.to_be_bytes());
        h.update(&self.public_key);
        h.update(&self.genesis_seed);
        if !self.beacon_id.is_empty() && self.beacon_id != "default" {
            h.update(self.beacon_id.as_bytes());
        }
        Ok(h.finalize().into())
    }

    /// Hex chain hash, as used in URLs and in tlock stanzas.
    pub fn chain_hash_hex(&self) -> String {
        hex::encode(self.chain_hash)
    }

    /// The first round published at or after `t` (round r is published at
    /// `genesis_time + (r - 1) * period`). Times before genesis give round 1.
    pub fn round_at(&self, t: DateTime<Utc>) -> u64 {
        const NS: i128 = 1_000_000_000;
        let t_ns = i128::from(t.timestamp()) * NS + i128::from(t.timestamp_subsec_nanos());
        let g_ns = i128::from(self.genesis_time) * NS;
        if t_ns <= g_ns {
            return 1;
        }
        // `validate` refuses period 0; never divide by zero on a hand-built Chain.
        let p_ns = i128::from(self.period.max(1)) * NS;
        let k = (t_ns - g_ns + p_ns - 1) / p_ns; // ceil
        u64::try_from(k + 1).unwrap_or(u64::MAX)
    }

    /// When `round` is published (round 0 does not exist and maps to genesis).
    pub fn round_time(&self, round: u64) -> DateTime<Utc> {
        let secs = i128::from(self.genesis_time)
            + i128::from(round.saturating_sub(1)) * i128::from(self.period);
        i64::try_from(secs)
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Verifies `signature` as this chain's BLS signature for `round`.
    pub fn verify(&self, round: u64, signature: &[u8]) -> Result<(), EscrowError> {
        self.verified_signature(round, signature).map(|_| ())
    }

    /// Verifies and returns the signature as a curve point (the tlock decryption key).
    pub(crate) fn verified_signature(
        &self,
        round: u64,
        signature: &[u8],
    ) -> Result<G1Affine, EscrowError> {
        self.check_scheme_and_key()?;
        let pk = parse_public_key(&self.public_key)?;
        let bad = |reason: &str| EscrowError::Signature {
            chain: self.chain_hash_hex(),
            round,
            reason: reason.to_string(),
        };
        if round == 0 {
            return Err(bad("round 0 does not exist"));
        }
        if signature.len() != G1_SIZE {
            return Err(bad(&format!(
                "a {SUPPORTED_SCHEME} signature is {G1_SIZE} bytes, got {}",
                signature.len()
            )));
        }
        let sig = G1Affine::deserialize_compressed(signature)
            .map_err(|_| bad("not a valid compressed BLS12-381 G1 point"))?;
        if sig.is_zero() {
            return Err(bad("the signature is the identity point"));
        }
        let h = hash_to_g1(&round_message(round)).map_err(|e| bad(&e))?;
        let lhs = Bls12_381::pairing(sig, G2Affine::generator());
        let rhs = Bls12_381::pairing(h, pk);
        if lhs != rhs {
            return Err(bad(
                "BLS verification failed (wrong round, wrong chain or corrupted signature)",
            ));
        }
        Ok(sig)
    }
}

/// Parses a chain public key: 96 bytes, a valid compressed G2 point in the
/// prime-order subgroup, and not the identity (which would make every round's
/// "signature" the identity and every timelock openable by anyone).
pub(crate) fn parse_public_key(bytes: &[u8]) -> Result<G2Affine, EscrowError> {
    if bytes.len() != G2_SIZE {
        return Err(EscrowError::PublicKey(format!(
            "expected {G2_SIZE} bytes, got {}",
            bytes.len()
        )));
    }
    // `deserialize_compressed` validates: on the curve and in the r-order subgroup.
    let pk = G2Affine::deserialize_compressed(bytes).map_err(|_| {
        EscrowError::PublicKey("not a point of the BLS12-381 G2 prime-order subgroup".into())
    })?;
    if pk.is_zero() {
        return Err(EscrowError::PublicKey("the identity point".into()));
    }
    Ok(pk)
}

/// The message a `bls-unchained-*` drand round signs: SHA-256(round as u64 BE).
pub(crate) fn round_message(round: u64) -> [u8; 32] {
    Sha256::digest(round.to_be_bytes()).into()
}

/// RFC 9380 hash-to-G1 (SSWU, XMD:SHA-256) with drand's G1 DST.
pub(crate) fn hash_to_g1(msg: &[u8]) -> Result<G1Affine, String> {
    let hasher = MapToCurveBasedHasher::<
        short_weierstrass::Projective<g1::Config>,
        DefaultFieldHasher<Sha256, 128>,
        WBMap<g1::Config>,
    >::new(G1_DST)
    .map_err(|e| format!("hash-to-curve setup failed: {e:?}"))?;
    hasher
        .hash(msg)
        .map_err(|e| format!("hash-to-curve failed: {e:?}"))
}

/// A local drand-like beacon for tests and demos: one BLS secret key, same scheme
/// as quicknet, signatures verified and used by exactly the same code paths.
#[derive(Clone)]
pub struct TestBeacon {
    secret: Fr,
    genesis_time: u64,
    period: u64,
}

impl std::fmt::Debug for TestBeacon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBeacon")
            .field("genesis_time", &self.genesis_time)
            .field("period", &self.period)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Beacon id of test beacons (part of their chain hash).
pub const TEST_BEACON_ID: &str = "embargo-test-beacon";

impl TestBeacon {
    /// A fresh beacon with a key from the OS RNG.
    pub fn generate(genesis_time: u64, period: u64) -> TestBeacon {
        Self::generate_with_rng(&mut rand::rngs::OsRng, genesis_time, period)
    }

    /// A fresh beacon with a key from the caller's RNG.
    pub fn generate_with_rng<R: RngCore + CryptoRng>(
        rng: &mut R,
        genesis_time: u64,
        period: u64,
    ) -> TestBeacon {
        loop {
            let mut wide = [0u8; 64];
            rng.fill_bytes(&mut wide);
            let secret = Fr::from_le_bytes_mod_order(&wide);
            if secret != Fr::from(0u64) {
                return TestBeacon {
                    secret,
                    genesis_time,
                    period: period.max(1),
                };
            }
        }
    }

    /// The beacon's chain info (drand chain hash, genesis seed = SHA-256 of the key).
    pub fn chain(&self) -> Chain {
        let mut public_key = Vec::with_capacity(G2_SIZE);
        let pk = (G2Projective::generator() * self.secret).into_affine();
        // Writing into a Vec cannot fail.
        let _ = pk.serialize_compressed(&mut public_key);
        let genesis_seed = Sha256::new()
            .chain_update(b"embargo test beacon genesis seed")
            .chain_update(&public_key)
            .finalize()
            .to_vec();
        let mut chain = Chain {
            public_key,
            period: self.period,
            genesis_time: self.genesis_time,
            genesis_seed,
            chain_hash: [0; 32],
            scheme: SUPPORTED_SCHEME.to_string(),
            beacon_id: TEST_BEACON_ID.to_string(),
        };
        chain.chain_hash = chain.computed_hash().unwrap_or([0; 32]);
        chain
    }

    /// The round signature (48-byte compressed G1), as drand would publish it.
    pub fn sign(&self, round: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(G1_SIZE);
        // hash_to_g1 only fails on an invalid DST, which is a constant here.
        if let Ok(h) = hash_to_g1(&round_message(round)) {
            let sig: G1Affine = (G1Projective::from(h) * self.secret).into_affine();
            let _ = sig.serialize_compressed(&mut out);
        }
        out
    }

    /// The secret key as hex (32-byte little-endian scalar). Keep it secret: it
    /// opens every escrow locked to this beacon.
    pub fn to_secret_hex(&self) -> String {
        let mut out = Vec::with_capacity(32);
        let _ = self.secret.serialize_compressed(&mut out);
        hex::encode(out)
    }

    /// Restores a beacon from [`TestBeacon::to_secret_hex`] and its schedule.
    pub fn from_secret_hex(
        secret_hex: &str,
        genesis_time: u64,
        period: u64,
    ) -> Result<TestBeacon, EscrowError> {
        let bad = |why: &str| {
            EscrowError::ChainInfo(format!(
                "test beacon secret {why}; expected the 64 hex digits from to_secret_hex"
            ))
        };
        let bytes = hex::decode(secret_hex.trim()).map_err(|_| bad("is not hex"))?;
        if bytes.len() != 32 {
            return Err(bad("is not 32 bytes"));
        }
        let secret =
            Fr::deserialize_compressed(bytes.as_slice()).map_err(|_| bad("is out of range"))?;
        if secret == Fr::from(0u64) {
            return Err(bad("is zero"));
        }
        if period == 0 {
            return Err(bad("comes with period 0"));
        }
        Ok(TestBeacon {
            secret,
            genesis_time,
            period,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SIG_1000: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";
    pub(crate) const SIG_12040883: &str = "929906c959032ab363c9f26570d215d66f5c06cb0c44fe508c12bb5839f04ec895bb6868e5b9ff13ab289bdb5266b394";

    fn quicknet_info_v1() -> String {
        format!(
            r#"{{"public_key":"{QUICKNET_PUBLIC_KEY}","period":3,"genesis_time":1692803367,"hash":"{QUICKNET_CHAIN_HASH}","groupHash":"{QUICKNET_GENESIS_SEED}","schemeID":"bls-unchained-g1-rfc9380","metadata":{{"beaconID":"quicknet"}}}}"#
        )
    }

    #[test]
    fn quicknet_constants_validate_and_hash_matches_drand() {
        let q = Chain::quicknet();
        q.validate().unwrap();
        assert_eq!(q.computed_hash().unwrap(), q.chain_hash);
        assert_eq!(q.chain_hash_hex(), QUICKNET_CHAIN_HASH);
    }

    #[test]
    fn quicknet_round_1000_and_12040883_signatures_verify() {
        let q = Chain::quicknet();
        q.verify(1000, &hex::decode(SIG_1000).unwrap()).unwrap();
        q.verify(12040883, &hex::decode(SIG_12040883).unwrap())
            .unwrap();
    }

    #[test]
    fn wrong_round_bitflip_length_and_garbage_signatures_fail_without_panic() {
        let q = Chain::quicknet();
        let sig = hex::decode(SIG_1000).unwrap();
        assert!(q.verify(1001, &sig).is_err());
        assert!(q.verify(999, &sig).is_err());
        assert!(q.verify(0, &sig).is_err());
        for bit in [0usize, 1, 2, 7, 8, 100, 200, 383] {
            let mut s = sig.clone();
            s[bit / 8] ^= 1 << (bit % 8);
            assert!(q.verify(1000, &s).is_err(), "bit {bit}");
        }
        assert!(q.verify(1000, &sig[..47]).is_err());
        assert!(q.verify(1000, &[sig.clone(), vec![0]].concat()).is_err());
        assert!(q.verify(1000, &[]).is_err());
        assert!(q.verify(1000, &[0xff; 48]).is_err());
        assert!(q.verify(1000, &[0u8; 48]).is_err());
        // The compressed identity encoding.
        let mut inf = [0u8; 48];
        inf[0] = 0xc0;
        assert!(q.verify(1000, &inf).is_err());
        // A valid G1 point that is not the signature.
        let mut g = Vec::new();
        G1Affine::generator().serialize_compressed(&mut g).unwrap();
        assert!(q.verify(1000, &g).is_err());
        // The round 12040883 signature is not the round 1000 signature.
        assert!(q.verify(1000, &hex::decode(SIG_12040883).unwrap()).is_err());
        let msg = q.verify(1001, &sig).unwrap_err().to_string();
        assert!(msg.contains("round 1001"), "{msg}");
    }

    #[test]
    fn chain_info_json_round_trips_and_is_validated() {
        let q = Chain::from_info_json(&quicknet_info_v1()).unwrap();
        assert_eq!(q, Chain::quicknet());
        let again = Chain::from_info_json(&q.to_info_json()).unwrap();
        assert_eq!(again, q);
        // serde derive goes through the same validation.
        let via_serde: Chain = serde_json::from_str(&quicknet_info_v1()).unwrap();
        assert_eq!(via_serde, q);
        let v: serde_json::Value = serde_json::from_str(&q.to_info_json()).unwrap();
        assert_eq!(v["metadata"]["beaconID"], "quicknet");
        assert_eq!(v["schemeID"], SUPPORTED_SCHEME);
        assert_eq!(v["hash"], QUICKNET_CHAIN_HASH);
    }

    #[test]
    fn chain_info_v2_field_names_are_accepted() {
        let v2 = format!(
            r#"{{"public_key":"{QUICKNET_PUBLIC_KEY}","period":3,"genesis_time":1692803367,"genesis_seed":"{QUICKNET_GENESIS_SEED}","chain_hash":"{QUICKNET_CHAIN_HASH}","scheme":"bls-unchained-g1-rfc9380","beacon_id":"quicknet"}}"#
        );
        assert_eq!(Chain::from_info_json(&v2).unwrap(), Chain::quicknet());
    }

    #[test]
    fn bad_chain_info_is_refused_with_a_clear_error() {
        let good = quicknet_info_v1();
        // Other scheme.
        let e = Chain::from_info_json(
            &good.replace("bls-unchained-g1-rfc9380", "pedersen-bls-chained"),
        )
        .unwrap_err();
        assert!(matches!(e, EscrowError::UnsupportedScheme(_)), "{e}");
        assert!(e.to_string().contains(SUPPORTED_SCHEME));
        // Public key: flipped byte (not on curve / not in subgroup), truncated, identity.
        let mut pk = hex::decode(QUICKNET_PUBLIC_KEY).unwrap();
        pk[50] ^= 0x01;
        let e = Chain::from_info_json(&good.replace(QUICKNET_PUBLIC_KEY, &hex::encode(&pk)))
            .unwrap_err();
        assert!(matches!(e, EscrowError::PublicKey(_)), "{e}");
        let e =
            Chain::from_info_json(&good.replace(QUICKNET_PUBLIC_KEY, &QUICKNET_PUBLIC_KEY[..190]))
                .unwrap_err();
        assert!(matches!(e, EscrowError::PublicKey(_)), "{e}");
        let mut inf = vec![0u8; 96];
        inf[0] = 0xc0;
        let e = Chain::from_info_json(&good.replace(QUICKNET_PUBLIC_KEY, &hex::encode(&inf)))
            .unwrap_err();
        assert!(matches!(e, EscrowError::PublicKey(_)), "{e}");
        // A G1-sized key (the non-RFC fastnet-style shape) is refused too.
        let e = Chain::from_info_json(&good.replace(QUICKNET_PUBLIC_KEY, &"aa".repeat(48)))
            .unwrap_err();
        assert!(matches!(e, EscrowError::PublicKey(_)), "{e}");
        // Hash mismatch (beacon id changed).
        let e = Chain::from_info_json(&good.replace("\"quicknet\"", "\"quicknet2\"")).unwrap_err();
        assert!(matches!(e, EscrowError::ChainHash { .. }), "{e}");
        let e = Chain::from_info_json(&good.replace("\"period\":3", "\"period\":30")).unwrap_err();
        assert!(matches!(e, EscrowError::ChainHash { .. }), "{e}");
        let e = Chain::from_info_json(&good.replace("\"period\":3", "\"period\":0")).unwrap_err();
        assert!(matches!(e, EscrowError::ChainInfo(_)), "{e}");
        // Garbage.
        for g in [
            "",
            "{}",
            "null",
            "[1,2]",
            "{\"public_key\":5}",
            "\u{0}\u{1}",
        ] {
            assert!(Chain::from_info_json(g).is_err(), "{g:?}");
        }
        // Missing genesis seed.
        let no_seed = good.replace(&format!(",\"groupHash\":\"{QUICKNET_GENESIS_SEED}\""), "");
        assert!(matches!(
            Chain::from_info_json(&no_seed).unwrap_err(),
            EscrowError::ChainInfo(_)
        ));
        // A hand-built chain with a bad key fails validate() and verify().
        let mut c = Chain::quicknet();
        c.public_key[10] ^= 0x40;
        assert!(c.validate().is_err());
        assert!(c.verify(1000, &hex::decode(SIG_1000).unwrap()).is_err());
    }

    #[test]
    fn round_at_is_the_first_round_at_or_after_t() {
        let q = Chain::quicknet();
        let g = q.genesis_time as i64;
        let at = |s: i64, ns: u32| DateTime::from_timestamp(s, ns).unwrap();
        assert_eq!(q.round_at(at(0, 0)), 1);
        assert_eq!(q.round_at(at(g, 0)), 1);
        assert_eq!(q.round_at(at(g, 1)), 2);
        assert_eq!(q.round_at(at(g + 3, 0)), 2);
        assert_eq!(q.round_at(at(g + 3, 1)), 3);
        assert_eq!(q.round_at(at(g + 5, 0)), 3);
        for r in [1u64, 2, 1000, 12040883] {
            let t = q.round_time(r);
            assert_eq!(q.round_at(t), r);
            assert!(q.round_time(q.round_at(t)) >= t);
        }
        assert_eq!(q.round_time(1).timestamp(), g);
        assert_eq!(q.round_time(1000).timestamp(), g + 999 * 3);
        let _ = q.round_time(u64::MAX); // saturates, no panic
        let _ = q.round_at(DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn test_beacon_signs_like_drand_and_persists() {
        let b = TestBeacon::generate(1_700_000_000, 3);
        let chain = b.chain();
        chain.validate().unwrap();
        let chain2 = Chain::from_info_json(&chain.to_info_json()).unwrap();
        assert_eq!(chain2, chain);
        let sig = b.sign(42);
        assert_eq!(sig.len(), 48);
        chain.verify(42, &sig).unwrap();
        assert!(chain.verify(43, &sig).is_err());
        assert!(Chain::quicknet().verify(42, &sig).is_err());
        let restored = TestBeacon::from_secret_hex(&b.to_secret_hex(), 1_700_000_000, 3).unwrap();
        assert_eq!(restored.chain(), chain);
        assert_eq!(restored.sign(42), sig);
        assert!(TestBeacon::from_secret_hex("zz", 0, 3).is_err());
        assert!(TestBeacon::from_secret_hex(&"00".repeat(32), 0, 3).is_err());
        assert!(TestBeacon::from_secret_hex(&"ff".repeat(32), 0, 3).is_err());
        assert!(!format!("{b:?}").contains(&b.to_secret_hex()));
    }
}
