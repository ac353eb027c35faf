//! How large an escrow's ciphertext can be for a model of a given size: the bound the log
//! checks a commitment's `ciphertext_size` against, so an escrow cannot claim more disk than
//! the model it must hold.

/// The age header's size is bounded by this (the stanzas are a few hundred bytes; the log
/// reads the lock from this much of a deposit's start).
pub const MAX_AGE_HEADER: u64 = 64 * 1024;

/// age's STREAM: 64 KiB plaintext chunks, each with a 16-byte tag, after a 16-byte nonce.
const CHUNK: u64 = 64 * 1024;
const TAG: u64 = 16;
const NONCE: u64 = 16;

/// The largest ciphertext of a model stream for a model of `total_size` bytes in
/// `file_count` files (`max_stream_header` bounds the model stream's header).
pub fn max_ciphertext_size(total_size: u64, max_stream_header: u64) -> u64 {
    let plaintext = total_size.saturating_add(max_stream_header);
    let chunks = plaintext / CHUNK + 1;
    MAX_AGE_HEADER
        .saturating_add(NONCE)
        .saturating_add(plaintext)
        .saturating_add(chunks.saturating_mul(TAG))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_covers_a_chunk_tag_per_64_kib_and_the_header() {
        assert_eq!(max_ciphertext_size(0, 0), MAX_AGE_HEADER + 16 + 16);
        assert_eq!(
            max_ciphertext_size(CHUNK, 0),
            MAX_AGE_HEADER + 16 + CHUNK + 2 * 16
        );
        assert_eq!(max_ciphertext_size(u64::MAX, 10), u64::MAX);
    }
}
