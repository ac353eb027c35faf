use embargo::api::CommitmentView;
use embargo::client::Client;

#[derive(clap::Args)]
pub struct Args {
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// One commitment's entry index (otherwise: list).
    index: Option<u64>,
    /// Only this platform's commitments.
    #[arg(long)]
    platform: Option<String>,
    /// Only commitments in this state: sealed, due, revealed or overdue.
    #[arg(long)]
    status: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn line(c: &CommitmentView) -> String {
    let m = &c.commitment;
    let extra = match &m.reveal {
        Some(r) => format!(
            "revealed at entry {} by {:?}{}",
            r.index,
            r.revealed_by,
            if r.on_time { "" } else { " (late)" }
        )
        .to_lowercase(),
        None => format!("reveal_at {}", m.reveal_at.to_rfc3339()),
    };
    let extra = match (&m.escrow, c.escrow_deposited, m.escrow_invalid) {
        (_, _, Some(at)) => format!("{extra}; escrow INVALID (entry {at})"),
        (Some(e), Some(true), None) if m.reveal.is_none() => {
            format!("{extra}; escrow deposited, opens at round {}", e.lock_round)
        }
        (Some(_), Some(false), None) => format!("{extra}; escrow NOT deposited"),
        _ => extra,
    };
    format!(
        "{:>8}  {:<9} {:<20} {}@{}  {}",
        m.index,
        c.status.to_string(),
        m.platform,
        m.model.name,
        m.model.version,
        extra
    )
}

pub async fn run(a: Args) -> anyhow::Result<()> {
    let client = Client::new(&a.log);
    let views = match a.index {
        Some(i) => vec![client.commitment(i).await?],
        None => {
            let mut q = Vec::new();
            if let Some(p) = &a.platform {
                q.push(format!("platform={p}"));
            }
            if let Some(s) = &a.status {
                q.push(format!("status={s}"));
            }
            client.commitments(&q.join("&")).await?.commitments
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&views)?);
    } else if views.is_empty() {
        eprintln!("{}", nothing_matched(&a));
    } else {
        for v in &views {
            println!("{}", line(v));
        }
    }
    Ok(())
}

/// What to say when no commitment matched the filters.
fn nothing_matched(a: &Args) -> String {
    let mut filters = Vec::new();
    if let Some(p) = &a.platform {
        filters.push(format!("platform {p}"));
    }
    if let Some(s) = &a.status {
        filters.push(format!("status {s}"));
    }
    if filters.is_empty() {
        format!("no commitments in the log at {} yet", a.log)
    } else {
        format!(
            "no commitments match {} in the log at {} (drop a filter to see more)",
            filters.join(" and "),
            a.log
        )
    }
}
