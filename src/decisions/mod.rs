//! Ranking decisions: the records a platform logs ([`decision`]), the batch tree over them
//! ([`batch`]), the receipts handed to the people ranked ([`receipt`]) and the replay of
//! receipts against a revealed model ([`replay`]).
//!
//! Never: talks to the log or the network; callers fetch entries and models and hand them in.

pub mod batch;
pub mod decision;
pub mod receipt;
pub mod replay;
