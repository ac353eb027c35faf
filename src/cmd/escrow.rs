//! `embargo escrow ...`: trustees post their shares, anyone posts a round signature, a
//! platform retries a deposit; and a local test beacon for demos and tests. Also the sealing
//! step `embargo commit --escrow tlock` uses.

use anyhow::{bail, ensure, Context};
use base64::prelude::{Engine, BASE64_STANDARD};
use embargo::api::{RoundSignature, SharePost};
use embargo::client::{file_body, Client};
use embargo::core::note::{KeyPair, PublicKey};
use embargo::core::predicate::{hex, Escrow, Trustee, ESCROW_SCHEME};
use embargo::escrow::{self, Chain, Lock, TestBeacon, Trustees};
use embargo::log::registry::share_request_message;
use embargo::model::digest::{FileHasher, Manifest};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// As a trustee: decrypt your share of an escrow and post it to the log (after reveal_at).
    Share(ShareArgs),
    /// Hand the log a drand round signature; it opens the escrows locked to that round.
    Beacon(BeaconArgs),
    /// Deposit (or re-deposit) an escrow's ciphertext, e.g. after `commit --escrow` failed to.
    Deposit(DepositArgs),
    /// Open an escrow yourself, trusting nothing the log says: download the public ciphertext,
    /// check it against the commitment, decrypt it with the round signature (or the shares) the
    /// log's reveal entry published, or one you give, and check the model digest. Exit 1 if the
    /// escrow opens to other bytes than the committed model.
    Open(Box<OpenArgs>),
    /// A local drand-style beacon for demos and tests (a BLS key on your disk: not a timelock).
    #[command(subcommand)]
    TestBeacon(TestBeaconCommand),
}

#[derive(clap::Args)]
pub struct ShareArgs {
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// The escrowed commitment's index.
    #[arg(long)]
    commitment: u64,
    /// The trustee's private key.
    #[arg(long)]
    key: PathBuf,
}

#[derive(clap::Args)]
pub struct BeaconArgs {
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// The round.
    #[arg(long)]
    round: u64,
    /// The round's BLS signature, hex (as drand's /public/<round> serves it).
    #[arg(long, value_parser = round_signature)]
    signature: String,
    /// The chain's hash, hex (default: quicknet).
    #[arg(long)]
    chain: Option<String>,
}

#[derive(clap::Args)]
pub struct DepositArgs {
    /// The ciphertext file (`commit --escrow-out` keeps it).
    file: PathBuf,
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// The escrowed commitment's index.
    #[arg(long)]
    commitment: u64,
}

#[derive(clap::Args)]
pub struct OpenArgs {
    /// The escrowed commitment's index.
    commitment: u64,
    /// The log's URL.
    #[arg(long, value_parser = super::log_url)]
    log: String,
    /// The log's verifier key.
    #[arg(long)]
    vkey: PublicKey,
    /// Where to write what the escrow opens to (must not exist yet).
    #[arg(long)]
    out: PathBuf,
    /// The round's BLS signature, hex (default: the one the log's reveal entry published).
    #[arg(long, value_parser = round_signature)]
    signature: Option<String>,
    #[command(flatten)]
    witnesses: super::WitnessFlags,
}

#[derive(clap::Subcommand)]
pub enum TestBeaconCommand {
    /// Make a beacon: writes <dir>/chain.json (drand chain info) and <dir>/beacon.secret.
    New {
        /// Where to write the beacon.
        dir: PathBuf,
        /// Seconds between rounds.
        #[arg(long, default_value_t = 3)]
        period: u64,
    },
    /// Print a round's signature as drand serves it: {"round": R, "signature": "<hex>"}.
    Sign {
        /// The beacon directory `new` wrote.
        dir: PathBuf,
        /// The round to sign.
        #[arg(long)]
        round: u64,
    },
}

pub async fn run(c: Command) -> anyhow::Result<()> {
    match c {
        Command::Share(a) => share(a).await,
        Command::Beacon(a) => beacon(a).await,
        Command::Deposit(a) => deposit(a).await,
        Command::Open(a) => open(*a).await,
        Command::TestBeacon(t) => test_beacon(t),
    }
}

/// The chain `--beacon` names: `quicknet`, or a chain info JSON file.
pub fn chain_from_flag(flag: &str) -> anyhow::Result<Chain> {
    if flag == "quicknet" {
        return Ok(Chain::quicknet());
    }
    let text = std::fs::read_to_string(flag).with_context(|| {
        format!("--beacon {flag:?} is neither \"quicknet\" nor a readable chain info file")
    })?;
    Chain::from_info_json(&text).with_context(|| format!("{flag} is not a usable drand chain"))
}

/// A writer that hashes what passes through it into the ciphertext's chunk-tree root.
struct Hashing<W> {
    inner: W,
    hasher: FileHasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Seals the model stream of `model` into `out` for `lock`, and describes the escrow for the
/// commitment. Streams: memory stays constant whatever the model's size.
pub fn seal_model(
    model: &Path,
    manifest: &Manifest,
    lock: &Lock,
    trustee_keys: &[PublicKey],
    out: &Path,
) -> anyhow::Result<Escrow> {
    let file = std::fs::File::create(out)
        .with_context(|| format!("cannot create the ciphertext file {}", out.display()))?;
    // Hashing and writing the ciphertext run on their own thread, beside the encryption.
    let mut sink = embargo::model::pipeline::write_behind(Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: FileHasher::new(),
    });
    let (reader, mut writer) = io::pipe().context("cannot make a pipe")?;
    let sealed = std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut w = BufWriter::with_capacity(1 << 20, &mut writer);
            embargo::model::model_stream::write_stream(model, manifest, &mut w)?;
            w.flush()
        });
        let sealed = escrow::seal(
            lock,
            io::BufReader::with_capacity(1 << 20, reader),
            &mut sink,
        );
        let produced = producer.join().expect("the model reader panicked");
        produced.with_context(|| format!("reading the model {}", model.display()))?;
        sealed.context("sealing the model")
    })?;
    let mut sink = sink
        .finish()
        .with_context(|| format!("writing {}", out.display()))?;
    sink.flush()
        .and_then(|()| sink.inner.get_ref().sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    let size = std::fs::metadata(out)?.len();
    let (root, _) = sink.hasher.finish();
    let trustees = trustee_keys
        .iter()
        .zip(&sealed.shares)
        .map(|(key, share)| Trustee {
            key: key.clone(),
            share: BASE64_STANDARD.encode(&share.ciphertext),
            share_digest: hex(&share.share_digest),
        })
        .collect();
    Ok(Escrow {
        scheme: ESCROW_SCHEME.into(),
        ciphertext_digest: format!("sha3-256:{}", hex(&root)),
        ciphertext_size: size,
        lock_round: lock.round,
        chain_hash: hex(&lock.chain.chain_hash),
        threshold: lock.trustees.as_ref().map(|t| t.threshold as u32),
        trustees,
    })
}

/// The trustees `--trustees K --trustee VKEY...` name.
pub fn trustees_from_flags(k: Option<u8>, keys: &[PublicKey]) -> anyhow::Result<Option<Trustees>> {
    match (k, keys.len()) {
        (None, 0) => Ok(None),
        (None, _) => bail!("--trustee needs --trustees K: how many of them open the escrow"),
        (Some(_), 0) => bail!("--trustees K needs the trustees: --trustee VKEY, once per trustee"),
        (Some(k), n) if k == 0 || k as usize > n => {
            bail!("--trustees {k} must be between 1 and the {n} trustees given")
        }
        (Some(k), _) => Ok(Some(Trustees {
            threshold: k,
            keys: keys.iter().map(|k| *k.ed25519()).collect(),
        })),
    }
}

async fn share(a: ShareArgs) -> anyhow::Result<()> {
    let key = KeyPair::read_file(&a.key)?;
    let client = Client::new(&a.log);
    let view = client.commitment(a.commitment).await?;
    let c = view.commitment;
    let Some(e) = &c.escrow else {
        bail!("commitment {} has no escrow", c.index);
    };
    let me = key.public().key_ref();
    let Some(t) = e.trustees.iter().find(|t| t.key.key_ref() == me) else {
        bail!(
            "{me} is not a trustee of commitment {}'s escrow (its trustees: {})",
            c.index,
            e.trustees
                .iter()
                .map(|t| t.key.key_ref())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let encrypted = escrow::EncryptedShare {
        trustee: *t.key.ed25519(),
        ciphertext: BASE64_STANDARD
            .decode(&t.share)
            .context("the commitment's encrypted share is not base64")?,
        share_digest: hex32(&t.share_digest)
            .context("the commitment's share digest is not 64 hex digits")?,
    };
    let share = escrow::decrypt_share(&encrypted, key.ed25519())
        .context("cannot decrypt your share with this key")?;
    if hex(&share.digest()) != t.share_digest {
        bail!(
            "your share decrypts, but its digest is not the one commitment {} published: the platform gave you a bad share; keep this as evidence",
            c.index
        );
    }
    let msg = share_request_message(
        client_origin(&client).await?.as_str(),
        c.index,
        &t.share_digest,
    );
    let post = SharePost {
        trustee: me.clone(),
        share: share.to_text(),
        signature: BASE64_STANDARD.encode(key.sign(&msg)),
    };
    let answer = client.post_share(c.index, &post).await?;
    match answer.opened {
        Some(o) if o.matches_commitment => eprintln!(
            "share posted; with {} of {} shares the escrow opened: commitment {} revealed by escrow at entry {}",
            answer.shares_posted, answer.threshold, c.index, o.reveal.index
        ),
        Some(o) => eprintln!(
            "share posted; the escrow opened but NOT to the committed model: logged as escrow-invalid at entry {}",
            o.reveal.index
        ),
        None => eprintln!(
            "share posted: {} of {} shares are in; the escrow opens at {}",
            answer.shares_posted, answer.threshold, answer.threshold
        ),
    }
    Ok(())
}

async fn client_origin(client: &Client) -> anyhow::Result<String> {
    Ok(client.info().await?.origin)
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

async fn beacon(a: BeaconArgs) -> anyhow::Result<()> {
    let client = Client::new(&a.log);
    let opened = client
        .post_beacon(&RoundSignature {
            round: a.round,
            signature: a.signature.trim().to_owned(),
            chain_hash: a.chain,
        })
        .await?;
    for o in &opened.opened {
        if o.matches_commitment {
            eprintln!(
                "commitment {}: revealed by escrow at entry {}",
                o.commitment, o.reveal.index
            );
        } else {
            eprintln!(
                "commitment {}: ESCROW INVALID (it does not open to the committed model), logged at entry {}",
                o.commitment, o.reveal.index
            );
        }
    }
    for s in &opened.skipped {
        eprintln!("commitment {}: not opened: {}", s.commitment, s.reason);
    }
    println!("{}", serde_json::to_string_pretty(&opened)?);
    Ok(())
}

async fn deposit(a: DepositArgs) -> anyhow::Result<()> {
    let client = Client::new(&a.log);
    deposit_file(&client, a.commitment, &a.file).await
}

/// Uploads a ciphertext file for commitment `index`.
pub async fn deposit_file(client: &Client, index: u64, file: &Path) -> anyhow::Result<()> {
    // The log answers a deposit it already holds without reading the body: ask first.
    if client.commitment(index).await?.escrow_deposited == Some(true) {
        eprintln!("escrow of commitment {index}: the log already holds its ciphertext");
        return Ok(());
    }
    let (body, len) = file_body(file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let d = client
        .deposit_escrow(index, body, len)
        .await
        .with_context(|| {
            format!(
                "the escrow was not deposited; retry with `embargo escrow deposit {} --log {} --commitment {index}`",
                file.display(),
                client.base()
            )
        })?;
    eprintln!(
        "escrow of commitment {index} deposited ({} bytes, {}){}",
        d.ciphertext_size,
        d.ciphertext_digest,
        if d.stored {
            ""
        } else {
            "; the log already held it"
        }
    );
    Ok(())
}

async fn open(a: OpenArgs) -> anyhow::Result<()> {
    use embargo::core::checkpoint::SignedCheckpoint;
    use embargo::core::predicate::{Kind, Predicate};
    use futures_util::TryStreamExt;
    use std::io::Read;

    ensure!(
        !a.out.exists(),
        "{} exists: choose another --out",
        a.out.display()
    );
    let client = Client::new(&a.log);
    let cp = SignedCheckpoint::verify(&client.checkpoint().await?, &a.vkey)
        .context("the log's checkpoint is not signed by --vkey")?;
    embargo::client::verify::check_witnessed(&cp, a.witnesses.requirement()?.as_ref())?;
    let leaf = super::fetch::included_entry(&client, &a.vkey, &cp, a.commitment).await?;
    let commitment = super::fetch::typed(&leaf, Kind::ModelCommitment, a.commitment)?;
    let Predicate::ModelCommitment(c) = &commitment.predicate else {
        unreachable!("parsed as a commitment")
    };
    let e = c
        .escrow
        .as_ref()
        .with_context(|| format!("commitment {} has no escrow", a.commitment))?;

    // The key: a signature given here, or the evidence of the log's reveal by escrow.
    let key = match &a.signature {
        Some(sig) => Key::Beacon(
            e.lock_round,
            hex::decode(sig.trim()).context("--signature is not hex")?,
        ),
        None => evidence(&client, &a.vkey, &cp, a.commitment).await?,
    };
    let chain = client
        .beacons()
        .await?
        .chains
        .into_iter()
        .find(|ch| hex(&ch.chain_hash) == e.chain_hash)
        .with_context(|| format!("the log does not list chain {}", e.chain_hash))?;

    // Download the ciphertext, checking it against the committed digest.
    let tmp = a.out.with_extension("ciphertext.partial");
    let mut file = std::fs::File::create(&tmp)?;
    let mut hasher = FileHasher::new();
    let mut stream = client.escrow_ciphertext(a.commitment).await?.bytes_stream();
    while let Some(chunk) = stream.try_next().await? {
        hasher.update(&chunk);
        file.write_all(&chunk)?;
    }
    file.sync_all()?;
    let got = format!("sha3-256:{}", hex(&hasher.finish().0));
    if got != e.ciphertext_digest {
        let _ = std::fs::remove_file(&tmp);
        bail!("the log served a ciphertext with digest {got}, but the commitment escrows {}: nothing was opened", e.ciphertext_digest);
    }

    let ciphertext = io::BufReader::new(std::fs::File::open(&tmp)?);
    let plain: Box<dyn Read + Send> = match key {
        Key::Beacon(round, sig) => {
            Box::new(escrow::open_with_beacon(&chain, round, &sig, ciphertext)?)
        }
        Key::Shares(shares) => Box::new(escrow::open_with_shares(&shares, ciphertext)?),
    };
    let out = a.out.clone();
    let manifest = tokio::task::spawn_blocking(move || super::fetch::unpack(plain, &out)).await?;
    let _ = std::fs::remove_file(&tmp);
    let manifest = manifest.context("the escrow does not open to a model stream")?;
    let opened = manifest.digest().to_hex();
    if opened != commitment.subject_digest {
        bail!(
            "the escrow of commitment {} opens to a model with digest {opened} (written to {}), NOT the committed {}: the platform's escrow is invalid",
            a.commitment,
            a.out.display(),
            commitment.subject_digest
        );
    }
    eprintln!(
        "OK: the escrow of commitment {} opens to the committed model {} {} (sha3-256:{opened}), written to {}",
        a.commitment,
        c.model.name,
        c.model.version,
        a.out.display()
    );
    Ok(())
}

/// What opens an escrow, as `open` uses it.
enum Key {
    Beacon(u64, Vec<u8>),
    Shares(Vec<escrow::Share>),
}

/// The round signature or shares the log published in its reveal-by-escrow entry for
/// `commitment` (the entry is checked: included in `cp`, signed by the log).
async fn evidence(
    client: &Client,
    vkey: &PublicKey,
    cp: &embargo::core::checkpoint::SignedCheckpoint,
    commitment: u64,
) -> anyhow::Result<Key> {
    use embargo::core::predicate::{Kind, OpenedWith, Predicate, RevealedBy};
    let view = client.commitment(commitment).await?.commitment;
    let entry = view
        .escrow_invalid
        .or(view
            .reveal
            .as_ref()
            .filter(|r| r.revealed_by == RevealedBy::Escrow)
            .map(|r| r.index))
        .with_context(|| {
            format!("the log has not opened commitment {commitment}'s escrow: give the round's --signature")
        })?;
    let leaf = super::fetch::included_entry(client, vkey, cp, entry).await?;
    leaf.envelope
        .verify(|id| (id == vkey.key_ref()).then_some(vkey))
        .with_context(|| format!("entry {entry} is not signed by the log"))?;
    let Predicate::Reveal(r) = super::fetch::typed(&leaf, Kind::Reveal, entry)?.predicate else {
        unreachable!("parsed as a reveal")
    };
    ensure!(
        r.commitment == commitment,
        "entry {entry} is not about commitment {commitment}"
    );
    let ev = r
        .escrow
        .with_context(|| format!("entry {entry} holds no escrow evidence"))?;
    Ok(match ev.opened_with {
        OpenedWith::Beacon => Key::Beacon(
            ev.round.context("the evidence has no round")?,
            hex::decode(ev.signature.context("the evidence has no signature")?)?,
        ),
        OpenedWith::Trustees => Key::Shares(
            ev.shares
                .iter()
                .map(|p| escrow::Share::from_text(&p.share))
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn test_beacon(c: TestBeaconCommand) -> anyhow::Result<()> {
    match c {
        TestBeaconCommand::New { dir, period } => {
            std::fs::create_dir_all(&dir)?;
            let now = chrono::Utc::now().timestamp() as u64;
            // Genesis a little in the past, so round numbers are small and positive now.
            let b = TestBeacon::generate(now.saturating_sub(period * 10), period);
            let chain = b.chain();
            std::fs::write(dir.join("chain.json"), chain.to_info_json())?;
            write_secret(&dir.join("beacon.secret"), &b.to_secret_hex())?;
            eprintln!(
                "test beacon {} (period {period}s) in {}: serve it with `embargo serve --beacon-chain {}`",
                hex(&chain.chain_hash),
                dir.display(),
                dir.join("chain.json").display()
            );
            Ok(())
        }
        TestBeaconCommand::Sign { dir, round } => {
            let b = read_beacon(&dir)?;
            let out = RoundSignature {
                round,
                signature: hex(&b.sign(round)),
                chain_hash: Some(hex(&b.chain().chain_hash)),
            };
            println!("{}", serde_json::to_string(&out)?);
            Ok(())
        }
    }
}

fn read_beacon(dir: &Path) -> anyhow::Result<TestBeacon> {
    let secret = std::fs::read_to_string(dir.join("beacon.secret")).with_context(|| {
        format!(
            "no test beacon in {} (make one with `embargo escrow test-beacon new`)",
            dir.display()
        )
    })?;
    let chain = std::fs::read_to_string(dir.join("chain.json"))?;
    let chain = Chain::from_info_json(&chain)?;
    TestBeacon::from_secret_hex(secret.trim(), chain.genesis_time, chain.period)
        .context("the beacon secret is malformed")
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}

/// A `--signature` value: a drand round signature, hex (96 digits on quicknet's G1, 192 on G2).
fn round_signature(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.len() != 96 && s.len() != 192 {
        return Err(format!(
            "{} characters; a drand round signature is 96 (quicknet) or 192 hex digits",
            s.len()
        ));
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("not hex: copy the \"signature\" of drand's /public/<round>".into());
    }
    Ok(s.to_owned())
}
