//! What `embargo serve` plugs together across layers: the drand client (`client::drand`) as
//! the round source of the service's beacon watcher. The server and the service never import
//! the client; only the binary, above them all, may join them. (It belongs in `cmd/serve.rs`;
//! it moves there when that file is next reworked.)

use embargo::client::drand::DrandEndpoint;
use embargo::service::AppState;
use std::sync::Arc;
use std::time::Duration;

/// Opens escrows whose round has come, with signatures fetched from the drand endpoints at
/// `urls` (tried in order); returns at once without any.
pub async fn watch_beacons(state: Arc<AppState>, urls: Vec<String>, every: Duration) {
    embargo::service::escrow::watch_beacons(state, DrandEndpoint::all(&urls), every).await
}
