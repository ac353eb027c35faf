use anyhow::Context;
use embargo::api::{KeyChange, NewParty, SubmitResponse};
use embargo::client::Client;
use embargo::core::note::PublicKey;
use embargo::core::predicate::Role;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Register a new party (its registration is logged, signed by the log).
    Add {
        name: String,
        /// The party's verifier key (repeatable).
        #[arg(long = "vkey", required = true)]
        vkeys: Vec<PublicKey>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        contact: Option<String>,
        #[command(flatten)]
        conn: Operator,
    },
    /// Add or revoke a party's keys.
    Key {
        #[command(subcommand)]
        change: KeyCommand,
    },
    /// List registered parties.
    List {
        #[arg(long, value_parser = super::log_url)]
        log: String,
    },
}

#[derive(clap::Subcommand)]
pub enum KeyCommand {
    /// Give the party another key.
    Add {
        name: String,
        #[arg(long = "vkey", required = true)]
        vkeys: Vec<PublicKey>,
        #[command(flatten)]
        conn: Operator,
    },
    /// Revoke keys: entries signed with them are refused from now on.
    Revoke {
        name: String,
        #[arg(long = "vkey", required = true)]
        vkeys: Vec<PublicKey>,
        #[command(flatten)]
        conn: Operator,
    },
}

#[derive(clap::Args)]
pub struct Operator {
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// The operator token.
    #[arg(long, env = "EMBARGO_OPERATOR_TOKEN", hide_env_values = true)]
    token: String,
}

fn report(what: &str, answer: &SubmitResponse) {
    eprintln!("{what}: logged as entry {}", answer.index);
    println!("{}", answer.index);
}

pub async fn run(role: Role, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Add {
            name,
            vkeys,
            display_name,
            contact,
            conn,
        } => {
            let answer = Client::new(&conn.log)
                .add_party(
                    &conn.token,
                    &NewParty {
                        name: name.clone(),
                        role,
                        display_name,
                        keys: vkeys,
                        contact,
                    },
                )
                .await
                .with_context(|| format!("cannot register {role} {name}"))?;
            report(&format!("registered {role} {name}"), &answer);
        }
        Command::Key { change } => {
            let (name, conn, change, what) = match change {
                KeyCommand::Add { name, vkeys, conn } => (
                    name,
                    conn,
                    KeyChange {
                        add: vkeys,
                        revoke: vec![],
                    },
                    "added keys to",
                ),
                KeyCommand::Revoke { name, vkeys, conn } => (
                    name,
                    conn,
                    KeyChange {
                        add: vec![],
                        revoke: vkeys,
                    },
                    "revoked keys of",
                ),
            };
            let answer = Client::new(&conn.log)
                .change_keys(&conn.token, &name, &change)
                .await
                .with_context(|| format!("cannot change the keys of {name}"))?;
            report(&format!("{what} {name}"), &answer);
        }
        Command::List { log } => {
            for p in Client::new(&log)
                .parties()
                .await?
                .into_iter()
                .filter(|p| p.role == role)
            {
                println!(
                    "{}\t{}\tkeys: {}\tregistered at entry {}",
                    p.name,
                    p.display_name,
                    p.keys
                        .iter()
                        .map(|k| k.key_ref())
                        .collect::<Vec<_>>()
                        .join(", "),
                    p.registered_at
                );
            }
        }
    }
    Ok(())
}
