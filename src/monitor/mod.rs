//! The monitor (`embargo monitor`): follows a log through its tiles and checkpoints alone,
//! recomputes every rule and lifecycle from the entries, and reports what it sees.
//!
//! | module | owns | never |
//! |---|---|---|
//! | [`event`] | the event's wire shape and kinds | I/O, deciding |
//! | [`derive`] | the pure core: the registry recomputed by [`crate::rules`], events from entries and a clock | files, network, the clock |
//! | [`follow`] | one poll: checkpoints verified, split views, entries hashed to the tree, behind the [`follow::LogSource`] trait | the network itself (reqwest lives in `client::monitor`), printing |
//! | [`state`] | the durable state directory and evidence files | deciding, fetching |

pub mod derive;
pub mod event;
pub mod follow;
pub mod state;
