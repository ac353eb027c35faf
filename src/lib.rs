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
//! | [`core`] | formats and pure logic: signed notes, checkpoints, the Merkle tree and tiles, tlog-proofs, DSSE, leaves and statements ([`core::entry::Leaf::typed`]), predicates, the party and commitment records and their transitions ([`core::records`]) | files, network, sled, axum, reqwest |
//! | [`model`] | what a model's digest is (SHA3 chunk tree, x4 Keccak, the only directory walking), the model stream, stream stages on threads | the log, HTTP, commitments |
//! | [`decisions`] | decision records, batch trees, receipts, replay | the log or the network (callers hand entries in) |
//! | [`escrow`] | tlock and trustee sealing and opening, drand chains and their signatures | the log, HTTP, fetching rounds |
//! | [`audit`] | fairness suites, their evaluation on a model and data, reports | the log, HTTP |
//! | [`rules`] | the admission rules, decided against the registry as of an entry's position ([`rules::admit`], [`rules::apply`]), the embargo policy | storage, the clock, HTTP |
//! | [`monitor`] | `embargo monitor`: the registry and lifecycles recomputed from the entries by [`rules`], split views, its durable state; the network behind [`monitor::follow::LogSource`] | reqwest (in `client::monitor`), printing |
//! | [`witness`] | the C2SP witness: cosignature/v1, `add-checkpoint`, its durable state and its HTTP edge | the log's own state |
//! | [`log`] | durable state: one writer per data directory ([`log::lock`]), tile store, blobs, indexes, the registry of parties and commitments, recovery, the sequencer's batched appends (which runs [`rules`] in log order) | HTTP |
//! | [`service`] | every decision a request needs: submissions ([`service::submit`]), reveals, escrow deposits, openings, shares and the beacon watcher (behind a `RoundSource`), witnessing ([`service::witnessing`]: checkpoints submitted to witnesses behind a `WitnessEndpoint`, the witnessed checkpoint, what an acknowledgement waits for); domain errors | HTTP statuses or headers, the network |
//! | [`api`] | the HTTP API's request and response bodies | I/O, decisions |
//! | [`server`] | HTTP: extract, call the service, answer; the one error mapping; [`server::routes`] | decisions, log state of its own, `client` |
//! | [`client`] | outbound HTTP: the log's API, the transport, drand, witnesses' `add-checkpoint` ([`client::witness`]); the trust checks users rely on ([`client::verify`]: inclusion, a signing key current at the entry's index, K cosignatures from named witnesses) | `server` |
//! | `cmd` (the binary) | argument parsing and printing; joins `client` and `service` (the drand round source, the witness endpoints) | rules of its own |
//!
//! (`witness` is a second application on the same `core`: its own state, service and HTTP
//! edge in one folder, used by `embargo witness serve`.)

pub mod api;
pub mod audit;
pub mod client;
pub mod core;
pub mod decisions;
pub mod escrow;
pub mod log;
pub mod model;
pub mod monitor;
pub mod rules;
pub mod server;
pub mod service;
pub mod witness;
