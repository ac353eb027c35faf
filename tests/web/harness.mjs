// Seeds a real Embargo log through the real CLI (target/release/embargo) and drives Debian's
// Chromium with playwright-core. Used by site.test.mjs; run it directly to get a seeded log to
// look at by hand:   node tests/web/harness.mjs   (serves web/ from disk: edit and reload)
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, createHash } from 'node:crypto';
import http from 'node:http';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
export const BIN = process.env.EMBARGO_BIN || join(repo, 'target/release/embargo');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = join(here, 'artifacts');

/** The grace period of the seeded log: a commitment is overdue this long after its reveal date. */
export const GRACE_S = 30;

function run(args, { cwd, env } = {}) {
  return new Promise((ok, fail) => {
    execFile(BIN, args, { cwd, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`embargo ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else ok(stdout.trim());
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Asks `check` every 250 ms until it says true; throws after `timeout` ms, saying `what()`.
async function poll(what, check, timeout = 15_000) {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await sleep(250);
  }
}

function writeModel(dir, files) {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

/**
 * Starts `embargo serve` on a fresh data directory and seeds it through the CLI:
 *  - platforms social.example and market.example, auditor audits.example;
 *  - "feed-ranker 1.0" (social): committed, revealed early by the platform (on time),
 *    audited (pass, with metrics and a full report, uploaded if the log stores reports) and
 *    with one decision batch;
 *  - "feed-ranker 0.9" (social): committed with a 2 s embargo, never revealed: overdue;
 *  - "ads-ranker 3.1" (social): committed with a 2 s embargo, revealed after the grace
 *    period: revealed late;
 *  - "feed-ranker 1.1" (social): committed last with a 2 s embargo: due for GRACE_S seconds.
 *  - "search-ranker 7" (market): sealed for 30 days (a countdown), its model deposited in a
 *    timelocked escrow (drand quicknet).
 *  - "recs-ranker 2" (market): committed with a few seconds' embargo and its model in an escrow
 *    locked to a local test beacon the log follows (`--beacon-chain`); never revealed by the
 *    platform: the beacon's round signature, posted after the reveal date, opened the escrow:
 *    revealed (on time) by escrow;
 *  - "price-ranker 4" (market): a cheating platform's commitment whose escrow is the one of
 *    "recs-ranker 2" (other bytes than its committed model): when the round opened it, the log
 *    logged the evidence (a reveal entry that does not match): escrow-invalid.
 * Returns the URL, keys, the seeded indexes and stop().
 */
export async function seedLog({ webDir = null, log = () => {} } = {}) {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run cargo build --release first`);
  const dir = mkdtempSync(join(tmpdir(), 'embargo-web-'));
  const token = randomBytes(18).toString('hex');
  const env = { EMBARGO_OPERATOR_TOKEN: token, EMBARGO_STATE: join(dir, 'client-state.json') };
  const opts = { cwd: dir, env };
  const logVkey = await run(['keygen', '--name', 'localhost/embargo-web-test', '--out', 'log.key'], opts);
  const keys = {};
  for (const p of ['social.example', 'market.example', 'audits.example']) {
    keys[p] = await run(['keygen', '--name', p, '--out', `${p}.key`], opts);
  }
  // A local drand-style beacon with 1 s rounds: escrows locked to it open when its round
  // signature is posted (the log follows it, besides quicknet).
  await run(['escrow', 'test-beacon', 'new', 'beacon', '--period', '1'], opts);
  const serverEnv = { ...process.env, ...env, RUST_LOG: 'embargo=warn' };
  if (webDir) serverEnv.EMBARGO_WEB_DIR = webDir;
  // A 100 ms minimum embargo: the seeding commits with 2 s embargoes on a busy machine, and the
  // policy's minimum is not what these tests are about.
  const server = spawn(BIN, ['serve', '--data', join(dir, 'log'), '--key', 'log.key', '--listen', '127.0.0.1:0',
    '--interval', '50ms', '--min-embargo', '100ms', '--grace', `${GRACE_S}s`, '--beacon-chain', join('beacon', 'chain.json')],
  { cwd: dir, env: serverEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`embargo serve did not start:\n${stderr}`)), 20_000);
    server.stderr.on('data', (d) => {
      stderr += d;
      // Only a whole line: a chunk may end in the middle of the address.
      const m = /listening on (http:\/\/[0-9.:]+)\r?\n/.exec(stderr);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    server.on('exit', (code) => { clearTimeout(timer); fail(new Error(`embargo serve exited (${code}):\n${stderr}`)); });
  });
  const stop = async () => {
    if (server.exitCode == null) {
      server.kill('SIGTERM');
      await new Promise((r) => { server.on('exit', r); setTimeout(r, 3000); });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const L = ['--log', url];
    const V = ['--vkey', logVkey];
    log('registering parties');
    await run(['platform', 'add', 'social.example', '--vkey', keys['social.example'], '--display-name', 'Social Example', '--contact', 'transparency@social.example', ...L], opts);
    await run(['platform', 'add', 'market.example', '--vkey', keys['market.example'], '--display-name', 'Market Example', ...L], opts);
    await run(['auditor', 'add', 'audits.example', '--vkey', keys['audits.example'], '--display-name', 'Fair Audits Lab', ...L], opts);

    const model = (name, files) => writeModel(join(dir, 'models', name), files);
    const onTime = model('feed-1.0', { 'weights.bin': randomBytes(300_000), 'config.json': '{"layers":4}\n', 'tokenizer/vocab.txt': 'news\nsports\n' });
    const overdue = model('feed-0.9', { 'weights.bin': randomBytes(1000) });
    const late = model('ads-3.1', { 'model.onnx': randomBytes(2000) });
    const sealed = model('search-7', { 'model.onnx': randomBytes(5000) });
    const due = model('feed-1.1', { 'weights.bin': randomBytes(700) });
    const byEscrow = model('recs-2', { 'model.onnx': randomBytes(3000) });
    const cheatFiles = { 'model.onnx': randomBytes(4000), 'config.json': '{"depth":6}\n' };
    const cheat = model('price-4', cheatFiles);
    const commit = (path, platform, name, version, after, purpose, extra = []) => run(['commit', path, ...L, ...V, '--key', `${platform}.key`,
      '--name', name, '--version', version, ...(after ? ['--reveal-after', after] : []), '--purpose', purpose, '--out', join(dir, `${name}-${version}.tlog-proof`), ...extra], opts).then(Number);

    log('committing');
    const t0 = Date.now();
    const idx = {};
    idx.overdue = await commit(overdue, 'social.example', 'feed-ranker', '0.9', '2s', 'home feed ranking');
    idx.late = await commit(late, 'social.example', 'ads-ranker', '3.1', '2s', 'ad ranking');
    idx.onTime = await commit(onTime, 'social.example', 'feed-ranker', '1.0', '2s', 'home feed ranking');
    // Sealed, with its model in a timelocked escrow (drand quicknet; sealing needs no network).
    idx.sealed = await commit(sealed, 'market.example', 'search-ranker', '7', '30d', 'search result ranking', ['--escrow', 'tlock']);
    // Escrowed to the test beacon, a few seconds ahead (whole seconds: a beacon round), enough
    // for the cheating commitment below to be logged before that date too.
    const escrowRevealAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 8000).toISOString().replace(/\.\d+Z$/, 'Z');
    idx.byEscrow = await commit(byEscrow, 'market.example', 'recs-ranker', '2', null, 'recommendations',
      ['--reveal-at', escrowRevealAt, '--escrow', 'tlock', '--beacon', join('beacon', 'chain.json'), '--escrow-out', 'recs-2.age']);
    // A cheating platform: it commits to one model but reuses that escrow (other bytes).
    const escrowed = JSON.parse(readFileSync(join(dir, 'recs-ranker-2.entry.json'), 'utf8'));
    const escrowedStatement = JSON.parse(Buffer.from(escrowed.envelope.payload, 'base64').toString('utf8'));
    const cheatDigest = (await run(['digest', cheat], opts)).slice(0, 64);
    const cheatStatement = join(dir, 'price-ranker-4.json');
    writeFileSync(cheatStatement, JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'price-ranker', digest: { 'sha3-256': cheatDigest } }],
      predicateType: 'https://embargo.dev/model-commitment/v1',
      predicate: {
        platform: 'market.example', purpose: 'price ranking',
        model: { name: 'price-ranker', version: '4', format: 'directory', total_size: Object.values(cheatFiles).reduce((n, f) => n + f.length, 0), file_count: 2 },
        reveal_at: escrowRevealAt,
        escrow: escrowedStatement.predicate.escrow,
      },
    }));
    idx.escrowInvalid = Number(await run(['submit', ...L, ...V, '--key', 'market.example.key', '--predicate-type', 'https://embargo.dev/model-commitment/v1', cheatStatement], opts));
    await run(['escrow', 'deposit', 'recs-2.age', ...L, '--commitment', String(idx.escrowInvalid)], opts);
    // After the reveal date, anyone posts the round's signature: the log opens both escrows.
    // (Runs while the grace period below is waited out.)
    const escrowOpened = (async () => {
      const round = (await (await fetch(`${url}/v1/commitments/${idx.byEscrow}`)).json()).escrow.lock_round;
      const sig = JSON.parse(await run(['escrow', 'test-beacon', 'sign', 'beacon', '--round', String(round)], opts));
      const post = () => run(['escrow', 'beacon', ...L, '--round', String(round), '--signature', sig.signature, '--chain', sig.chain_hash], opts);
      await sleep(Math.max(0, Date.parse(escrowRevealAt) - Date.now()));
      // The log refuses a round before its time (round_not_due): ask again until it is due.
      await poll(() => 'the log to take the round signature', async () => {
        try { await post(); return true; } catch (e) { if (/round_not_due|not published until/.test(e.message)) return false; throw e; }
      });
      for (const [i, want] of [[idx.byEscrow, 'revealed'], [idx.escrowInvalid, 'escrow-invalid']]) {
        let got;
        await poll(() => `commitment #${i} to be ${want} (it is ${got})`, async () => (got = (await (await fetch(`${url}/v1/commitments/${i}`)).json()).status) === want);
      }
    })();
    escrowOpened.catch(() => { /* awaited below; this only keeps an early failure from going unhandled */ });
    idx.reveal = Number(await run(['reveal', onTime, ...L, ...V, '--commitment', String(idx.onTime), '--key', 'social.example.key', '--out', join(dir, 'reveal.tlog-proof')], opts));

    const info = await (await fetch(`${url}/v1/commitments/${idx.onTime}`)).json();
    const hex64 = () => randomBytes(32).toString('hex');
    const statement = (kind, subjectName, digest, predicate) => {
      const f = join(dir, `${kind}-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(f, JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: subjectName, digest: { 'sha3-256': digest } }], predicate }));
      return f;
    };
    idx.batch = Number(await run(['submit', ...L, ...V, '--key', 'social.example.key', '--predicate-type', 'https://embargo.dev/decision-batch/v1',
      statement('batch', 'feed-ranker-1.0-batch-1', hex64(), {
        platform: 'social.example', commitment: idx.onTime, record_count: 1200,
        window: { start: new Date(t0 - 3_600_000).toISOString(), end: new Date(t0).toISOString() },
      })], opts));
    // The full report (its SHA-256 goes into the audit entry; the report is uploaded after).
    const report = Buffer.from(JSON.stringify({
      schema: 'https://embargo.dev/schema/audit-report-full/v1', verdict: 'pass',
      groupings: [{
        name: 'sex', attributes: ['sex'],
        groups: [{ label: 'female', metrics: { selection_rate: 0.41, tpr: 0.8 } }, { label: 'male', metrics: { selection_rate: 0.47, tpr: 0.83 } }],
      }],
      checks: [{ id: 'four-fifths', metric: 'selection_rate', grouping: 'sex', method: 'ratio', value: 0.872, min: 0.8, passed: true }],
    }));
    const reportDigest = createHash('sha256').update(report).digest('hex');
    idx.audit = Number(await run(['submit', ...L, ...V, '--key', 'audits.example.key', '--predicate-type', 'https://embargo.dev/audit-report/v1',
      statement('audit', 'feed-ranker', info.model_digest, {
        auditor: 'audits.example', commitment: idx.onTime, verdict: 'pass',
        suite_digest: `sha256:${hex64()}`, dataset_digest: `sha256:${hex64()}`, report_digest: `sha256:${reportDigest}`,
        metrics: { demographic_parity_ratio: 0.86, equal_opportunity_difference: -0.04, exposure_ratio: 0.91, ndkl_at_10: 0.12 },
      })], opts));

    // Upload the full report where the log keeps reports (if this build has that endpoint).
    const put = await fetch(`${url}/v1/commitments/${idx.onTime}/audits/${idx.audit}/report`, { method: 'PUT', body: report });
    const reportStored = put.ok;

    // Wait for the 2 s commitments to pass their grace period, then reveal one of them late.
    const overdueAt = Math.max(...await Promise.all([idx.overdue, idx.late].map(async (i) =>
      Date.parse((await (await fetch(`${url}/v1/commitments/${i}`)).json()).overdue_at)))) + 1000;
    log(`waiting ${Math.round((overdueAt - Date.now()) / 1000)} s for the grace period to end (and opening the escrows meanwhile)`);
    await Promise.all([sleep(Math.max(0, overdueAt - Date.now())), escrowOpened]);
    idx.lateReveal = Number(await run(['reveal', late, ...L, ...V, '--commitment', String(idx.late), '--out', join(dir, 'late.tlog-proof')], opts));
    idx.due = await commit(due, 'social.example', 'feed-ranker', '1.1', '2s', 'home feed ranking');
    const status = async (i) => (await (await fetch(`${url}/v1/commitments/${i}`)).json());
    let dueState;
    await poll(() => `commitment #${idx.due} to be due (it is ${dueState})`, async () => (dueState = (await status(idx.due)).status) === 'due');
    const dueUntil = Date.parse((await status(idx.due)).overdue_at) - 3000;
    const cli = (args) => run(args, opts);
    return { url, dir, logVkey, keys, idx, stop, cli, reportStored, dueUntil };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * A proxy in front of the log that passes every answer through `mutate(body, path, headers)`
 * (return the body to serve, changed or not); what it changed is listed in `hits`.
 */
export function tamperingProxy(target, mutate) {
  const t = new URL(target);
  const hits = [];
  const server = http.createServer((req, res) => {
    const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => {
        const original = Buffer.concat(chunks);
        const headers = { ...r.headers };
        let body = original;
        if (r.statusCode === 200) body = mutate(Buffer.from(original), req.url, headers) || original;
        if (!body.equals(original)) {
          hits.push(req.url);
          headers['content-length'] = String(body.length);
          delete headers.etag;
        }
        res.writeHead(r.statusCode, headers);
        res.end(body);
      });
    });
    up.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => {
    ok({ url: `http://127.0.0.1:${server.address().port}`, hits, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) });
  }));
}

/** Flips one bit of the byte at `at` (default: the middle). */
export function flipByte(body, at = Math.floor(body.length / 2)) {
  body[at] ^= 0x01;
  return body;
}

/** Changes one base64 character of the first 32-byte hash line after the first line. */
export function flipHashLine(body) {
  const lines = body.toString('utf8').split('\n');
  const i = lines.findIndex((l, n) => n > 0 && /^[A-Za-z0-9+/]{43}=$/.test(l));
  if (i < 0) return body;
  lines[i] = (lines[i][0] === 'A' ? 'B' : 'A') + lines[i].slice(1);
  return Buffer.from(lines.join('\n'));
}

/** Launches Debian's Chromium, headless, with a fresh profile. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'embargo-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = await seedLog({ webDir: join(repo, 'web'), log: (m) => console.error(`seed: ${m}`) });
  console.log(`log at ${s.url} (vkey ${s.logVkey}); seeded ${JSON.stringify(s.idx)}; Ctrl-C stops it`);
  process.on('SIGINT', async () => { await s.stop(); process.exit(0); });
  process.on('SIGTERM', async () => { await s.stop(); process.exit(0); });
}
