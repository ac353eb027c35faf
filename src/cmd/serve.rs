use anyhow::Context;
use embargo::client::drand::DrandEndpoint;
use embargo::client::witness::HttpWitness;
use embargo::core::note::{KeyPair, PublicKey};
use embargo::escrow::Chain;
use embargo::log::registry::Policy;
use embargo::log::sequencer::Sequencer;
use embargo::log::Log;
use embargo::server::{router_with, serve, AppState, ConnectionLimits, Pace};
use embargo::service::admission::{Admission, Bounds};
use embargo::service::witnessing::{WitnessSpec, Witnessing, WitnessingConfig};
use embargo::witness::cosignature::WitnessKey;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The log's data directory (tiles, entry bundles, checkpoint, index, blobs).
    #[arg(long)]
    data: PathBuf,
    /// The log's private key; its name is the log's origin.
    #[arg(long)]
    key: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// How long submissions pool before they are sequenced together (e.g. 100ms, 1s).
    #[arg(long, default_value = "200ms", value_parser = super::parse_duration)]
    interval: Duration,
    /// A verifier key allowed to submit statements of other kinds than Embargo's (repeatable).
    #[arg(long = "allow-key", value_name = "VKEY")]
    allow_keys: Vec<PublicKey>,
    /// Shortest embargo a commitment may ask for (reveal_at minus the log's clock).
    #[arg(long, default_value = "1d", value_parser = super::parse_duration)]
    min_embargo: Duration,
    /// Longest embargo a commitment may ask for.
    #[arg(long, default_value = "1830d", value_parser = super::parse_duration)]
    max_embargo: Duration,
    /// How long a commitment stays "due" after reveal_at before it is "overdue".
    #[arg(long, default_value = "30d", value_parser = super::parse_duration)]
    grace: Duration,
    /// A file holding the operator token (otherwise EMBARGO_OPERATOR_TOKEN; without either
    /// the operator API is disabled).
    #[arg(long)]
    operator_token_file: Option<PathBuf>,
    /// A drand chain escrows may also be locked to, as a chain info JSON file (repeatable;
    /// quicknet is always followed).
    #[arg(long = "beacon-chain", value_name = "FILE")]
    beacon_chains: Vec<PathBuf>,
    /// A drand HTTP endpoint the log fetches round signatures from, to open escrows by itself
    /// (repeatable, tried in order; e.g. https://api.drand.sh). Without one, escrows open when
    /// someone posts the signature (POST /v1/beacon).
    #[arg(long = "drand-url", value_name = "URL")]
    drand_urls: Vec<String>,
    /// How often the log looks for escrows whose round has come, with --drand-url.
    #[arg(long, default_value = "10s", value_parser = super::parse_duration)]
    beacon_poll: Duration,
    /// A witness the log submits every checkpoint to, as its cosignature/v1 vkey and its
    /// submission URL: `VKEY=URL` (repeatable). With witnesses, `/checkpoint` serves the newest
    /// checkpoint that meets --witness-policy.
    #[arg(long = "witness", value_name = "VKEY=URL", value_parser = parse_witness)]
    witnesses: Vec<WitnessSpec>,
    /// How many of the witnesses must cosign a checkpoint before `/checkpoint` serves it
    /// (default: all of them).
    #[arg(long, value_name = "K")]
    witness_policy: Option<usize>,
    /// How long one request to a witness may take.
    #[arg(long, default_value = "5s", value_parser = super::parse_duration)]
    witness_timeout: Duration,
    /// Answer a submission only once a checkpoint covering it meets the witness policy (its
    /// proof then carries the cosignatures); without it, submissions are answered on the log's
    /// own checkpoint.
    #[arg(long, requires = "witnesses")]
    ack_witnessed: bool,
    /// With --ack-witnessed: how long a submission waits before it is answered 503 (the entry
    /// stays logged).
    #[arg(long, default_value = "10s", value_parser = super::parse_duration)]
    ack_timeout: Duration,
    #[command(flatten)]
    limits: LimitArgs,
}

/// `VKEY=URL` of `--witness` (a cosignature/v1 vkey holds no `=`: its base64 has no padding).
fn parse_witness(s: &str) -> anyhow::Result<WitnessSpec> {
    let (vkey, url) = s.split_once('=').with_context(|| {
        format!("--witness {s:?} must be VKEY=URL, e.g. witness.example/w1+1234abcd+BASE64=https://witness.example/w1")
    })?;
    let key: WitnessKey = vkey.parse()?;
    let parsed = reqwest::Url::parse(url)
        .with_context(|| format!("--witness {s:?}: {url:?} is not a URL"))?;
    anyhow::ensure!(
        matches!(parsed.scheme(), "http" | "https"),
        "--witness {s:?}: the URL must be http or https"
    );
    Ok(WitnessSpec {
        key,
        url: url.trim_end_matches('/').to_owned(),
    })
}

/// How much any one client may hold (README, "Limits").
#[derive(clap::Args)]
pub struct LimitArgs {
    /// Open connections in total; more are answered 503 and closed. Lowered to fit the
    /// process's file descriptor limit (minus 128 for the log's own files) if needed.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Open connections from one client address; more are answered 503 and closed. At most
    /// half of --max-connections (as lowered), so one address can never take them all.
    #[arg(long, default_value_t = 128)]
    max_connections_per_client: usize,
    /// How long a client has to send a request's headers; then the connection is closed.
    #[arg(long, default_value = "10s", value_parser = super::parse_duration)]
    header_timeout: Duration,
    /// How long a request body may take before --min-body-rate applies.
    #[arg(long, default_value = "10s", value_parser = super::parse_duration)]
    body_grace: Duration,
    /// Bytes per second a request body must average after --body-grace; a body of declared
    /// length L must also be in within body-grace + L / rate. Slower bodies are dropped.
    #[arg(long, default_value_t = 16384)]
    min_body_rate: u64,
    /// Reveal and escrow uploads received at once; more are answered 503.
    #[arg(long, default_value_t = 16)]
    max_uploads: usize,
    /// Submissions (POST /v1/entries) in progress at once; more are answered 503.
    #[arg(long, default_value_t = 1024)]
    max_pending_submissions: usize,
    /// On SIGTERM or Ctrl-C, how long in-flight requests may take before the connections
    /// still open are closed.
    #[arg(long, default_value = "10s", value_parser = super::parse_duration)]
    drain: Duration,
}

impl LimitArgs {
    fn bounds(&self) -> Bounds {
        Bounds {
            uploads: self.max_uploads.max(1),
            submissions: self.max_pending_submissions.max(1),
        }
    }

    fn pace(&self) -> Pace {
        Pace {
            grace: self.body_grace,
            min_rate: self.min_body_rate.max(1),
        }
    }

    fn connections(&self) -> ConnectionLimits {
        let total = fit_fd_limit(self.max_connections.max(1));
        ConnectionLimits {
            max_connections: total,
            max_per_client: self.max_connections_per_client.clamp(1, total.div_ceil(2)),
            header_timeout: self.header_timeout,
            drain: self.drain,
        }
    }
}

/// File descriptors kept for the log's own files (tiles, blobs, sled) beside connections.
const FD_RESERVE: u64 = 128;

/// Raises the soft file descriptor limit to the hard one, and lowers `wanted` to fit in it.
fn fit_fd_limit(wanted: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct handed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return wanted;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    let room = lim.rlim_cur.saturating_sub(FD_RESERVE).max(16) as usize;
    if room < wanted {
        eprintln!(
            "embargo: --max-connections lowered to {room} to fit the file descriptor limit ({})",
            lim.rlim_cur
        );
    }
    wanted.min(room)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn operator_token(a: &Args) -> anyhow::Result<Option<String>> {
    let token = match &a.operator_token_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("cannot read the operator token from {}", f.display()))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var("EMBARGO_OPERATOR_TOKEN").ok(),
    };
    match token {
        Some(t) if t.len() < 16 => {
            anyhow::bail!("the operator token must be at least 16 characters")
        }
        other => Ok(other),
    }
}

pub fn run(a: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "embargo=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if a.min_embargo > a.max_embargo {
        anyhow::bail!("--min-embargo is longer than --max-embargo");
    }
    let mut beacons = vec![Chain::quicknet()];
    for file in &a.beacon_chains {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the beacon chain {}", file.display()))?;
        let chain = Chain::from_info_json(&text)
            .with_context(|| format!("{} is not a usable drand chain", file.display()))?;
        if !beacons.iter().any(|b| b.chain_hash == chain.chain_hash) {
            beacons.push(chain);
        }
    }
    let policy = Policy {
        min_embargo: chrono_duration(a.min_embargo),
        max_embargo: chrono_duration(a.max_embargo),
        grace: chrono_duration(a.grace),
        beacons,
    };
    let operator_token = operator_token(&a)?;
    let key = KeyPair::read_file(&a.key)?;
    let started = std::time::Instant::now();
    let (log, recovered) = Log::open(&a.data, key, policy)
        .with_context(|| format!("cannot open the log in {}", a.data.display()))?;
    let sequencer = Sequencer::start(log.clone(), recovered, a.interval);
    let writers: HashMap<String, PublicKey> =
        a.allow_keys.into_iter().map(|k| (k.key_ref(), k)).collect();
    let cp = log.checkpoint();
    let urls: Vec<String> = a.witnesses.iter().map(|w| w.url.clone()).collect();
    let witnessing = Witnessing::new(
        &log,
        WitnessingConfig {
            witnesses: a.witnesses.clone(),
            policy: a.witness_policy,
            ack_timeout: a.ack_witnessed.then_some(a.ack_timeout),
            request_timeout: a.witness_timeout,
        },
    )?
    .map(Arc::new);
    let state = Arc::new(AppState {
        log: log.clone(),
        sequencer,
        writers,
        operator_token,
        revealing: Default::default(),
        admin: Default::default(),
        witnessing: witnessing.clone(),
        admission: Admission::new(a.limits.bounds()),
    });
    let (pace, connections) = (a.limits.pace(), a.limits.connections());
    let (drand_urls, beacon_poll) = (a.drand_urls.clone(), a.beacon_poll);
    let runtime = super::runtime()?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.listen)
            .await
            .with_context(|| format!("cannot listen on {}", a.listen))?;
        let addr = listener.local_addr()?;
        log.announce_listen_address(&format!("http://{addr}"))?;
        tracing::info!(
            origin = log.origin(),
            size = cp.size(),
            startup_ms = started.elapsed().as_millis() as u64,
            "log open"
        );
        eprintln!(
            "embargo: log {} ({} entries) listening on http://{addr}",
            log.origin(),
            cp.size()
        );
        eprintln!("embargo: vkey {}", log.key().public());
        tokio::spawn(watch_beacons(state.clone(), drand_urls, beacon_poll));
        if let Some(w) = witnessing {
            eprintln!(
                "embargo: {} witnesses, policy {}{}",
                urls.len(),
                w.policy(),
                if a.ack_witnessed {
                    ", submissions acknowledged once witnessed"
                } else {
                    ""
                }
            );
            let endpoints = HttpWitness::all(&urls, a.witness_timeout);
            tokio::spawn(witness_checkpoints(log.clone(), w, endpoints));
        }
        serve(
            listener,
            router_with(state, pace),
            connections,
            shutdown_signal(),
        )
        .await;
        anyhow::Ok(())
    });
    // Connections still open after the drain are dropped here; blocking reads end with them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

/// Opens escrows whose round has come, with signatures fetched from the drand endpoints at
/// `urls` (tried in order); returns at once without any. The binary is where the drand client
/// (`client::drand`) is handed to the service's beacon watcher: the service never imports the
/// client.
async fn watch_beacons(state: Arc<AppState>, urls: Vec<String>, every: Duration) {
    embargo::service::escrow::watch_beacons(state, DrandEndpoint::all(&urls), every).await
}

/// Gets the log's checkpoints cosigned through the witnesses' HTTP endpoints
/// (`client::witness`), handed here to the service's witnessing task, which never imports
/// the client.
async fn witness_checkpoints(log: Arc<Log>, w: Arc<Witnessing>, endpoints: Vec<HttpWitness>) {
    embargo::service::witnessing::witness_checkpoints(log, w, endpoints).await
}

/// Resolves on Ctrl-C or SIGTERM. Stopping is always safe: acknowledged entries are already
/// durable, and anything unacknowledged is simply not logged.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("embargo: shutting down");
}
