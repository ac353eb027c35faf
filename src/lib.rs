//! Embargo: a delayed-publication transparency log for AI models.

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
