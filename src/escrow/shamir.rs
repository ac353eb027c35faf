//! Shamir secret sharing of a 32-byte secret over GF(2^8), byte-wise.
//!
//! Each byte of the secret is the constant term of its own random polynomial of
//! degree `threshold - 1`; share `x` (1..=n, never 0) holds the 32 evaluations at
//! `x`. Any `threshold` shares recover the secret by Lagrange interpolation at 0;
//! fewer reveal nothing about it (information-theoretically).
//!
//! Field: GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b).
//! Multiplication is branch-free and table-free (no secret-dependent memory
//! access or branches); inversion is a^254.
//!
//! Owns only the arithmetic. Never: encodes, encrypts or authenticates shares (see
//! `trustee`), and never panics: bad inputs are `Err(String)`.

use rand::{CryptoRng, RngCore};
use zeroize::Zeroize;

/// Constant-time GF(2^8) multiplication modulo 0x11b.
fn mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    for _ in 0..8 {
        p ^= a & 0u8.wrapping_sub(b & 1);
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & carry);
        b >>= 1;
    }
    p
}

/// Multiplicative inverse (a^254); inv(0) = 0, never used with 0 here.
fn inv(a: u8) -> u8 {
    // a^254 = a^(2+4+8+16+32+64+128)
    let mut result = 1u8;
    let mut sq = a;
    for _ in 0..7 {
        sq = mul(sq, sq);
        result = mul(result, sq);
    }
    result
}

/// Splits `secret` into `n` shares, any `threshold` of which recover it.
/// Returns `(x, y)` pairs with x = 1..=n.
pub fn split<R: RngCore + CryptoRng>(
    secret: &[u8; 32],
    threshold: u8,
    n: u8,
    rng: &mut R,
) -> Result<Vec<(u8, [u8; 32])>, String> {
    if threshold == 0 || threshold > n {
        return Err(format!(
            "threshold must be between 1 and the number of shares ({n}), got {threshold}"
        ));
    }
    let k = usize::from(threshold);
    // coeffs[j][i]: coefficient of x^j for secret byte i; coeffs[0] is the secret.
    let mut coeffs = vec![[0u8; 32]; k];
    coeffs[0] = *secret;
    for c in coeffs.iter_mut().skip(1) {
        rng.fill_bytes(c);
    }
    let mut shares = Vec::with_capacity(usize::from(n));
    for x in 1..=n {
        let mut y = [0u8; 32];
        for (i, yi) in y.iter_mut().enumerate() {
            // Horner from the highest coefficient down.
            let mut acc = 0u8;
            for c in coeffs.iter().rev() {
                acc = mul(acc, x) ^ c[i];
            }
            *yi = acc;
        }
        shares.push((x, y));
    }
    for c in coeffs.iter_mut() {
        c.zeroize();
    }
    Ok(shares)
}

/// Interpolates the secret at 0 from shares with distinct, non-zero x. With exactly
/// `threshold` genuine shares this is the secret; with any wrong share it is
/// garbage (the caller must check the result, e.g. against a public key).
pub fn combine(shares: &[(u8, [u8; 32])]) -> Result<[u8; 32], String> {
    if shares.is_empty() {
        return Err("no shares".into());
    }
    for (i, (xi, _)) in shares.iter().enumerate() {
        if *xi == 0 {
            return Err("share index 0 is invalid".into());
        }
        if shares[..i].iter().any(|(xj, _)| xj == xi) {
            return Err(format!("share index {xi} appears twice"));
        }
    }
    let mut secret = [0u8; 32];
    for (i, (xi, yi)) in shares.iter().enumerate() {
        // Lagrange basis at 0: prod_{j != i} x_j / (x_j - x_i); minus is xor.
        let mut num = 1u8;
        let mut den = 1u8;
        for (j, (xj, _)) in shares.iter().enumerate() {
            if i != j {
                num = mul(num, *xj);
                den = mul(den, xj ^ xi);
            }
        }
        let l = mul(num, inv(den));
        for (s, y) in secret.iter_mut().zip(yi.iter()) {
            *s ^= mul(*y, l);
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};

    fn slow_mul(a: u8, b: u8) -> u8 {
        // Carry-less multiply then reduce.
        let mut p: u16 = 0;
        for i in 0..8 {
            if b >> i & 1 == 1 {
                p ^= u16::from(a) << i;
            }
        }
        for i in (8..16).rev() {
            if p >> i & 1 == 1 {
                p ^= 0x11b << (i - 8);
            }
        }
        p as u8
    }

    #[test]
    fn gf256_mul_matches_reference_and_inverse_is_exact() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), slow_mul(a, b));
            }
            if a != 0 {
                assert_eq!(mul(a, inv(a)), 1, "inv({a})");
            }
        }
        // Known AES value: {57} * {83} = {c1}.
        assert_eq!(mul(0x57, 0x83), 0xc1);
    }

    #[test]
    fn any_k_of_n_shares_recover_and_k_minus_1_do_not() {
        let mut rng = StdRng::seed_from_u64(7);
        for (k, n) in [
            (1u8, 1u8),
            (1, 3),
            (2, 2),
            (2, 3),
            (3, 5),
            (5, 5),
            (7, 64),
            (64, 64),
        ] {
            let mut secret = [0u8; 32];
            rng.fill_bytes(&mut secret);
            let shares = split(&secret, k, n, &mut rng).unwrap();
            assert_eq!(shares.len(), usize::from(n));
            for _ in 0..10 {
                let mut s = shares.clone();
                s.shuffle(&mut rng);
                assert_eq!(combine(&s[..usize::from(k)]).unwrap(), secret, "{k}-of-{n}");
                assert_eq!(combine(&s).unwrap(), secret, "all of {n}");
                if k > 1 {
                    assert_ne!(combine(&s[..usize::from(k) - 1]).unwrap(), secret);
                }
            }
        }
    }

    #[test]
    fn threshold_1_shares_are_the_secret_and_k_gt_1_shares_are_not() {
        let mut rng = StdRng::seed_from_u64(1);
        let secret = [0xabu8; 32];
        for (_, y) in split(&secret, 1, 4, &mut rng).unwrap() {
            assert_eq!(y, secret);
        }
        for (_, y) in split(&secret, 2, 4, &mut rng).unwrap() {
            assert_ne!(y, secret);
        }
    }

    #[test]
    fn a_tampered_share_changes_the_result() {
        let mut rng = StdRng::seed_from_u64(3);
        let secret = [42u8; 32];
        let mut shares = split(&secret, 3, 5, &mut rng).unwrap();
        shares[1].1[17] ^= 1;
        assert_ne!(combine(&shares[..3]).unwrap(), secret);
    }

    #[test]
    fn bad_parameters_and_inputs_are_errors() {
        let mut rng = StdRng::seed_from_u64(0);
        assert!(split(&[0; 32], 0, 3, &mut rng).is_err());
        assert!(split(&[0; 32], 4, 3, &mut rng).is_err());
        assert!(combine(&[]).is_err());
        assert!(combine(&[(0, [0; 32])]).is_err());
        assert!(combine(&[(1, [0; 32]), (1, [1; 32])]).is_err());
    }
}
