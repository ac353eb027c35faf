//! Serving connections: the accept loop and the limits that keep one client from stalling the
//! others. Every connection is HTTP/1.1 on hyper with a header read timeout; connections are
//! counted in total and per client address, and one over either cap is answered `503` (JSON,
//! `Retry-After`) and closed at once, without reading it; on shutdown the listener closes,
//! in-flight requests get a bounded drain, and whatever is still open then is dropped.
//!
//! Owns: accepting, the connection caps, the header timeout, the drain. Never: looks at a
//! request's path or body (per-request limits are in [`super::pace`] and the service's
//! admission), or decides anything about the log.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// The limits on connections (see README, "Limits").
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Open connections in total; more are answered 503 and closed.
    pub max_connections: usize,
    /// Open connections from one client address; more are answered 503 and closed.
    pub max_per_client: usize,
    /// How long a client has to send a request's headers (each request on a connection).
    pub header_timeout: Duration,
    /// How long in-flight requests may take to finish once shutdown begins.
    pub drain: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 1024,
            max_per_client: 128,
            header_timeout: Duration::from_secs(10),
            drain: Duration::from_secs(10),
        }
    }
}

/// Open connections, in total and by client address.
#[derive(Default)]
struct Counts {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// A connection's place under the caps, given back on drop.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap();
        c.total -= 1;
        if let Some(n) = c.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                c.by_client.remove(&self.client);
            }
        }
    }
}

/// Why a connection was not admitted.
enum Full {
    Total(usize),
    Client(usize),
}

fn admit(counts: &Arc<Mutex<Counts>>, client: IpAddr, l: &ConnectionLimits) -> Result<Slot, Full> {
    let mut c = counts.lock().unwrap();
    if c.total >= l.max_connections {
        return Err(Full::Total(c.total));
    }
    let mine = c.by_client.entry(client).or_insert(0);
    if *mine >= l.max_per_client {
        return Err(Full::Client(*mine));
    }
    *mine += 1;
    c.total += 1;
    Ok(Slot {
        counts: counts.clone(),
        client,
    })
}

/// The answer to a connection over a cap: written without reading the request, best effort
/// (a client that has not read it yet may see the close first).
fn refusal(full: &Full) -> Vec<u8> {
    let message = match full {
        Full::Total(n) => format!("the log has {n} open connections, its limit; retry shortly"),
        Full::Client(n) => format!(
            "your address has {n} open connections to the log, its per-client limit; close some or reuse one (keep-alive)"
        ),
    };
    let body = serde_json::json!({"error": "too_many_connections", "message": message}).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains for at most
/// `limits.drain` and returns (dropping the connections still open).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let counts = Arc::new(Mutex::new(Counts::default()));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut turned_away = TurnedAway::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match admit(&counts, peer.ip(), &limits) {
            Ok(slot) => slot,
            Err(full) => {
                turn_away(stream, &full);
                turned_away.count(&full);
                continue;
            }
        };
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    drain(graceful, &counts, limits.drain).await;
}

/// Connections refused over the caps, reported in the log at most every [`REPORT_EVERY`].
#[derive(Default)]
struct TurnedAway {
    total: u64,
    per_client: u64,
    since: Option<std::time::Instant>,
}

const REPORT_EVERY: Duration = Duration::from_secs(10);

impl TurnedAway {
    fn count(&mut self, full: &Full) {
        match full {
            Full::Total(_) => self.total += 1,
            Full::Client(_) => self.per_client += 1,
        }
        let since = *self.since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() >= REPORT_EVERY || self.total + self.per_client == 1 {
            tracing::warn!(
                over_total_cap = self.total,
                over_per_client_cap = self.per_client,
                "connections turned away (503) since the last report: raise --max-connections or --max-connections-per-client if these are real clients"
            );
            *self = TurnedAway {
                since: Some(std::time::Instant::now()),
                ..TurnedAway::default()
            };
        }
    }
}

fn turn_away(stream: TcpStream, full: &Full) {
    tracing::debug!(
        client = ?stream.peer_addr().ok(),
        "connection over the cap, answered 503"
    );
    let _ = stream.try_write(&refusal(full));
}

async fn drain(graceful: GracefulShutdown, counts: &Arc<Mutex<Counts>>, deadline: Duration) {
    let open = counts.lock().unwrap().total;
    if open > 0 {
        eprintln!(
            "embargo: waiting up to {}s for {open} connections",
            deadline.as_secs_f64()
        );
    }
    if tokio::time::timeout(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        let open = counts.lock().unwrap().total;
        eprintln!("embargo: closing {open} connections still open after the drain deadline");
    }
}
