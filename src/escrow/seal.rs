//! Streaming seal and open of escrow files.
//!
//! An escrow file is a binary age v1 file whose file key is wrapped in a drand
//! `tlock` stanza and, optionally, in one X25519 stanza whose secret is split among
//! trustees. With only the tlock stanza the file is exactly what drand's Go `tle`
//! and `tlock_age` produce and consume.
//!
//! Owns: [`seal`] (validate, then stream-encrypt in constant memory), the two ways to
//! open ([`open_with_beacon`], [`open_with_shares`], both returning a streaming
//! plaintext reader so the caller can hash as it reads) and [`header`].
//!
//! Never: touches the network, the filesystem or the clock (whether a round is "in
//! the future" is the caller's policy), buffers whole files, or panics on garbage;
//! corruption found mid-stream surfaces as an `io::Error` from `read`.

use std::io::{self, BufRead, BufReader, Cursor, Read, Write};
use std::iter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ed25519_dalek::VerifyingKey;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::escrow::beacon::Chain;
use crate::escrow::tlock::{StanzaRecorder, TlockIdentity, TlockProblem, TlockRecipient};
use crate::escrow::trustee::{
    combine_shares, make_shares, x25519_identity, x25519_public_bytes, EncryptedShare, Share,
    Trustees,
};
use crate::escrow::EscrowError;

/// I/O buffer for sealing and for reading ciphertext (four age chunks).
const IO_BUF: usize = 256 * 1024;
/// Ciphertext read buffer: at most one age chunk (64 KiB + 16), so that
/// `BufReader` hands whole-chunk reads straight to the source instead of copying.
const READ_BUF: usize = 64 * 1024;

/// How an escrow opens: a drand round, and optionally K-of-N trustees.
#[derive(Clone, Debug, PartialEq)]
pub struct Lock {
    pub chain: Chain,
    /// The round whose signature opens the file (use `chain.round_at(reveal_at)`).
    pub round: u64,
    pub trustees: Option<Trustees>,
}

/// What sealing produced besides the ciphertext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// One encrypted share per trustee, in trustee order (empty without trustees).
    pub shares: Vec<EncryptedShare>,
    /// The escrow's X25519 public key (hex in JSON), if there are trustees. Every
    /// share names it; K shares must reconstruct its secret key.
    #[serde(with = "opt_hex32", default, skip_serializing_if = "Option::is_none")]
    pub escrow_key: Option<[u8; 32]>,
    /// Plaintext bytes sealed.
    pub plaintext_len: u64,
}

mod opt_hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        let o: Option<String> = Option::deserialize(d)?;
        o.map(|h| {
            hex::decode(&h)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| serde::de::Error::custom("escrow_key is not 32 bytes of hex"))
        })
        .transpose()
    }
}

/// What an escrow file's header says, read without decrypting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Round named by the tlock stanza.
    pub round: u64,
    /// Chain hash named by the tlock stanza.
    pub chain_hash: [u8; 32],
    /// Number of X25519 stanzas (1 for an escrow sealed with trustees).
    pub x25519_stanzas: usize,
}

/// Seals `src` into `dst` as a binary age file openable by `lock.round`'s
/// signature and, if `lock.trustees` is set, by `threshold` trustee shares.
///
/// Everything is validated before the first byte is written: the chain (scheme,
/// public key in the G2 subgroup, chain hash), the round (not 0) and the trustee set
/// (1 <= threshold <= n <= 64, distinct, non-weak keys). Memory use is constant.
/// On success `dst` has been flushed.
pub fn seal<R: Read, W: Write>(lock: &Lock, mut src: R, dst: W) -> Result<Sealed, EscrowError> {
    lock.chain.validate()?;
    if lock.round == 0 {
        return Err(EscrowError::Round(
            "round 0 does not exist; lock to chain.round_at(reveal_at), which is at least 1".into(),
        ));
    }
    let tlock = TlockRecipient {
        chain_hash: lock.chain.chain_hash,
        public_key: lock.chain.public_key.clone(),
        round: lock.round,
    };
    let mut rng = OsRng;
    let mut x25519 = None;
    let mut shares = Vec::new();
    let mut escrow_key = None;
    if let Some(trustees) = &lock.trustees {
        trustees.validate()?;
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(secret.as_mut());
        let identity = x25519_identity(&secret)?;
        let recipient = identity.to_public();
        let public = x25519_public_bytes(&recipient)?;
        shares = make_shares(&secret, public, trustees, &mut rng)?;
        escrow_key = Some(public);
        x25519 = Some(recipient);
    }
    let mut recipients: Vec<&dyn age::Recipient> = vec![&tlock];
    if let Some(r) = &x25519 {
        recipients.push(r);
    }
    let encryptor = age::Encryptor::with_recipients(recipients.into_iter())
        .map_err(|e| EscrowError::Encrypt(e.to_string()))?;
    let mut writer = encryptor.wrap_output(dst)?;
    let plaintext_len = copy_buffered(&mut src, &mut writer)?;
    let mut dst = writer.finish()?;
    dst.flush()?;
    Ok(Sealed {
        shares,
        escrow_key,
        plaintext_len,
    })
}

fn copy_buffered<R: Read, W: Write>(src: &mut R, dst: &mut W) -> io::Result<u64> {
    let mut buf = vec![0u8; IO_BUF];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Ciphertext input, binary or ASCII-armored (detected from the first bytes).
enum Source<R: Read> {
    Binary(BufReader<io::Chain<Cursor<Vec<u8>>, R>>),
    Armored(age::armor::ArmoredReader<BufReader<io::Chain<Cursor<Vec<u8>>, R>>>),
}

/// The largest age header accepted (ours are well under 1 KiB). age reads header
/// lines with an unbounded `read_until`, so without this cap a hostile "header"
/// line of gigabytes would be buffered whole.
const MAX_HEADER: u64 = 64 * 1024;
const UNLIMITED: u64 = u64::MAX;

/// [`Source`] with a byte budget that is enforced while age parses the header and
/// lifted afterwards (the budget is shared because the `Decryptor` owns the input).
struct Input<R: Read> {
    source: Source<R>,
    budget: Arc<AtomicU64>,
}

impl<R: Read> Input<R> {
    fn over_budget() -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the age header is longer than {MAX_HEADER} bytes"),
        )
    }

    fn budget(&self) -> u64 {
        self.budget.load(Ordering::Relaxed)
    }

    fn spend(&self, n: usize) {
        let b = self.budget();
        if b != UNLIMITED {
            self.budget
                .store(b.saturating_sub(n as u64), Ordering::Relaxed);
        }
    }
}

impl<R: Read> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let budget = self.budget();
        let limit = usize::try_from(budget).unwrap_or(usize::MAX).min(buf.len());
        if budget == 0 && !buf.is_empty() {
            return Err(Self::over_budget());
        }
        let n = match &mut self.source {
            Source::Binary(r) => r.read(&mut buf[..limit])?,
            Source::Armored(r) => r.read(&mut buf[..limit])?,
        };
        self.spend(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let budget = self.budget();
        if budget == 0 {
            return Err(Self::over_budget());
        }
        let buf = match &mut self.source {
            Source::Binary(r) => r.fill_buf()?,
            Source::Armored(r) => r.fill_buf()?,
        };
        let limit = usize::try_from(budget).unwrap_or(usize::MAX).min(buf.len());
        Ok(&buf[..limit])
    }

    fn consume(&mut self, amt: usize) {
        self.spend(amt);
        match &mut self.source {
            Source::Binary(r) => r.consume(amt),
            Source::Armored(r) => r.consume(amt),
        }
    }
}

const BINARY_MAGIC: &[u8] = b"age-encryption.org/";

fn input<R: Read>(mut src: R) -> Result<Input<R>, EscrowError> {
    let mut prefix = vec![0u8; BINARY_MAGIC.len()];
    let mut filled = 0;
    while filled < prefix.len() {
        match src.read(&mut prefix[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    prefix.truncate(filled);
    let binary = prefix == BINARY_MAGIC;
    let chained = Cursor::new(prefix).chain(src);
    let source = if binary {
        Source::Binary(BufReader::with_capacity(READ_BUF, chained))
    } else {
        Source::Armored(age::armor::ArmoredReader::new(chained))
    };
    Ok(Input {
        source,
        budget: Arc::new(AtomicU64::new(MAX_HEADER)),
    })
}

fn decryptor<R: Read>(src: R) -> Result<age::Decryptor<Input<R>>, EscrowError> {
    let input = input(src)?;
    let budget = Arc::clone(&input.budget);
    let decryptor = age::Decryptor::new_buffered(input).map_err(format_error)?;
    // Header (and nonce) parsed: stream the payload without a limit.
    budget.store(UNLIMITED, Ordering::Relaxed);
    if decryptor.is_scrypt() {
        return Err(EscrowError::Format(
            "this is a passphrase-encrypted age file, not an escrow".into(),
        ));
    }
    Ok(decryptor)
}

fn format_error(e: age::DecryptError) -> EscrowError {
    match e {
        age::DecryptError::Io(e) => EscrowError::Format(format!(
            "{e} (the file is truncated, not an age file, or badly armored)"
        )),
        other => EscrowError::Format(other.to_string()),
    }
}

fn open_error(e: age::DecryptError) -> EscrowError {
    match e {
        age::DecryptError::InvalidMac => EscrowError::Open(
            "the header MAC does not verify: the header was modified after sealing".into(),
        ),
        age::DecryptError::Io(e) => EscrowError::Io(e),
        other => EscrowError::Open(other.to_string()),
    }
}

/// Opens an escrow with a drand round signature.
///
/// Verifies the BLS signature for `round` on `chain` first, then requires the file's
/// tlock stanza to name this chain hash and round, and returns a streaming reader of
/// the plaintext. Payload corruption (a flipped bit, a truncated file) surfaces as an
/// `io::Error` from `read`; read to the end before trusting the bytes.
pub fn open_with_beacon<R: Read>(
    chain: &Chain,
    round: u64,
    signature: &[u8],
    src: R,
) -> Result<impl Read, EscrowError> {
    chain.validate()?;
    let signature = chain.verified_signature(round, signature)?;
    let identity = TlockIdentity {
        chain_hash: chain.chain_hash,
        round,
        signature,
        problem: Mutex::new(None),
    };
    let decryptor = decryptor(src)?;
    match decryptor.decrypt(iter::once(&identity as &dyn age::Identity)) {
        Ok(reader) => Ok(reader),
        Err(e) => Err(match identity.take_problem() {
            Some(TlockProblem::NoStanza) => EscrowError::NoTlockStanza,
            Some(TlockProblem::WrongChain(found)) => EscrowError::WrongChain {
                expected: chain.chain_hash_hex(),
                found,
            },
            Some(TlockProblem::WrongRound(found)) => EscrowError::WrongRound {
                expected: round,
                found,
            },
            Some(TlockProblem::Malformed(why)) => EscrowError::CorruptStanza(why),
            None => match e {
                age::DecryptError::NoMatchingKeys => EscrowError::NoTlockStanza,
                other => open_error(other),
            },
        }),
    }
}

/// Opens an escrow with trustee shares: needs `threshold` distinct shares of the
/// same escrow; they must reconstruct the escrow key they name. Returns a streaming
/// reader of the plaintext (see [`open_with_beacon`] about errors while reading).
pub fn open_with_shares<R: Read>(shares: &[Share], src: R) -> Result<impl Read, EscrowError> {
    let identity = combine_shares(shares)?;
    let decryptor = decryptor(src)?;
    decryptor
        .decrypt(iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => EscrowError::NoTrusteeStanza,
            other => open_error(other),
        })
}

/// Reads the tlock round and chain hash (and counts X25519 stanzas) from an escrow
/// file's header without decrypting. Consumes (and may read past) the header: rewind
/// or reopen the source before opening it.
pub fn header<R: Read>(src: R) -> Result<HeaderInfo, EscrowError> {
    let decryptor = decryptor(src)?;
    let recorder = StanzaRecorder::default();
    // Never unwraps anything: NoMatchingKeys is the expected outcome.
    let _ = decryptor.decrypt(iter::once(&recorder as &dyn age::Identity));
    let seen = recorder
        .seen
        .into_inner()
        .map_err(|_| EscrowError::Format("header inspection failed".into()))?;
    let x25519_stanzas = seen.iter().filter(|(tag, _)| tag == "X25519").count();
    let mut tlocks = seen.into_iter().filter_map(|(_, t)| t);
    let first = tlocks.next().ok_or(EscrowError::NoTlockStanza)?;
    if tlocks.next().is_some() {
        return Err(EscrowError::Format(
            "the header has more than one tlock stanza".into(),
        ));
    }
    let (round, chain_hash) = first.map_err(EscrowError::CorruptStanza)?;
    Ok(HeaderInfo {
        round,
        chain_hash,
        x25519_stanzas,
    })
}

/// Convenience for callers holding keys as bytes: the trustee set from raw keys.
pub fn trustees_from_bytes(threshold: u8, keys: &[[u8; 32]]) -> Result<Trustees, EscrowError> {
    let keys = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            VerifyingKey::from_bytes(k).map_err(|_| {
                EscrowError::Trustees(format!(
                    "trustee {} key is not an Ed25519 public key",
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let t = Trustees { threshold, keys };
    t.validate()?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escrow::beacon::tests::{SIG_1000, SIG_12040883};
    use crate::escrow::beacon::TestBeacon;
    use crate::escrow::trustee::{decrypt_share, tests::trustee_keys};
    use ed25519_dalek::SigningKey;

    const GO_ARMORED: &str = "-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IHRsb2NrIDEyMDQwODgzIDUyZGI5YmE3\nMGUwY2MwZjZlYWY3ODAzZGQwNzQ0N2ExZjU0Nzc3MzVmZDNmNjYxNzkyYmE5NDYw\nMGM4NGU5NzEKa1JjK01NSEUwS005b1V0SmNLTWZGb1JFVzBXN1JQbTNtdzZpVUJ1\ncGNXVkZkZDJQb1h6U0JrK25TM01BNnBKNwpHZDl3REhmVU5hTldXTWw2cGVia2Jh\nOUVNZGJDWnBuQVNtOWFIb3hqUitwaGFVT2xoS1ppZGl5ZHBLSStPS2N0CmxvT2ZP\nSW9KaGtndTVTRnJUOGVVQTJUOGk3aTBwQlBzTDlTWUJUZEJQb28KLS0tIEl6Q1Js\nWSt1RXp0d21CbEg0cTFVZGNJaW9pS2l0M0c0bHVxNlNjT2w3UUUKDI4cDlPHPgjy\nUnBmtsw6U2LlKh8iDf0E1PfwDenmKFfQaAGm0WLxdlzP8Q==\n-----END AGE ENCRYPTED FILE-----\n";

    fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(v)
    }

    fn sig(h: &str) -> Vec<u8> {
        hex::decode(h).unwrap()
    }

    /// Deterministic pseudo-random bytes.
    fn pattern(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn lock(chain: Chain, round: u64, trustees: Option<Trustees>) -> Lock {
        Lock {
            chain,
            round,
            trustees,
        }
    }

    fn sealed(l: &Lock, plain: &[u8]) -> (Vec<u8>, Sealed) {
        let mut out = Vec::new();
        let s = seal(l, plain, &mut out).unwrap();
        (out, s)
    }

    #[test]
    fn go_made_ciphertext_decrypts_to_hello_world() {
        let q = Chain::quicknet();
        let h = header(GO_ARMORED.as_bytes()).unwrap();
        assert_eq!(h.round, 12040883);
        assert_eq!(h.chain_hash, q.chain_hash);
        assert_eq!(h.x25519_stanzas, 0);
        let r = open_with_beacon(&q, 12040883, &sig(SIG_12040883), GO_ARMORED.as_bytes()).unwrap();
        assert_eq!(read_all(r).unwrap(), b"hello world");
    }

    #[test]
    fn go_ciphertext_with_a_wrong_signature_or_round_is_refused_without_panic() {
        let q = Chain::quicknet();
        // Valid signature for another round: refused by the stanza check.
        let e = open_with_beacon(&q, 1000, &sig(SIG_1000), GO_ARMORED.as_bytes())
            .err()
            .unwrap();
        assert!(
            matches!(
                e,
                EscrowError::WrongRound {
                    expected: 1000,
                    found: 12040883
                }
            ),
            "{e}"
        );
        // Round 1000's signature claimed for round 12040883: refused by BLS verify
        // (tlock 0.0.10 would panic here).
        let e = open_with_beacon(&q, 12040883, &sig(SIG_1000), GO_ARMORED.as_bytes())
            .err()
            .unwrap();
        assert!(matches!(e, EscrowError::Signature { .. }), "{e}");
        // Other chain.
        let b = TestBeacon::generate(1_700_000_000, 3);
        let e = open_with_beacon(
            &b.chain(),
            12040883,
            &b.sign(12040883),
            GO_ARMORED.as_bytes(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, EscrowError::WrongChain { .. }), "{e}");
    }

    /// Documents the hazard this module exists to avoid: the reference crates panic
    /// (tlock 0.0.10 `assert_eq!(U, r*G)`) on a wrong signature, and on a tampered
    /// stanza even with the right one. If this test starts failing, upstream fixed it.
    #[test]
    fn hazard_tlock_age_panics_where_we_return_errors() {
        let q = Chain::quicknet();
        let wrong_sig = std::panic::catch_unwind(|| {
            let mut out = Vec::new();
            let _ = tlock_age::decrypt(
                &mut out,
                GO_ARMORED.as_bytes(),
                &q.chain_hash,
                &sig(SIG_1000),
            );
        });
        assert!(
            wrong_sig.is_err(),
            "tlock_age no longer panics on a wrong signature"
        );
        assert!(open_with_beacon(&q, 12040883, &sig(SIG_1000), GO_ARMORED.as_bytes()).is_err());

        // Right signature, one bit of the stanza body's V flipped.
        let (mut ct, _) = sealed(&lock(q.clone(), 1000, None), b"x");
        let body_start = ct.windows(5).position(|w| w == b"e971\n").unwrap() + 5;
        // Body base64 lines are 64 chars + '\n': char 5 of line 3 encodes V (bytes 96..112).
        let at = body_start + 2 * 65 + 5;
        ct[at] = if ct[at] == b'A' { b'B' } else { b'A' };
        let tampered = ct.clone();
        let r = std::panic::catch_unwind(move || {
            let mut out = Vec::new();
            let _ =
                tlock_age::decrypt(&mut out, tampered.as_slice(), &q.chain_hash, &sig(SIG_1000));
        });
        assert!(
            r.is_err(),
            "tlock_age no longer panics on a tampered stanza"
        );
        let e = open_with_beacon(&Chain::quicknet(), 1000, &sig(SIG_1000), ct.as_slice())
            .err()
            .unwrap();
        assert!(matches!(e, EscrowError::CorruptStanza(_)), "{e}");
    }

    #[test]
    fn quicknet_locked_file_opens_with_the_real_round_signature_and_tlock_age() {
        let q = Chain::quicknet();
        let plain = pattern(100_000, 1);
        let (ct, s) = sealed(&lock(q.clone(), 1000, None), &plain);
        assert!(s.shares.is_empty() && s.escrow_key.is_none());
        assert_eq!(s.plaintext_len, 100_000);
        assert!(ct.starts_with(b"age-encryption.org/v1\n-> tlock 1000 52db9ba7"));
        let r = open_with_beacon(&q, 1000, &sig(SIG_1000), ct.as_slice()).unwrap();
        assert_eq!(read_all(r).unwrap(), plain);
        // The reference Rust implementation (Go-compatible format) opens it too.
        let mut out = Vec::new();
        tlock_age::decrypt(&mut out, ct.as_slice(), &q.chain_hash, &sig(SIG_1000)).unwrap();
        assert_eq!(out, plain);
    }

    #[test]
    fn invalid_public_key_is_refused_before_anything_is_written() {
        let mut bad = Chain::quicknet();
        bad.public_key[40] ^= 0x01;
        let mut out = Vec::new();
        let e = seal(&lock(bad.clone(), 5, None), &b"secret"[..], &mut out).unwrap_err();
        assert!(matches!(e, EscrowError::PublicKey(_)), "{e}");
        assert!(out.is_empty());
        // Even with a "matching" chain hash, the key check comes first.
        bad.chain_hash = bad.computed_hash().unwrap();
        let e = seal(&lock(bad, 5, None), &b"secret"[..], &mut out).unwrap_err();
        assert!(matches!(e, EscrowError::PublicKey(_)), "{e}");
        assert!(out.is_empty());
        // Wrong chain hash, unsupported scheme, round 0.
        let mut c = Chain::quicknet();
        c.chain_hash[0] ^= 1;
        assert!(seal(&lock(c, 5, None), &b"x"[..], &mut out).is_err());
        let mut c = Chain::quicknet();
        c.scheme = "bls-unchained-on-g1".into();
        assert!(seal(&lock(c, 5, None), &b"x"[..], &mut out).is_err());
        let e = seal(&lock(Chain::quicknet(), 0, None), &b"x"[..], &mut out).unwrap_err();
        assert!(matches!(e, EscrowError::Round(_)), "{e}");
        assert!(out.is_empty());
    }

    #[test]
    fn every_sealed_file_has_a_complete_tlock_stanza() {
        let b = TestBeacon::generate(0, 1);
        for round in [1u64, 2, 1 << 40, u64::MAX] {
            let (ct, _) = sealed(&lock(b.chain(), round, None), b"x");
            let h = header(ct.as_slice()).unwrap();
            assert_eq!(h.round, round);
            let r = open_with_beacon(&b.chain(), round, &b.sign(round), ct.as_slice()).unwrap();
            assert_eq!(read_all(r).unwrap(), b"x");
        }
    }

    #[test]
    fn test_beacon_round_trip_and_early_or_wrong_signatures_are_refused() {
        let b = TestBeacon::generate(1_700_000_000, 3);
        let chain = b.chain();
        let plain = pattern(5000, 2);
        let (ct, _) = sealed(&lock(chain.clone(), 77, None), &plain);
        let r = open_with_beacon(&chain, 77, &b.sign(77), ct.as_slice()).unwrap();
        assert_eq!(read_all(r).unwrap(), plain);
        // An earlier round's genuine signature: the stanza is for 77.
        let e = open_with_beacon(&chain, 76, &b.sign(76), ct.as_slice())
            .err()
            .unwrap();
        assert!(
            matches!(
                e,
                EscrowError::WrongRound {
                    expected: 76,
                    found: 77
                }
            ),
            "{e}"
        );
        // An earlier round's signature passed off as 77: BLS verification fails.
        let e = open_with_beacon(&chain, 77, &b.sign(76), ct.as_slice())
            .err()
            .unwrap();
        assert!(matches!(e, EscrowError::Signature { .. }), "{e}");
        // Another beacon's signature for the right round.
        let other = TestBeacon::generate(1_700_000_000, 3);
        let e = open_with_beacon(&chain, 77, &other.sign(77), ct.as_slice())
            .err()
            .unwrap();
        assert!(matches!(e, EscrowError::Signature { .. }), "{e}");
        // Garbage signatures.
        for s in [vec![], vec![0u8; 48], vec![0xffu8; 48], vec![1u8; 96]] {
            assert!(open_with_beacon(&chain, 77, &s, ct.as_slice()).is_err());
        }
    }

    #[test]
    fn trustee_k_of_n_shares_open_and_k_minus_1_do_not() {
        let b = TestBeacon::generate(1_700_000_000, 3);
        let keys: Vec<SigningKey> = trustee_keys(5);
        let trustees = Trustees {
            threshold: 3,
            keys: keys.iter().map(|k| k.verifying_key()).collect(),
        };
        let plain = pattern(200_000, 3);
        let (ct, s) = sealed(&lock(b.chain(), 9, Some(trustees)), &plain);
        assert_eq!(s.shares.len(), 5);
        let escrow_key = s.escrow_key.unwrap();
        let h = header(ct.as_slice()).unwrap();
        assert_eq!(h.x25519_stanzas, 1);
        assert_eq!(h.round, 9);
        // Sealed JSON round trip (what goes into the commitment).
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Sealed>(&json).unwrap(), s);

        let shares: Vec<Share> = s
            .shares
            .iter()
            .zip(&keys)
            .map(|(e, k)| decrypt_share(e, k).unwrap())
            .collect();
        for sh in &shares {
            assert_eq!(sh.escrow_key, escrow_key);
        }
        for subset in [[0usize, 1, 2], [2, 3, 4], [0, 2, 4], [4, 1, 3]] {
            let picked: Vec<Share> = subset.iter().map(|&i| shares[i].clone()).collect();
            let r = open_with_shares(&picked, ct.as_slice()).unwrap();
            assert_eq!(read_all(r).unwrap(), plain);
        }
        let r = open_with_shares(&shares, ct.as_slice()).unwrap();
        assert_eq!(read_all(r).unwrap(), plain);
        // K-1 shares.
        let e = open_with_shares(&shares[..2], ct.as_slice()).err().unwrap();
        assert!(
            matches!(e, EscrowError::NotEnoughShares { have: 2, need: 3 }),
            "{e}"
        );
        assert!(e.to_string().contains("need 3"));
        // A tampered share: caught by its digest, and by the escrow key check.
        let mut bad = Share::from_bytes(&shares[1].to_bytes()).unwrap();
        let mut bytes = bad.to_bytes();
        bytes[40] ^= 0x04;
        bad = Share::from_bytes(&bytes).unwrap();
        assert!(matches!(
            s.shares[1].check_share(&bad).unwrap_err(),
            EscrowError::ShareDigest { .. }
        ));
        let e = open_with_shares(&[shares[0].clone(), bad, shares[2].clone()], ct.as_slice())
            .err()
            .unwrap();
        assert!(matches!(e, EscrowError::SharesDoNotReconstruct), "{e}");
        // Shares of another escrow.
        let (ct2, s2) = sealed(
            &lock(
                b.chain(),
                9,
                Some(Trustees {
                    threshold: 3,
                    keys: keys.iter().map(|k| k.verifying_key()).collect(),
                }),
            ),
            b"other",
        );
        let other: Vec<Share> = s2
            .shares
            .iter()
            .zip(&keys)
            .map(|(e, k)| decrypt_share(e, k).unwrap())
            .collect();
        let e = open_with_shares(
            &[shares[0].clone(), other[1].clone(), other[2].clone()],
            ct.as_slice(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, EscrowError::MismatchedShares(_)), "{e}");
        let e = open_with_shares(&other[..3], ct.as_slice()).err().unwrap();
        assert!(matches!(e, EscrowError::NoTrusteeStanza), "{e}");
        let r = open_with_shares(&other[..3], ct2.as_slice()).unwrap();
        assert_eq!(read_all(r).unwrap(), b"other");
        // The beacon still opens the trustee escrow, and shares don't open a
        // beacon-only file.
        let r = open_with_beacon(&b.chain(), 9, &b.sign(9), ct.as_slice()).unwrap();
        assert_eq!(read_all(r).unwrap(), plain);
        let (ct3, _) = sealed(&lock(b.chain(), 9, None), b"y");
        let e = open_with_shares(&shares[..3], ct3.as_slice())
            .err()
            .unwrap();
        assert!(matches!(e, EscrowError::NoTrusteeStanza), "{e}");
    }

    #[test]
    fn bad_trustee_sets_are_refused_before_writing() {
        let keys: Vec<_> = trustee_keys(3).iter().map(|k| k.verifying_key()).collect();
        let mut out = Vec::new();
        for (t, ks) in [(0u8, keys.clone()), (4, keys.clone()), (1, vec![])] {
            let l = lock(
                Chain::quicknet(),
                5,
                Some(Trustees {
                    threshold: t,
                    keys: ks,
                }),
            );
            assert!(matches!(
                seal(&l, &b"x"[..], &mut out).unwrap_err(),
                EscrowError::Trustees(_)
            ));
        }
        let many: Vec<_> = trustee_keys(65).iter().map(|k| k.verifying_key()).collect();
        let l = lock(
            Chain::quicknet(),
            5,
            Some(Trustees {
                threshold: 2,
                keys: many,
            }),
        );
        assert!(seal(&l, &b"x"[..], &mut out).is_err());
        assert!(out.is_empty());
        let raw: Vec<[u8; 32]> = keys.iter().map(|k| k.to_bytes()).collect();
        trustees_from_bytes(2, &raw).unwrap();
        assert!(trustees_from_bytes(0, &raw).is_err());
    }

    #[test]
    fn truncated_or_bit_flipped_ciphertext_is_an_error_not_a_panic() {
        let b = TestBeacon::generate(1_700_000_000, 3);
        let keys = trustee_keys(2);
        let trustees = Trustees {
            threshold: 2,
            keys: keys.iter().map(|k| k.verifying_key()).collect(),
        };
        let plain = pattern(3 * 65536 + 100, 4);
        let (ct, s) = sealed(&lock(b.chain(), 3, Some(trustees)), &plain);
        let shares: Vec<Share> = s
            .shares
            .iter()
            .zip(&keys)
            .map(|(e, k)| decrypt_share(e, k).unwrap())
            .collect();
        let sig = b.sign(3);
        let open_beacon = |c: &[u8]| -> Result<Vec<u8>, String> {
            let r = open_with_beacon(&b.chain(), 3, &sig, c).map_err(|e| e.to_string())?;
            read_all(r).map_err(|e| e.to_string())
        };
        let open_shares = |c: &[u8]| -> Result<Vec<u8>, String> {
            let r = open_with_shares(&shares, c).map_err(|e| e.to_string())?;
            read_all(r).map_err(|e| e.to_string())
        };
        assert_eq!(open_beacon(&ct).unwrap(), plain);
        assert_eq!(open_shares(&ct).unwrap(), plain);
        let header_len = ct.windows(4).position(|w| w == b"\n---").unwrap() + 48;
        // Truncations: inside the header, at the payload start, mid-chunk, one byte short.
        for cut in [
            0,
            1,
            10,
            100,
            header_len - 5,
            header_len + 16,
            70_000,
            ct.len() - 1,
        ] {
            assert!(open_beacon(&ct[..cut]).is_err(), "cut {cut}");
            assert!(open_shares(&ct[..cut]).is_err(), "cut {cut}");
        }
        // Trailing garbage.
        let mut long = ct.clone();
        long.push(0);
        assert!(open_beacon(&long).is_err());
        // Bit flips everywhere (header lines, stanza bodies, MAC, nonce, payload, tag).
        let step = ct.len() / 97;
        for i in (0..ct.len())
            .step_by(step.max(1))
            .chain([ct.len() - 1, header_len + 20])
        {
            let mut c = ct.clone();
            c[i] ^= 0x20;
            assert!(open_beacon(&c).is_err(), "flip at {i}");
            assert!(open_shares(&c).is_err(), "flip at {i}");
        }
        // Garbage and empty input.
        for g in [
            &b""[..],
            b"age-encryption.org/v1\n",
            b"-----BEGIN AGE ENCRYPTED FILE-----\n",
            &[0xff; 300],
        ] {
            assert!(open_beacon(g).is_err());
            assert!(open_shares(g).is_err());
            assert!(header(g).is_err());
        }
    }

    #[test]
    fn oversized_headers_are_refused_without_buffering_them() {
        let b = TestBeacon::generate(1_700_000_000, 3);
        let mut evil = b"age-encryption.org/v1\n-> tlock 1 ".to_vec();
        evil.extend(std::iter::repeat_n(b'a', 8 << 20));
        let e = open_with_beacon(&b.chain(), 1, &b.sign(1), evil.as_slice())
            .err()
            .unwrap();
        assert!(e.to_string().contains("longer than"), "{e}");
        assert!(header(evil.as_slice()).is_err());
        assert!(open_with_shares(&[], evil.as_slice()).is_err());
    }

    #[test]
    fn sizes_around_the_64k_chunk_boundary_round_trip() {
        let b = TestBeacon::generate(1_700_000_000, 3);
        let chain = b.chain();
        let sig = b.sign(2);
        let l = lock(chain.clone(), 2, None);
        for n in [
            0usize, 1, 15, 16, 65535, 65536, 65537, 131071, 131072, 131073, 200_000,
        ] {
            let plain = pattern(n, n as u64);
            let (ct, s) = sealed(&l, &plain);
            assert_eq!(s.plaintext_len, n as u64);
            // Read in odd-sized pieces to exercise the streaming reader.
            let mut r = open_with_beacon(&chain, 2, &sig, ct.as_slice()).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 7777];
            loop {
                let k = r.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
            }
            assert_eq!(got, plain, "size {n}");
        }
    }

    #[test]
    fn armored_and_binary_inputs_both_open() {
        let b = TestBeacon::generate(1_700_000_000, 3);
        let (ct, _) = sealed(&lock(b.chain(), 4, None), b"armor me");
        let mut armored = Vec::new();
        {
            let mut w = age::armor::ArmoredWriter::wrap_output(
                &mut armored,
                age::armor::Format::AsciiArmor,
            )
            .unwrap();
            w.write_all(&ct).unwrap();
            w.finish().unwrap();
        }
        let r = open_with_beacon(&b.chain(), 4, &b.sign(4), armored.as_slice()).unwrap();
        assert_eq!(read_all(r).unwrap(), b"armor me");
    }

    /// A writer that fails after `limit` bytes.
    struct FailingWriter {
        limit: usize,
        written: usize,
    }
    impl Write for FailingWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written >= self.limit {
                return Err(io::Error::other("disk full"));
            }
            let n = buf.len().min(self.limit - self.written);
            self.written += n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn reader_and_writer_errors_are_returned() {
        let b = TestBeacon::generate(1_700_000_000, 3);
        let l = lock(b.chain(), 4, None);
        let plain = pattern(300_000, 5);
        let e = seal(
            &l,
            plain.as_slice(),
            FailingWriter {
                limit: 100_000,
                written: 0,
            },
        )
        .unwrap_err();
        assert!(matches!(e, EscrowError::Io(_)), "{e}");
        struct FailingReader;
        impl Read for FailingReader {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("read failed"))
            }
        }
        assert!(seal(&l, FailingReader, Vec::new()).is_err());
        assert!(open_with_beacon(&b.chain(), 4, &b.sign(4), FailingReader).is_err());
    }
}
