//! Embargo: a delayed-publication transparency log for AI models.
//!
//! # How it is built
//!
//! Layers in folders; imports go only downward (`cmd` → `server` / `client` → `service` →
//! `log` → domain folders → `core`), never sideways between `server` and `client`, never
//! upward, no cycles. [`api`] sits beside the domain layer: `server` and `client` both look
//! down to it.
//!
//! | module | owns | never |
//! |---|---|---|
//! | [`core`] | formats and pure logic: signed notes, checkpoints, the Merkle tree and tiles, tlog-proofs, DSSE, leaves and statements ([`core::entry::Leaf::typed`]), predicates | files, network, sled, axum, reqwest |
//! | [`model`] | what a model's digest is (SHA3 chunk tree, x4 Keccak, the only directory walking), the model stream, stream stages on threads | the log, HTTP, commitments |
//! | [`decisions`] | decision records, batch trees, receipts, replay | the log or the network (callers hand entries in) |
//! | [`escrow`] | tlock and trustee sealing and opening, drand chains and their signatures | the log, HTTP, fetching rounds |
//! | [`audit`] | fairness suites, their evaluation on a model and data, reports | the log, HTTP |
//! | [`log`] (with [`registry`], [`index`], [`sequencer`]) | durable state: tile store, blobs, indexes, recovery, the sequencer's batched appends, the registry of parties and commitments | HTTP; rules about requests |
//! | [`service`] | every decision a request needs: reveals, escrow deposits, openings, shares and the beacon watcher (behind a `RoundSource`); domain errors | HTTP statuses or headers, the network |
//! | [`api`] | the HTTP API's request and response bodies | I/O, decisions |
//! | [`server`] | HTTP: extract, call the service, answer; the one error mapping; [`server::routes`] | decisions, log state of its own, `client` |
//! | [`client`] | outbound HTTP: the log's API, the transport, drand | `server` |
//! | `cmd` (the binary) | argument parsing and printing; joins `client` and `service` (the drand round source) | rules of its own |
//!
//! Not everything is in place yet: admission (`server/submit.rs`, `registry.rs`) and the files
//! `log.rs`, `index.rs`, `sequencer.rs` keep their paths until their rework lands; party and
//! commitment records still live in [`registry`].

pub mod api;
pub mod audit;
pub mod client;
pub mod core;
pub mod decisions;
pub mod escrow;
pub mod index;
pub mod log;
pub mod model;
pub mod registry;
pub mod sequencer;
pub mod server;
pub mod service;
