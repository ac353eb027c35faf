// The public website in real headless Chromium (Debian's, driven by playwright-core), against a
// log seeded through the real CLI (see harness.mjs): statuses and numbers, countdowns, escrows
// (opened by a round signature, or holding other bytes: the evidence), in-browser verification (and its failure on tampered tiles, proofs, checkpoints and API
// answers), phone width, keyboard use, no third-party requests, static content without
// JavaScript. Screenshots go to tests/web/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { seedLog, launchChromium, tamperingProxy, flipByte, flipHashLine, ARTIFACTS } from './harness.mjs';

let log;
let browser;
let page;
const problems = [];
const requests = [];

async function shot(name, p = page) {
  await p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

function watch(p) {
  p.on('pageerror', (e) => problems.push(`page error on ${p.url()}: ${e.message}`));
  p.on('console', (m) => {
    // 404s the pages ask for on purpose (an unknown party, an entry that is no commitment).
    if (m.type() === 'error' && !/status of 404/.test(m.text())) problems.push(`console error on ${p.url()}: ${m.text()}`);
  });
  p.on('request', (r) => requests.push(r.url()));
  return p;
}

async function open(path, p = page) {
  await p.goto(log.url + path);
  await p.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 10_000 });
}

async function api(path) {
  const r = await fetch(log.url + path);
  assert.equal(r.status, 200, path);
  return r.json();
}

// The in-toto statement of entry `i`, as the log stores it.
async function statementAt(i) {
  const r = await fetch(`${log.url}/v1/entries/${i}`);
  assert.equal(r.status, 200, `entry #${i}`);
  const leaf = JSON.parse(Buffer.from(await r.arrayBuffer()).toString('utf8'));
  return JSON.parse(Buffer.from(leaf.envelope.payload, 'base64').toString('utf8'));
}

const digits = (text) => text.replace(/\D/g, '');

// Clicks a verify button and waits for its verdict; returns {ok, text, failed: [step titles]}.
async function verify(button, p = page) {
  const control = button.locator('xpath=ancestor::div[contains(@class,"verify")][1]');
  await button.click();
  const result = control.locator('.verify-result');
  await result.locator('.verdict').waitFor({ timeout: 15_000 });
  await p.waitForFunction((el) => !el.classList.contains('running'), await result.elementHandle(), { timeout: 15_000 });
  return {
    ok: await result.evaluate((el) => el.classList.contains('verified')),
    text: await result.textContent(),
    failed: await result.locator('li.fail strong').allTextContents(),
    passed: await result.locator('li.ok strong').allTextContents(),
  };
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Start the browser while the log is seeded (the seeding waits out a grace period).
  // allSettled, not all: if one fails, after() must still stop the other, or the leftover
  // process keeps node running.
  const [l, b] = await Promise.allSettled([seedLog(), launchChromium()]);
  log = l.value;
  browser = b.value;
  for (const r of [l, b]) if (r.status === 'rejected') throw r.reason;
  page = watch(await browser.context.newPage());
});

after(async () => {
  if (browser) await browser.close();
  if (log) await log.stop();
});

test('home: the log, its checkpoint, counts by status, latest entries', async () => {
  await open('/');
  const info = await api('/v1/log');
  assert.equal(await page.locator('#origin').innerText(), 'localhost/embargo-web-test');
  assert.equal(await page.locator('#tree-size').innerText(), `${info.size} entries`);
  const count = async (id) => Number((await page.locator(`#count-${id} .n`).innerText()).replace(/,/g, ''));
  assert.equal(await count('total'), 7);
  assert.equal(await count('sealed'), 1);
  assert.equal(await count('due'), 1);
  assert.equal(await count('revealed'), 3);
  assert.equal(await count('overdue'), 1);
  assert.equal(await count('escrow-invalid'), 1);
  assert.equal(await count('audits'), 1);
  assert.match(await page.locator('#count-revealed').innerText(), /2 on time, 1 late/);
  assert.equal(await page.locator('#count-escrow-invalid').getAttribute('href'), '/commitments?status=escrow-invalid');
  assert.match(await page.locator('#cosignatures').innerText(), /no witness/);
  // Latest entries: newest first, every entry of this small log.
  const rows = page.locator('table.entries tbody tr:not(.verify-row)');
  assert.equal(await rows.count(), info.size);
  assert.equal(await rows.first().getAttribute('data-index'), String(info.size - 1));
  assert.match(await page.locator(`table.entries tr[data-index="${log.idx.audit}"]`).innerText(), /Audit report[\s\S]*audits\.example audited commitment #\d+[\s\S]*Pass/);
  assert.match(await page.locator(`table.entries tr[data-index="${log.idx.lateReveal}"]`).innerText(), /revealed by anyone, late/);
  const invalid = await api(`/v1/commitments/${log.idx.escrowInvalid}`);
  assert.match(await page.locator(`table.entries tr[data-index="${invalid.escrow_invalid}"]`).innerText(),
    new RegExp(`the escrow of commitment #${log.idx.escrowInvalid} did NOT hold the committed model: escrow invalid`));
  assert.match(await page.locator(`table.entries tr[data-index="${invalid.escrow_invalid - 1}"]`).innerText(),
    new RegExp(`commitment #${log.idx.byEscrow} revealed by escrow, on time`));
  await shot('home-desktop');
});

test('commitments: every status, filters by platform and status', async () => {
  await open('/commitments');
  const want = {
    [log.idx.sealed]: ['sealed', 'Sealed'],
    [log.idx.due]: ['due', 'Due'],
    [log.idx.onTime]: ['revealed', 'Revealed on time'],
    [log.idx.late]: ['revealed', 'Revealed late'],
    [log.idx.overdue]: ['overdue', 'Overdue'],
    [log.idx.byEscrow]: ['revealed', 'Revealed on time'],
    [log.idx.escrowInvalid]: ['escrow-invalid', 'Escrow invalid'],
  };
  assert.equal(await page.locator('table.commitments tbody tr').count(), 7);
  for (const [i, [status, label]] of Object.entries(want)) {
    const row = page.locator(`table.commitments tr[data-index="${i}"]`);
    assert.equal(await row.getAttribute('data-status'), status, `#${i}`);
    assert.equal((await row.locator('.badge').innerText()).replace(/^\W+/, '').trim(), label, `#${i}`);
  }
  assert.match(await page.locator(`tr[data-index="${log.idx.sealed}"]`).innerText(), /reveal in 29d 23h \d+m \d+s/);
  assert.match(await page.locator(`tr[data-index="${log.idx.due}"]`).innerText(), /overdue in \d+s/);
  assert.match(await page.locator(`tr[data-index="${log.idx.overdue}"]`).innerText(), /overdue since/);
  assert.match(await page.locator(`tr[data-index="${log.idx.escrowInvalid}"]`).innerText(), /the escrow did not hold the committed model/);
  await shot('commitments-desktop');

  // The filter form (a plain GET form: it works without JavaScript too).
  await page.selectOption('#f-platform', 'market.example');
  await page.click('form.filters button[type=submit]');
  await page.waitForURL(/platform=market\.example/);
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
  assert.deepEqual(await page.locator('table.commitments tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.index)),
    [log.idx.sealed, log.idx.byEscrow, log.idx.escrowInvalid].map(String));
  // By status, from the form too: escrow-invalid is one of the statuses.
  await page.selectOption('#f-platform', '');
  await page.selectOption('#f-status', 'escrow-invalid');
  await page.click('form.filters button[type=submit]');
  await page.waitForURL(/status=escrow-invalid/);
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
  assert.deepEqual(await page.locator('table.commitments tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.index)), [String(log.idx.escrowInvalid)]);
  assert.equal(await page.locator('#f-status').inputValue(), 'escrow-invalid');
  await open('/commitments?status=escrow-invalid&platform=social.example');
  assert.match(await page.locator('#empty').innerText(), /No escrow-invalid commitments of social\.example/);
  await open('/commitments?status=overdue');
  assert.deepEqual(await page.locator('table.commitments tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.index)), [String(log.idx.overdue)]);
  await open('/commitments?status=revealed&platform=social.example');
  assert.deepEqual((await page.locator('table.commitments tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.index))).sort(), [String(log.idx.late), String(log.idx.onTime)].sort());
  await open('/commitments?status=due&platform=market.example');
  assert.match(await page.locator('#empty').innerText(), /No due commitments of market\.example/);
});

test('the countdown ticks', async () => {
  await open(`/commitments/${log.idx.sealed}`);
  const cd = page.locator('.hero-countdown .countdown');
  const first = await cd.innerText();
  assert.match(first, /^29d 23h \d+m \d+s$/);
  await page.waitForTimeout(1500);
  const second = await cd.innerText();
  assert.notEqual(second, first, 'the countdown did not change in 1.5 s');
  const secs = (t) => t.split(' ').reduce((n, p) => n + Number(p.slice(0, -1)) * { d: 86400, h: 3600, m: 60, s: 1 }[p.slice(-1)], 0);
  const dropped = secs(first) - secs(second);
  assert.ok(dropped >= 1 && dropped <= 3, `it went from ${first} to ${second}`);
  assert.equal(await page.locator('#status').getAttribute('data-status'), 'sealed');
  await shot('commitment-sealed-desktop');
});

test('an escrowed commitment: the lock, the trustee-free escrow and its public ciphertext', async () => {
  await open(`/commitments/${log.idx.sealed}`);
  const info = await (await fetch(`${log.url}/v1/commitments/${log.idx.sealed}`)).json();
  assert.equal(info.escrow.scheme, 'tlock');
  assert.equal(info.escrow_deposited, true);
  const text = await page.locator('main').innerText();
  const round = /tlock, drand round ([\d,.\u202f\u00a0 ]+)/.exec(text);
  assert.ok(round, `the escrow row names the round: ${text}`);
  assert.equal(round[1].replace(/\D/g, ''), String(info.escrow.lock_round));
  assert.match(text, /Escrowed/);
  const link = page.locator(`a[href="/v1/commitments/${log.idx.sealed}/escrow"]`);
  assert.equal(await link.count(), 1, 'a link to the ciphertext');
  const resp = await fetch(`${log.url}/v1/commitments/${log.idx.sealed}/escrow`);
  assert.equal(resp.status, 200);
  const bytes = new Uint8Array(await resp.arrayBuffer());
  assert.equal(bytes.length, info.escrow.ciphertext_size);
  assert.equal(new TextDecoder().decode(bytes.slice(0, 22)), 'age-encryption.org/v1\n');
});

test('a commitment revealed by escrow: the round that opened it, the timeline, the download', async () => {
  const c = await api(`/v1/commitments/${log.idx.byEscrow}`);
  assert.equal(c.status, 'revealed');
  assert.equal(c.reveal.revealed_by, 'escrow');
  const opening = (await statementAt(c.reveal.index)).predicate.escrow;
  assert.equal(opening.opened_with, 'beacon');
  assert.equal(opening.round, c.escrow.lock_round);
  await open(`/commitments/${log.idx.byEscrow}`);
  assert.equal(await page.locator('h1').innerText(), 'recs-ranker 2');
  assert.equal(await page.locator('#status').getAttribute('data-status'), 'revealed');
  const status = await page.locator('#status').innerText();
  assert.match(status, /Revealed on time/);
  const said = /by escrow: the platform did not reveal it; the log opened the escrow with the signature of drand round ([\d,]+)/.exec(status);
  assert.ok(said, `the status says how the escrow opened: ${status}`);
  assert.equal(digits(said[1]), String(opening.round));
  const timeline = await page.locator('#timeline').innerText();
  for (const step of ['Committed', 'Escrowed', 'Reveal date', 'Revealed on time']) assert.ok(timeline.includes(step), `timeline has ${step}: ${timeline}`);
  const revealed = /Revealed on time[^\n]*\n\s*by escrow, which opened with the signature of drand round ([\d,]+); the bytes hash to the committed digest/.exec(timeline);
  assert.ok(revealed, `the timeline says the escrow revealed it, and with which round: ${timeline}`);
  assert.equal(digits(revealed[1]), String(opening.round));
  assert.equal(await page.locator(`#timeline a[href="/entries/${c.reveal.index}"]`).count(), 1);
  assert.doesNotMatch(timeline, /Overdue/);
  // The model the escrow held is the committed one, and anyone can download it.
  assert.equal(await page.locator('#download a.download').getAttribute('href'), `/v1/commitments/${log.idx.byEscrow}/model`);
  const dl = await fetch(log.url + `/v1/commitments/${log.idx.byEscrow}/model`);
  assert.equal(dl.status, 200);
  assert.equal(dl.headers.get('embargo-model-digest'), c.model_digest);
  assert.ok((await dl.arrayBuffer()).byteLength > c.model.total_size);
  const r = await verify(page.locator('button', { hasText: `Verify the reveal (entry #${c.reveal.index})` }));
  assert.ok(r.ok, r.text);
  assert.match(r.text, /log's own key/);
  await shot('commitment-revealed-by-escrow-desktop');
  // The reveal entry: the opening, field by field.
  await open(`/entries/${c.reveal.index}`);
  const main = await page.locator('main').innerText();
  assert.match(main, /Escrow opening\s+Opened with\s+a drand round signature\s+Round\s+([\d,]+)/);
  assert.ok(main.includes(opening.signature), 'the round signature is shown');
  assert.equal(await page.locator('#mismatch').count(), 0);
});

test('an escrow that held other bytes: escrow invalid, the explanation, the evidence and its entry', async () => {
  const c = await api(`/v1/commitments/${log.idx.escrowInvalid}`);
  assert.equal(c.status, 'escrow-invalid');
  const i = c.escrow_invalid;
  assert.ok(Number.isInteger(i), 'the commitment names its evidence entry');
  const st = await statementAt(i);
  const e = st.predicate.escrow;
  assert.equal(st.predicate.matches_commitment, false);
  assert.equal(st.predicate.revealed_by, 'escrow');
  // The cheating platform reused the escrow of recs-ranker 2: it opened to that model.
  const decoy = await api(`/v1/commitments/${log.idx.byEscrow}`);
  assert.equal(e.opened_digest, decoy.model_digest);
  assert.notEqual(e.opened_digest, c.model_digest);

  await open(`/commitments/${log.idx.escrowInvalid}`);
  assert.equal(await page.locator('h1').innerText(), 'price-ranker 4');
  assert.equal(await page.locator('#status').getAttribute('data-status'), 'escrow-invalid');
  assert.equal((await page.locator('#status .badge').innerText()).replace(/^\W+/, '').trim(), 'Escrow invalid');
  assert.match(await page.locator('#status').innerText(), /The escrow opened to other bytes than the committed model, or did not open \(entry #\d+ holds the evidence\): public proof the platform did not deposit what it committed to/);
  assert.equal(await page.locator(`#status a[href="/entries/${i}"]`).count(), 1, 'the status links to the evidence');
  // The evidence, side by side with the commitment.
  const evidence = await page.locator('#evidence').innerText();
  assert.match(evidence, new RegExp(`Committed digest\\s+${c.model_digest}\\s+The escrow opened to\\s+${e.opened_digest}\\s+A different model`));
  assert.match(evidence, new RegExp(`Opened with\\s+the signature of drand round ${e.round}\\b`));
  assert.ok(evidence.includes(e.signature), 'the round signature is shown');
  assert.ok(evidence.includes(e.ciphertext_digest), 'the ciphertext digest is shown');
  assert.equal(await page.locator(`#evidence a[href="/entries/${i}"]`).count(), 1);
  assert.equal(await page.locator(`#evidence a[href="/v1/commitments/${log.idx.escrowInvalid}/escrow"]`).count(), 1);
  await page.waitForFunction(() => !document.querySelector('#open-command').textContent.includes('<'));
  assert.equal(await page.locator('#open-command').innerText(), `embargo escrow open ${log.idx.escrowInvalid} --log ${log.url} --vkey ${log.logVkey} --out ./opened`);
  const timeline = await page.locator('#timeline').innerText();
  assert.match(timeline, new RegExp(`Escrow invalid[^\\n]*\\n\\s*the escrow, opened with the signature of drand round ${e.round}, held another model, with digest ${e.opened_digest} \\(entry #${i}\\)`));
  assert.equal(await page.locator(`#timeline a[href="/entries/${i}"]`).count(), 1);
  assert.doesNotMatch(timeline, /Revealed/);
  assert.match(await page.locator('#download').innerText(), /Nothing to download: the escrow did not hold the committed model/);
  assert.equal(await page.locator('#download a.download').count(), 0);
  await shot('commitment-escrow-invalid-desktop');

  // The evidence entry itself: what was committed against what the escrow opened to, and how.
  await page.locator(`#status a[href="/entries/${i}"]`).click();
  await page.waitForURL(new RegExp(`/entries/${i}$`));
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
  assert.equal(await page.locator('h1').innerText(), `Reveal #${i}`);
  const mismatch = await page.locator('#mismatch').innerText();
  assert.match(mismatch, new RegExp(`This reveal does not match the commitment\\. The log opened the escrow of commitment #${log.idx.escrowInvalid} and it did not hold the committed model: the commitment is escrow-invalid`));
  assert.match(mismatch, new RegExp(`Committed digest\\s+${c.model_digest}\\s+The escrow opened to\\s+${e.opened_digest}`));
  assert.equal(await page.locator(`#mismatch a[href="/commitments/${log.idx.escrowInvalid}"]`).count(), 1);
  const main = await page.locator('main').innerText();
  assert.match(main, new RegExp(`Round\\s+${e.round}\\s+Round signature\\s+${e.signature}`));
  assert.match(main, new RegExp(`Opened to digest\\s+${e.opened_digest}`));
  assert.match(main, /Matches commitment\s+false/);
  await shot('entry-escrow-evidence-desktop');

  // The platform's record counts it.
  await open('/parties/market.example');
  assert.equal(Number(await page.locator('#rec-escrow-invalid .n').innerText()), 1);
  assert.equal(Number(await page.locator('#rec-on-time .n').innerText()), 1);
  await open('/parties');
  assert.match(await page.locator('article[data-party="market.example"]').innerText(), /1 escrow invalid/);
});

test('verify on an escrow-invalid commitment checks the evidence entry, and fails when the page misstates it', async () => {
  const c = await api(`/v1/commitments/${log.idx.escrowInvalid}`);
  const i = c.escrow_invalid;
  await open(`/commitments/${log.idx.escrowInvalid}`);
  const r = await verify(page.locator('button', { hasText: `Verify the evidence (entry #${i})` }));
  assert.ok(r.ok, r.text);
  assert.match(r.text, new RegExp(`Verified: entry #${i} is in the log's tree`));
  assert.deepEqual(r.failed, []);
  for (const step of ['Checkpoint signature', 'Entry bytes', 'Inclusion, from the tiles', "Inclusion, from the log's proof", 'Entry signature', 'The page shows what the entry says']) {
    assert.ok(r.passed.includes(step), `${step} passed: ${r.text}`);
  }
  assert.match(r.text, /log's own key/);
  assert.match(r.text, /committed digest, matches the commitment, opened digest, round, round signature, ciphertext digest: as in the entry/);
  await shot('commitment-escrow-invalid-verified');

  // A server that misstates the committed digest on the page: the evidence no longer agrees.
  const digest = c.model_digest;
  const proxy = await tamperingProxy(log.url, (b, p) => (p.startsWith('/v1/browse/commitments/')
    ? Buffer.from(b.toString().replaceAll(digest, digest.replace(/^./, (ch) => (ch === 'a' ? 'b' : 'a')))) : b));
  const p = watch(await browser.context.newPage());
  try {
    await p.goto(`${proxy.url}/commitments/${log.idx.escrowInvalid}`);
    await p.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
    const bad = await verify(p.locator('button', { hasText: `Verify the evidence (entry #${i})` }), p);
    assert.ok(proxy.hits.length > 0, 'the proxy changed nothing');
    assert.equal(bad.ok, false, bad.text);
    assert.deepEqual(bad.failed, ['The page shows what the entry says'], bad.text);
    assert.match(bad.text, /committed digest: the page shows/);
  } finally {
    await p.close();
    await proxy.close();
  }
});

test('a revealed commitment: timeline, digest, size, download, batches, audits with charts', async () => {
  const c = await api(`/v1/commitments/${log.idx.onTime}`);
  await open(`/commitments/${log.idx.onTime}`);
  assert.equal(await page.locator('h1').innerText(), 'feed-ranker 1.0');
  const main = await page.locator('main').innerText();
  assert.ok(main.includes(c.model_digest), 'digest shown');
  assert.match(main, /293 KiB \(300,025 bytes\) in 3 files/);
  assert.match(await page.locator('#status').innerText(), /Revealed on time/);
  const timeline = await page.locator('#timeline').innerText();
  for (const step of ['Committed', 'Revealed on time', 'Decision batch', 'Audited', 'Reveal date']) assert.ok(timeline.includes(step), `timeline has ${step}`);
  assert.equal(await page.locator('#download a.download').getAttribute('href'), `/v1/commitments/${log.idx.onTime}/model`);
  const dl = await fetch(log.url + `/v1/commitments/${log.idx.onTime}/model`);
  assert.equal(dl.status, 200);
  assert.equal(dl.headers.get('embargo-model-digest'), c.model_digest);
  assert.match(await page.locator('#batches').innerText(), /1,200/);
  const audit = page.locator('#audits article.audit');
  assert.equal(await audit.count(), 1);
  assert.match(await audit.locator('h3').innerText(), /Audit by audits\.example\s+\W*Pass/);
  assert.equal(await audit.locator('ul.chart').first().locator('li').count(), 4);
  assert.match(await audit.locator('ul.chart').first().innerText(), /demographic parity ratio\s+0\.860/);
  if (log.reportStored) {
    // The full report: its digest checked in the page, then its per-group chart and checks.
    await audit.locator('.report-digest').waitFor();
    assert.match(await audit.locator('.report-digest').innerText(), /digest matches/);
    assert.match(await audit.locator('.report').innerText(), /selection rate by sex[\s\S]*female\s+0\.410[\s\S]*male\s+0\.470/);
    assert.match(await audit.locator('ul.checks').innerText(), /four-fifths: selection_rate by sex = 0\.872 \(allowed ≥ 0\.8\)/);
  } else {
    console.log('# this build stores no audit reports: the full-report part was not checked');
  }

  await open(`/commitments/${log.idx.overdue}`);
  assert.match(await page.locator('#status').innerText(), /Overdue since/);
  assert.match(await page.locator('#timeline').innerText(), /Overdue/);
  assert.match(await page.locator('#download').innerText(), /never revealed/);
  await open(`/commitments/${log.idx.late}`);
  assert.match(await page.locator('#status').innerText(), /Revealed late/);
  assert.match(await page.locator('#timeline').innerText(), /Revealed late[\s\S]*by anyone/);
  await open(`/commitments/${log.idx.due}`);
  if (Date.now() < log.dueUntil) {
    assert.equal(await page.locator('#status').getAttribute('data-status'), 'due');
    assert.match(await page.locator('#status .countdown').innerText(), /^\d+s$/);
  } else {
    assert.equal(await page.locator('#status').getAttribute('data-status'), 'overdue', 'the due commitment is overdue by now');
  }
  await open(`/commitments/${log.idx.reveal}`);
  assert.match(await page.locator('h1').innerText(), new RegExp(`No commitment at entry #${log.idx.reveal}`));
});

test('verify says verified: checkpoint, commitment, reveal, audit, batch, registration, raw entry', async () => {
  await open('/');
  let r = await verify(page.locator('button', { hasText: 'Verify the checkpoint' }));
  assert.ok(r.ok, r.text);
  assert.match(r.text, /Verified: the checkpoint/);

  await open(`/commitments/${log.idx.onTime}`);
  r = await verify(page.locator('button', { hasText: `Verify commitment #${log.idx.onTime}` }));
  assert.ok(r.ok, r.text);
  assert.match(r.text, new RegExp(`Verified: entry #${log.idx.onTime} is in the log's tree`));
  assert.deepEqual(r.failed, []);
  for (const step of ['Log key', 'Checkpoint signature', 'Consistency with the last checkpoint seen', 'Entry bytes', 'Inclusion, from the tiles', "Inclusion, from the log's proof", 'Entry signature', 'The page shows what the entry says']) {
    assert.ok(r.passed.includes(step), `${step} passed: ${r.text}`);
  }
  assert.match(r.text, /DSSE signature by social\.example\+[0-9a-f]{8} verifies/);
  await shot('commitment-verified-desktop');
  r = await verify(page.locator('button', { hasText: 'Verify the reveal' }));
  assert.ok(r.ok, r.text);
  assert.match(r.text, /log's own key/);
  r = await verify(page.locator('button', { hasText: `Verify audit #${log.idx.audit}` }));
  assert.ok(r.ok, r.text);
  r = await verify(page.locator('button', { hasText: `Verify #${log.idx.batch}` }));
  assert.ok(r.ok, r.text);

  await open('/parties/market.example');
  r = await verify(page.locator('button', { hasText: 'Verify the registration' }));
  assert.ok(r.ok, r.text);

  await open(`/entries/${log.idx.lateReveal}`);
  r = await verify(page.locator('button', { hasText: `Verify entry #${log.idx.lateReveal}` }));
  assert.ok(r.ok, r.text);

  // From the home page's list, too.
  await open('/');
  await page.locator(`tr[data-index="${log.idx.sealed}"] button`).click();
  const result = page.locator(`tr[data-index="${log.idx.sealed}"] + tr.verify-row .verify-result`);
  await result.locator('.verdict').waitFor();
  await page.waitForFunction((el) => !el.classList.contains('running'), await result.elementHandle());
  assert.match(await result.innerText(), /Verified/);
});

test('a tampered tile, entry bundle, proof, checkpoint or API answer makes verify fail and say what failed', async () => {
  const target = log.idx.onTime;
  // The byte range of the target entry inside its (partial) entry bundle.
  const size = (await api('/v1/log')).size;
  const bundle = Buffer.from(await (await fetch(`${log.url}/tile/entries/000.p/${size}`)).arrayBuffer());
  let offset = 0;
  for (let i = 0; i < target; i++) offset += 2 + bundle.readUInt16BE(offset);
  const inTarget = offset + 2 + 40;
  const digest = (await api(`/v1/commitments/${target}`)).model_digest;
  const cases = [
    { name: 'hash tile', mutate: (b, p) => (/^\/tile\/0\//.test(p) ? flipByte(b) : b), failed: 'Inclusion, from the tiles', says: /leads to root|tile says/ },
    { name: 'entry bundle', mutate: (b, p) => (/^\/tile\/entries\//.test(p) ? flipByte(b, inTarget) : b), failed: 'Inclusion, from the tiles', says: /hashes to/ },
    { name: 'proof', mutate: (b, p) => (p.startsWith('/v1/proof/inclusion') ? flipHashLine(b) : b), failed: "Inclusion, from the log's proof", says: /leads to root/ },
    { name: 'checkpoint', mutate: (b, p) => (p === '/checkpoint' ? flipHashLine(b) : b), failed: 'Checkpoint signature', says: /does not verify/ },
    {
      name: 'API answer',
      mutate: (b, p) => (p.startsWith('/v1/browse/commitments/') ? Buffer.from(b.toString().replaceAll(digest, digest.replace(/^./, (ch) => (ch === 'a' ? 'b' : 'a')))) : b),
      failed: 'The page shows what the entry says', says: /model digest: the page shows/,
    },
  ];
  for (const c of cases) {
    const proxy = await tamperingProxy(log.url, c.mutate);
    const p = watch(await browser.context.newPage());
    try {
      await p.goto(`${proxy.url}/commitments/${target}`);
      await p.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
      const r = await verify(p.locator('button', { hasText: `Verify commitment #${target}` }), p);
      assert.ok(proxy.hits.length > 0, `${c.name}: the proxy changed nothing`);
      assert.equal(r.ok, false, `${c.name}: ${r.text}`);
      assert.match(r.text, /Verification failed/, c.name);
      assert.ok(r.failed.includes(c.failed), `${c.name}: expected "${c.failed}" to fail; failed: ${r.failed.join(', ')}\n${r.text}`);
      assert.match(r.text, c.says, c.name);
      await shot(`tampered-${c.name.replace(/ /g, '-')}`, p);
    } finally {
      await p.close();
      await proxy.close();
    }
  }
  if (log.reportStored) {
    const proxy = await tamperingProxy(log.url, (b, p) => (/\/audits\/\d+\/report$/.test(p) ? flipByte(b) : b));
    const p = watch(await browser.context.newPage());
    try {
      await p.goto(`${proxy.url}/commitments/${target}`);
      await p.locator('.report .notice.error').waitFor();
      assert.match(await p.locator('.report').innerText(), /does not match the audit entry/);
      assert.equal(await p.locator('.report ul.chart').count(), 0);
      await shot('tampered-report', p);
    } finally {
      await p.close();
      await proxy.close();
    }
  }
  // Tampering is invisible to the verifier only in what it did not fetch: the server's own
  // answers stayed intact, so the same button on the real log still says verified.
  await open(`/commitments/${target}`);
  assert.ok((await verify(page.locator('button', { hasText: `Verify commitment #${target}` }))).ok);
});

test('platforms and auditors: who they are, their keys, their record', async () => {
  await open('/parties');
  assert.equal(await page.locator('#platforms article.card').count(), 2);
  assert.equal(await page.locator('#auditors article.card').count(), 1);
  const social = await page.locator('article[data-party="social.example"]').innerText();
  assert.match(social, /Social Example/);
  // The due commitment turns overdue GRACE_S seconds after seeding: count both.
  const [, due] = /4 commitments: 0 sealed, (\d) due/.exec(social);
  assert.match(social, /1 revealed on time, 1 late/);
  assert.match(social, new RegExp(`${2 - Number(due)} overdue`));
  assert.match(social, /1 pass, 0 fail/);
  assert.match(await page.locator('article[data-party="audits.example"]').innerText(), /1 audit: 1 pass, 0 fail/);
  await shot('parties-desktop');

  await open('/parties/social.example');
  assert.equal(await page.locator('h1').innerText(), 'Social Example');
  assert.ok((await page.locator('#keys').innerText()).includes(log.keys['social.example']));
  const rec = async (id) => Number(await page.locator(`#${id} .n`).innerText());
  assert.equal(await rec('rec-total'), 4);
  assert.equal(await rec('rec-on-time'), 1);
  assert.equal(await rec('rec-late'), 1);
  assert.equal(await rec('rec-overdue') + await rec('rec-due'), 2);
  assert.equal(await rec('rec-pass'), 1);
  assert.equal(await page.locator('table.commitments tbody tr').count(), 4);
  assert.match(await page.locator('main').innerText(), /transparency@social\.example/);

  await open('/parties/audits.example');
  assert.equal(await rec('rec-audits'), 1);
  assert.match(await page.locator('main table').innerText(), /feed-ranker 1\.0[\s\S]*social\.example[\s\S]*Pass/);
  await open('/parties/nobody.example');
  assert.match(await page.locator('main').innerText(), /not registered/);
});

test('search: by entry index, model digest, platform and model name', async () => {
  const c = await api(`/v1/commitments/${log.idx.late}`);
  await open(`/search?q=${c.model_digest.slice(0, 10)}`);
  assert.deepEqual(await page.locator('table.commitments tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.index)), [String(log.idx.late)]);
  await open(`/search?q=sha3-256:${c.model_digest}`);
  assert.equal(await page.locator('table.commitments tbody tr').count(), 1);
  await open(`/search?q=${log.idx.audit}`);
  assert.match(await page.locator('#result-entry').innerText(), /Audit report/);
  await open(`/search?q=${log.idx.sealed}`);
  assert.deepEqual(await page.locator('table.commitments tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.index)), [String(log.idx.sealed)]);
  await open('/search?q=market');
  assert.match(await page.locator('#result-parties').innerText(), /Market Example/);
  await open('/search?q=search-ranker');
  assert.equal(await page.locator('table.commitments tbody tr').count(), 1);
  await open('/search?q=nothing-like-this');
  assert.match(await page.locator('#no-results').innerText(), /Nothing matches/);
  // The header's search box, from the keyboard.
  await open('/');
  await page.locator('#site-search').fill('Social');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/search\?q=Social/);
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
  assert.match(await page.locator('#result-parties').innerText(), /Social Example/);
});

test('phone width (375 px): no horizontal scroll on any page', async () => {
  const phone = watch(await browser.context.newPage());
  await phone.setViewportSize({ width: 375, height: 812 });
  const evidence = (await api(`/v1/commitments/${log.idx.escrowInvalid}`)).escrow_invalid;
  try {
    const pages = [
      ['home', '/'],
      ['commitments', '/commitments'],
      ['commitment-revealed', `/commitments/${log.idx.onTime}`],
      ['commitment-sealed', `/commitments/${log.idx.sealed}`],
      ['commitment-by-escrow', `/commitments/${log.idx.byEscrow}`],
      ['commitment-escrow-invalid', `/commitments/${log.idx.escrowInvalid}`],
      ['parties', '/parties'],
      ['party', '/parties/social.example'],
      ['entry', `/entries/${log.idx.audit}`],
      ['entry-escrow-evidence', `/entries/${evidence}`],
      ['search', '/search?q=feed'],
    ];
    for (const [name, path] of pages) {
      await open(path, phone);
      if (name === 'commitment-revealed') {
        const r = await verify(phone.locator('button', { hasText: `Verify commitment #${log.idx.onTime}` }), phone);
        assert.ok(r.ok, r.text);
        await phone.locator('.verify-result details summary').first().click();
      }
      if (name === 'commitment-escrow-invalid') {
        const r = await verify(phone.locator('button', { hasText: `Verify the evidence (entry #${evidence})` }), phone);
        assert.ok(r.ok, r.text);
        await phone.locator('#evidence .verify-result details summary').click();
      }
      const [scroll, client] = await phone.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      await shot(`phone-${name}`, phone);
      assert.ok(scroll <= client, `${path}: scrollWidth ${scroll} > clientWidth ${client}`);
    }
  } finally {
    await phone.close();
  }
});

test('keyboard: skip link, then Tab to a verify button and press Enter', async () => {
  await open(`/commitments/${log.idx.onTime}`);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to the content');
  const button = page.locator('button', { hasText: `Verify commitment #${log.idx.onTime}` });
  await button.focus();
  await page.keyboard.press('Enter');
  const result = page.locator('.verify-result').first();
  await result.locator('.verdict').waitFor();
  await page.waitForFunction((el) => !el.classList.contains('running'), await result.elementHandle());
  assert.match(await result.innerText(), /Verified/);
  // Every control has an accessible name.
  const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, input, select, a[href]')]
    .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || (el.id && document.querySelector(`label[for="${el.id}"]`))))
    .map((el) => el.outerHTML.slice(0, 80)));
  assert.deepEqual(unnamed, []);
});

test('static content without JavaScript', async () => {
  const p = await browser.context.newPage();
  try {
    const cdp = await browser.context.newCDPSession(p);
    await cdp.send('Emulation.setScriptExecutionDisabled', { value: true });
    await p.goto(log.url + '/');
    const text = await p.locator('body').innerText();
    assert.match(text, /committed now, revealed later/);
    assert.match(text, /What the statuses mean/);
    assert.match(text, /Don't trust this server: verify/);
    assert.match(text, /need JavaScript/);
    await shot('home-no-javascript', p);
  } finally {
    await p.close();
  }
});

test('no third-party requests, no page errors', async () => {
  const origins = new Set(requests.map((u) => new URL(u).origin));
  for (const o of origins) assert.match(o, /^http:\/\/127\.0\.0\.1:\d+$/, `request to ${o}`);
  assert.deepEqual(problems, []);
  const resp = await fetch(log.url + '/');
  assert.match(resp.headers.get('content-security-policy'), /default-src 'none'/);
  assert.equal(resp.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal((await fetch(log.url + '/assets/app.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal((await fetch(log.url + '/assets/nope.js')).status, 404);
  assert.equal((await fetch(log.url + '/nope')).headers.get('content-type'), 'application/json');
});

test('consistency: once the log grows, verify checks that the new checkpoint extends the one seen before', async () => {
  await open('/');
  const before = (await api('/v1/log')).size;
  let r = await verify(page.locator('button', { hasText: 'Verify the checkpoint' }));
  assert.ok(r.ok, r.text);
  // The log grows: the operator registers another auditor (through the CLI).
  const vkey = await log.cli(['keygen', '--name', 'second-audits.example', '--out', 'second.key']);
  await log.cli(['auditor', 'add', 'second-audits.example', '--vkey', vkey, '--log', log.url]);
  await open(`/commitments/${log.idx.onTime}`);
  r = await verify(page.locator('button', { hasText: `Verify commitment #${log.idx.onTime}` }));
  assert.ok(r.ok, r.text);
  assert.ok(r.passed.includes('Consistency with the last checkpoint seen'), r.text);
  assert.match(r.text, new RegExp(`the tree of ${before + 1} entries extends the one of ${before}`));
});
