//! Models as bytes: what a model's digest is ([`digest`]: the SHA3 chunk tree, the x4 Keccak,
//! the only directory walking of the crate), the model stream that carries a model's files
//! over HTTP and through escrows ([`model_stream`]), and the threads that overlap its stages
//! ([`pipeline`]).
//!
//! Never: knows about the log, HTTP or commitments; it reads the files it is pointed at and
//! the streams it is handed, and nothing else.

pub mod digest;
pub mod model_stream;
pub mod pipeline;
