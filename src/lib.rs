//! Embargo: a delayed-publication transparency log for AI models.
//!
//! The pure core (no I/O): [`note`] (keys, signed notes), [`checkpoint`], [`tlog`] (Merkle
//! tree, tiles, proofs), [`proof`] (tlog-proof bundles), [`dsse`] (envelopes), [`entry`]
//! (leaves and statements), and for ranking decisions [`decision`] (records), [`batch`]
//! (batch trees), [`receipt`] (receipts) and [`replay`]. At the edges: [`store`] (durable tile
//! files), [`index`] (sled), [`log`] (recovery and reads), [`sequencer`] (batched appends),
//! [`server`] (HTTP) and [`client`] (HTTP client used by the CLI).

pub mod audit;
pub mod batch;
pub mod blobs;
pub mod checkpoint;
pub mod client;
pub mod decision;
pub mod digest;
pub mod dsse;
pub mod entry;
pub mod escrow;
pub mod index;
pub mod lock;
pub mod log;
pub mod model_stream;
pub mod note;
pub mod pipeline;
pub mod predicate;
pub mod proof;
pub mod receipt;
pub mod records;
pub mod registry;
pub mod replay;
pub mod rules;
pub mod sequencer;
pub mod server;
pub mod store;
pub mod tlog;
pub mod verify;
pub mod witness;
