//! The pure core: the formats of the log and of Embargo's statements, and logic over them.
//!
//! Owns: signed notes and keys ([`note`]), checkpoints ([`checkpoint`]), the Merkle tree, tiles
//! and proofs ([`tlog`]), tlog-proof bundles ([`proof`]), DSSE envelopes ([`dsse`]), leaves and
//! in-toto statements ([`entry`]) and Embargo's predicates ([`predicate`]).
//!
//! Never: reads or writes files, opens sockets, touches sled, axum or reqwest, or imports
//! anything outside `core` (every other layer builds on it).

pub mod checkpoint;
pub mod dsse;
pub mod entry;
pub mod note;
pub mod predicate;
pub mod proof;
pub mod records;
pub mod tlog;
