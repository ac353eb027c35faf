//! `embargo monitor`: arguments, the polling loop, printing (JSON lines or a table) and the
//! webhook. Every decision is the library's ([`embargo::monitor`]); this file joins the
//! follower to [`HttpSource`], the state directory's lock, stdout and the webhook.
//!
//! Exit codes: 0 nothing alarming seen (with `--once`; without it the monitor runs until
//! stopped), 1 the log misbehaved (a split view, a rule broken, entries that do not hash to
//! the tree, a revealed model that is not the committed one), 2 an error (no log URL answered
//! with `--once`, the state directory is locked or unreadable, bad arguments).

use anyhow::Context;
use embargo::client::monitor::HttpSource;
use embargo::core::note::PublicKey;
use embargo::core::records::rfc3339;
use embargo::escrow::Chain;
use embargo::log::lock::DirLock;
use embargo::monitor::derive::LogRules;
use embargo::monitor::event::Event;
use embargo::monitor::follow::{Follower, WitnessPolicy};
use embargo::monitor::state::State;
use embargo::rules::Policy;
use embargo::witness::cosignature::WitnessKey;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The log's URL; repeat it for mirrors of the same log (same origin and key): their
    /// checkpoints are compared with each other.
    #[arg(long = "log", required = true)]
    logs: Vec<String>,
    /// The log's verifier key (`<origin>+<id>+<key>`).
    #[arg(long)]
    vkey: String,
    /// A witness whose cosignatures checkpoints must carry (repeatable).
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// How many of the --witness keys must cosign each checkpoint (default: all of them).
    #[arg(long)]
    witness_threshold: Option<usize>,
    /// How long the witnessed checkpoint may stay behind the size the log announces before
    /// a witness-lag event.
    #[arg(long, default_value = "5m", value_parser = super::parse_duration)]
    witness_lag: Duration,
    /// The monitor's state directory (one monitor per directory).
    #[arg(long)]
    state: PathBuf,
    /// POST every event (JSON) to this URL too; retried, never blocking the monitor.
    #[arg(long)]
    webhook: Option<String>,
    /// Download every revealed model and check its digest against the commitment.
    #[arg(long)]
    verify_reveals: bool,
    /// Poll once and exit (exit code 0, 1 or 2).
    #[arg(long)]
    once: bool,
    /// Print a human table (events, then commitments) instead of JSON lines.
    #[arg(long)]
    summary: bool,
    /// Time between polls.
    #[arg(long, default_value = "10s", value_parser = super::parse_duration)]
    interval: Duration,
    /// The log's grace period after reveal_at (its `serve --grace`; the log does not publish it).
    #[arg(long, default_value = "30d", value_parser = super::parse_duration)]
    grace: Duration,
    /// The log's minimum embargo (its `serve --min-embargo`).
    #[arg(long, default_value = "1d", value_parser = super::parse_duration)]
    min_embargo: Duration,
    /// The log's maximum embargo (its `serve --max-embargo`).
    #[arg(long, default_value = "1830d", value_parser = super::parse_duration)]
    max_embargo: Duration,
    /// A drand chain the log accepts escrows for besides quicknet (its `serve --beacon-chain`).
    #[arg(long = "beacon-chain")]
    beacon_chains: Vec<PathBuf>,
}

/// Runs the monitor; returns the exit code.
pub fn run(a: Args) -> u8 {
    let result = super::runtime().and_then(|rt| rt.block_on(monitor(a)));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("embargo monitor: {e:#}");
            2
        }
    }
}

async fn monitor(a: Args) -> anyhow::Result<u8> {
    let _lock = DirLock::acquire(&a.state, "embargo monitor")?;
    let key: PublicKey = a.vkey.parse().context("--vkey is not a verifier key")?;
    let follower = Follower {
        sources: a.logs.iter().map(|u| HttpSource::new(u)).collect(),
        log: LogRules {
            policy: policy(&a)?,
            key: key.clone(),
        },
        witnesses: witness_policy(&a)?,
        verify_reveals: a.verify_reveals,
        dir: a.state.clone(),
    };
    let mut state = State::load(&a.state, key.name())?;
    let mut out = Output::new(&a);
    loop {
        let now = chrono::Utc::now();
        follower.poll(&mut state, now).await?;
        state.save(&a.state)?;
        out.flush(&mut state, &a.state).await?;
        if a.once {
            let answered = a
                .logs
                .iter()
                .any(|u| !state.unreachable.contains_key(u.trim_end_matches('/')));
            if a.summary {
                print_commitments(&state);
            }
            return Ok(if out.alarmed {
                1
            } else if answered {
                0
            } else {
                2
            });
        }
        tokio::time::sleep(a.interval).await;
    }
}

fn policy(a: &Args) -> anyhow::Result<Policy> {
    let mut beacons = vec![Chain::quicknet()];
    for file in &a.beacon_chains {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the beacon chain {}", file.display()))?;
        beacons.push(
            Chain::from_info_json(&text)
                .with_context(|| format!("{} is not a usable drand chain", file.display()))?,
        );
    }
    let d = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    Ok(Policy {
        min_embargo: d(a.min_embargo),
        max_embargo: d(a.max_embargo),
        grace: d(a.grace),
        beacons,
    })
}

fn witness_policy(a: &Args) -> anyhow::Result<WitnessPolicy> {
    let witnesses = a
        .witnesses
        .iter()
        .map(|w| {
            w.parse::<WitnessKey>()
                .with_context(|| format!("--witness {w:?} is not a witness verifier key"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let threshold = a.witness_threshold.unwrap_or(witnesses.len());
    anyhow::ensure!(
        threshold <= witnesses.len(),
        "--witness-threshold {threshold} is more than the {} --witness keys given",
        witnesses.len()
    );
    Ok(WitnessPolicy {
        witnesses,
        threshold,
        max_lag: chrono::Duration::from_std(a.witness_lag).unwrap_or(chrono::Duration::MAX),
    })
}

/// Where events go: stdout (JSON lines or the table) and the webhook.
struct Output {
    summary: bool,
    webhook: Option<(String, reqwest::Client)>,
    alarmed: bool,
    table_started: bool,
}

impl Output {
    fn new(a: &Args) -> Output {
        let webhook = a.webhook.as_ref().map(|url| {
            let http = embargo::client::http_client(Duration::from_secs(5), &[url]);
            (url.clone(), http)
        });
        Output {
            summary: a.summary,
            webhook,
            alarmed: false,
            table_started: false,
        }
    }

    /// Prints the state's outbox (saved first, so an event is printed once even across a
    /// crash), then delivers what the webhook has not had yet.
    async fn flush(&mut self, state: &mut State, dir: &Path) -> anyhow::Result<()> {
        if !state.outbox.is_empty() {
            let events = std::mem::take(&mut state.outbox);
            for e in &events {
                self.alarmed |= e.kind.alarming();
                self.print(e);
            }
            if self.webhook.is_some() {
                state.webhook_queue.extend(events);
            }
            state.save(dir)?;
        }
        if let Some((url, http)) = &self.webhook {
            let before = state.webhook_queue.len();
            deliver(url, http, &mut state.webhook_queue).await;
            if state.webhook_queue.len() != before {
                state.save(dir)?;
            }
        }
        Ok(())
    }

    fn print(&mut self, e: &Event) {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        if !self.summary {
            let _ = writeln!(
                stdout,
                "{}",
                serde_json::to_string(e).expect("events serialize")
            );
            let _ = stdout.flush();
            return;
        }
        if !self.table_started {
            let _ = writeln!(
                stdout,
                "{:<5} {:<21} {:>6} {:>6}  {:<24}  message",
                "seq", "kind", "entry", "commit", "at"
            );
            self.table_started = true;
        }
        let n = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        let _ = writeln!(
            stdout,
            "{:<5} {:<21} {:>6} {:>6}  {:<24}  {}",
            e.seq,
            e.kind.as_str(),
            n(e.index),
            n(e.commitment),
            e.at.as_deref().unwrap_or("-"),
            e.message
        );
    }
}

/// POSTs queued events in order; each is tried 3 times with backoff; the rest stay queued
/// for the next poll when the webhook is down.
async fn deliver(url: &str, http: &reqwest::Client, queue: &mut Vec<Event>) {
    while let Some(e) = queue.first() {
        let mut delivered = false;
        for attempt in 0..3u32 {
            let sent = http.post(url).json(e).send().await;
            if sent.is_ok_and(|r| r.status().is_success()) {
                delivered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
        }
        if !delivered {
            eprintln!(
                "embargo monitor: the webhook {url} does not accept events; {} kept for the next poll",
                queue.len()
            );
            return;
        }
        queue.remove(0);
    }
}

/// The commitments as recomputed, with their status by the monitor's clock.
fn print_commitments(state: &State) {
    let now = chrono::Utc::now();
    println!(
        "\nlog {} at size {}: {} parties, {} commitments",
        state.origin,
        state.size,
        state.registry.parties.len(),
        state.registry.commitments.len()
    );
    println!(
        "{:>6}  {:<20} {:<24} {:<15} reveal_at",
        "entry", "platform", "model", "status"
    );
    for c in state.registry.commitments.values() {
        println!(
            "{:>6}  {:<20} {:<24} {:<15} {}",
            c.index,
            c.platform,
            format!("{} {}", c.model.name, c.model.version),
            c.status(now).to_string(),
            rfc3339(c.reveal_at)
        );
    }
}
