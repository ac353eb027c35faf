// One commitment: status and countdown, the model, its timeline, the download once revealed,
// the escrow's opening (and the evidence when it held other bytes), decision batches and audits
// (verdicts and charts), each with its "verify" control.
import {
  h, fill, $, api, errorBox, num, bytes, date, timeEl, syncClock, now, statusAt, badge, countdown,
  modelName, dl, hash, verifyControl, verdictBadge, setTitle,
} from './app.js';
import { sha256, hex, decodeLeaf } from './verify.js';

const m = /^\/commitments\/(\d+)\/?$/.exec(location.pathname);
const index = m ? Number(m[1]) : NaN;
const root = $('#commitment');

function claimsOf(c) {
  return [
    { label: 'model digest', path: 'statement.subject.0.digest.sha3-256', value: c.model_digest },
    { label: 'platform', path: 'statement.predicate.platform', value: c.platform },
    { label: 'model name', path: 'statement.predicate.model.name', value: c.model.name },
    { label: 'version', path: 'statement.predicate.model.version', value: c.model.version },
    { label: 'size', path: 'statement.predicate.model.total_size', value: c.model.total_size },
    { label: 'reveal date', path: 'statement.predicate.reveal_at', value: c.reveal_at, kind: 'time' },
    { label: 'logged at', path: 'leaf.logged_at', value: c.logged_at, kind: 'time' },
  ];
}

// How an escrow was opened, from a reveal entry's evidence (predicate.escrow).
function openedWith(e) {
  if (!e) return null;
  if (e.opened_with === 'trustees') return `${num((e.shares || []).length)} trustees' shares`;
  return e.round != null ? `the signature of drand round ${num(e.round)}` : 'a drand round signature';
}

function hero(c, d, rerender) {
  const s = statusAt(c);
  const parts = [badge(s, c)];
  parts[0].classList.add('big');
  if (s === 'sealed') {
    parts.push(h('p', { class: 'hero-countdown' }, 'Reveal in ', countdown(c.reveal_at, { onZero: rerender }), h('span', { class: 'muted small' }, ` (on ${date(c.reveal_at)})`)));
  } else if (s === 'due') {
    parts.push(h('p', { class: 'hero-countdown' }, 'Due since ', timeEl(c.reveal_at), '; overdue in ', countdown(c.overdue_at, { onZero: rerender })));
  } else if (s === 'escrow-invalid') {
    parts.push(h('p', {}, 'The escrow opened to other bytes than the committed model, or did not open (', h('a', { href: `/entries/${c.escrow_invalid}` }, `entry #${c.escrow_invalid}`), ' holds the evidence): public proof the platform did not deposit what it committed to.'));
  } else if (s === 'revealed') {
    const byEscrow = c.reveal.revealed_by === 'escrow'
      ? `: the platform did not reveal it; the log opened the escrow${d.opening ? ` with ${openedWith(d.opening)}` : ''}`
      : '';
    parts.push(h('p', {}, `Revealed ${c.reveal.on_time ? 'on time' : 'late'}, `, timeEl(c.reveal.logged_at), ` by ${c.reveal.revealed_by}${c.reveal.revealer ? ` (${c.reveal.revealer})` : ''}${byEscrow}.`));
  } else {
    parts.push(h('p', {}, 'Overdue since ', timeEl(c.overdue_at), `: the grace period ended and no one revealed the committed model.`));
  }
  return h('div', { class: 'panel status', id: 'status', 'data-status': s }, parts);
}

function timeline(c, d) {
  const t = now();
  const events = [];
  const entry = (i) => h('a', { href: `/entries/${i}` }, `entry #${i}`);
  events.push({ at: c.logged_at, cls: 'done', what: 'Committed', detail: [`${c.platform} logged the model's digest (`, entry(c.index), ')'] });
  if (c.escrow) {
    const e = c.escrow;
    events.push({
      at: c.logged_at, cls: 'done', what: 'Escrowed',
      detail: [c.escrow_invalid != null
        ? `a ciphertext was deposited as the model's escrow (${e.scheme}; ciphertext `
        : `the model was deposited encrypted (${e.scheme}; ciphertext `, hash(e.ciphertext_digest), ')',
        e.lock_round != null ? `, opening at drand round ${num(e.lock_round)}` : '',
        e.trustees && e.trustees.length ? `, or with ${e.threshold || '?'} of ${e.trustees.length} trustees` : '',
        c.escrow_invalid != null ? ': it did not hold the committed model (below)' : ': the log can reveal it without the platform'],
    });
  }
  const revealAt = Date.parse(c.reveal_at);
  events.push({ at: c.reveal_at, cls: t >= revealAt ? 'done' : 'future', what: 'Reveal date', detail: t >= revealAt ? 'the embargo ended' : 'the embargo ends' });
  if (c.escrow_invalid != null) {
    const e = d.evidence && d.evidence.escrow;
    const found = e && e.opened_digest ? ['held another model, with digest ', hash(e.opened_digest)] : 'did not open to the committed model';
    events.push({
      at: d.evidence ? d.evidence.logged_at : c.reveal_at, cls: 'bad', what: 'Escrow invalid',
      detail: ['the escrow', e ? `, opened with ${openedWith(e)},` : '', ' ', found, ' (', entry(c.escrow_invalid), ')'],
    });
  }
  if (c.reveal && c.reveal.matches_commitment) {
    events.push({ at: c.reveal.logged_at, cls: c.reveal.on_time ? 'good' : 'bad', what: c.reveal.on_time ? 'Revealed on time' : 'Revealed late',
      detail: [`by ${c.reveal.revealed_by}${c.reveal.revealer ? ` (${c.reveal.revealer})` : ''}`,
        c.reveal.revealed_by === 'escrow' && d.opening ? `, which opened with ${openedWith(d.opening)}` : '',
        '; the bytes hash to the committed digest (', entry(c.reveal.index), ')'] });
    if (!c.reveal.on_time) events.push({ at: c.overdue_at, cls: 'bad', what: 'Grace period ended', detail: 'before the reveal' });
  } else if (t >= Date.parse(c.overdue_at)) {
    events.push({ at: c.overdue_at, cls: 'bad', what: 'Overdue', detail: 'the grace period ended with no valid reveal' });
  } else {
    events.push({ at: c.overdue_at, cls: 'future', what: 'Grace period ends', detail: 'the commitment becomes overdue if it is not revealed by then' });
  }
  for (const b of d.decision_batches) {
    if (b.logged_at) events.push({ at: b.logged_at, cls: 'done', what: 'Decision batch', detail: [`${num(b.predicate.record_count)} decisions (`, entry(b.index), ')'] });
  }
  for (const a of d.audits) {
    const p = a.predicate || {};
    events.push({ at: a.logged_at, cls: p.verdict === 'pass' ? 'good' : 'bad', what: 'Audited', detail: [h('a', { href: `/parties/${encodeURIComponent(p.auditor)}` }, p.auditor), ': ', verdictBadge(p.verdict), ' (', entry(a.index), ')'] });
  }
  if (c.supersedes != null) events.push({ at: c.logged_at, cls: 'done', what: 'Replaces', detail: h('a', { href: `/commitments/${c.supersedes}` }, `commitment #${c.supersedes}`) });
  events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return h('ol', { class: 'timeline', id: 'timeline' }, events.map((e) => h('li', { class: e.cls },
    h('div', {}, h('span', { class: 'what' }, e.what), ' \u00b7 ', timeEl(e.at)),
    h('div', { class: 'muted' }, e.detail))));
}

function chart(metrics, label = 'Headline metrics') {
  const entries = (Array.isArray(metrics) ? metrics : Object.entries(metrics || {})).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
  if (!entries.length) return h('p', { class: 'muted' }, 'No headline metrics.');
  const values = entries.map(([, v]) => v);
  let lo = Math.min(0, ...values);
  let hi = Math.max(0, ...values);
  if (hi > 0 && hi <= 1) hi = 1;
  if (hi === lo) hi = lo + 1;
  const pos = (v) => ((v - lo) / (hi - lo)) * 100;
  return h('ul', { class: 'chart', 'aria-label': label }, entries.map(([name, v]) => {
    const bar = h('span', { class: v < 0 ? 'bar neg' : 'bar' });
    const a = pos(Math.min(0, v));
    const b = pos(Math.max(0, v));
    bar.style.left = `${a}%`;
    bar.style.width = `${Math.max(b - a, 0.5)}%`;
    const zero = lo < 0 ? h('span', { class: 'zero' }) : null;
    if (zero) zero.style.left = `${pos(0)}%`;
    return h('li', {},
      h('span', { class: 'label' }, name.replaceAll('_', ' ')),
      h('span', { class: 'track', 'aria-hidden': 'true' }, bar, zero),
      h('span', { class: 'value' }, Number.isInteger(v) ? num(v) : v.toFixed(3)));
  }));
}

function audits(d) {
  if (!d.audits.length) {
    return h('p', { class: 'muted' }, d.status === 'revealed' ? 'No audit has been logged yet.' : 'Audits attach to revealed models.');
  }
  return [
    d.audits_total > d.audits.length ? h('p', { class: 'muted' }, `The last ${d.audits.length} of ${d.audits_total} audits.`) : null,
    d.audits.map((a) => {
      const p = a.predicate || {};
      const expect = [
        { label: 'commitment', path: 'statement.predicate.commitment', value: p.commitment },
        { label: 'auditor', path: 'statement.predicate.auditor', value: p.auditor },
        { label: 'verdict', path: 'statement.predicate.verdict', value: p.verdict },
        { label: 'suite digest', path: 'statement.predicate.suite_digest', value: p.suite_digest },
        { label: 'data set digest', path: 'statement.predicate.dataset_digest', value: p.dataset_digest },
        { label: 'report digest', path: 'statement.predicate.report_digest', value: p.report_digest },
        ...Object.entries(p.metrics || {}).map(([k, v]) => ({ label: k, path: ['statement', 'predicate', 'metrics', k], value: v })),
      ];
      return h('article', { class: 'audit', 'data-index': a.index },
        h('h3', {}, 'Audit by ', h('a', { href: `/parties/${encodeURIComponent(p.auditor)}` }, p.auditor), ' ', verdictBadge(p.verdict)),
        dl([
          ['Logged', [timeEl(a.logged_at), ' (', h('a', { href: `/entries/${a.index}` }, `entry #${a.index}`), ')']],
          ['Test suite', hash(p.suite_digest)],
          ['Data set', hash(p.dataset_digest)],
          ['Full report', hash(p.report_digest)],
        ]),
        chart(p.metrics),
        verifyControl({ index: a.index, label: `Verify audit #${a.index}`, expect }));
    }),
  ];
}

const GROUP_METRICS = ['selection_rate', 'tpr', 'fpr', 'ppv'];

// The full report of an audit, when its auditor uploaded it: checked against the digest the
// audit entry carries (SHA-256, in this browser), then its per-group metrics and checks.
async function fullReport(article, view, digest) {
  const box = h('div', { class: 'report' }, h('p', {}, h('a', { href: `/${view.report}` }, 'Full report (JSON)'), ' — checking its digest…'));
  article.querySelector('.verify').before(box);
  const resp = await fetch(`/${view.report}`, { cache: 'no-store' });
  if (!resp.ok) { fill(box, h('p', { class: 'muted' }, `The full report could not be loaded (HTTP ${resp.status}).`)); return; }
  const body = new Uint8Array(await resp.arrayBuffer());
  const got = `sha256:${hex(await sha256(body))}`;
  if (got !== digest) {
    fill(box, h('p', { class: 'notice error', role: 'alert' }, h('strong', {}, 'The full report does not match the audit entry: '), `its SHA-256 is ${got}, the entry says ${digest}. Do not trust it.`));
    return;
  }
  let report;
  try { report = JSON.parse(new TextDecoder().decode(body)); } catch { report = null; }
  const parts = [h('p', { class: 'report-digest' }, h('a', { href: `/${view.report}` }, 'Full report (JSON)'),
    ' — ', h('span', { class: 'badge badge-pass' }, '✓ digest matches'), ' its SHA-256 is the one in the audit entry.')];
  for (const g of (report && Array.isArray(report.groupings) ? report.groupings : []).slice(0, 8)) {
    const groups = Array.isArray(g.groups) ? g.groups : [];
    for (const metric of GROUP_METRICS) {
      const values = groups.map((gr) => [String(gr.label), gr.metrics && gr.metrics[metric]]).filter(([, v]) => typeof v === 'number');
      if (values.length < 2) continue;
      parts.push(h('h4', {}, `${metric.replaceAll('_', ' ')} by ${g.name || (g.attributes || []).join(' × ')}`), chart(values, `${metric} by group`));
      if (metric === 'selection_rate') break;
    }
  }
  const checks = report && Array.isArray(report.checks) ? report.checks : [];
  if (checks.length) {
    parts.push(h('h4', {}, 'Checks'), h('ul', { class: 'checks' }, checks.slice(0, 64).map((c) => h('li', { class: c.passed ? 'ok' : 'fail' },
      h('span', { 'aria-hidden': 'true' }, c.passed ? '✓ ' : '✗ '), h('strong', {}, c.id || c.metric), `: ${c.metric}${c.grouping ? ` by ${c.grouping}` : ''} = `,
      typeof c.value === 'number' ? c.value.toFixed(3) : 'n/a',
      c.min != null || c.max != null ? ` (allowed ${c.min != null ? `≥ ${c.min}` : ''}${c.min != null && c.max != null ? ', ' : ''}${c.max != null ? `≤ ${c.max}` : ''})` : '',
      c.passed ? '' : ' — failed'))));
  }
  fill(box, parts);
}

async function reports(d) {
  let list;
  try { list = await api(`/v1/commitments/${d.commitment.index}/audits`); } catch { return; }
  for (const view of list.audits || []) {
    const article = root.querySelector(`article.audit[data-index="${view.entry}"]`);
    const entry = d.audits.find((a) => a.index === view.entry);
    if (!article || !entry || !view.report) continue;
    fullReport(article, view, entry.predicate.report_digest).catch((e) => article.append(errorBox(e)));
  }
}

function batches(d) {
  if (!d.decision_batches.length) return h('p', { class: 'muted' }, 'No decision batch has been logged for this model.');
  return [
    d.decision_batches_total > d.decision_batches.length ? h('p', { class: 'muted' }, `The last ${d.decision_batches.length} of ${d.decision_batches_total} batches.`) : null,
    h('div', { class: 'table-wrap' }, h('table', { class: 'cards' },
      h('thead', {}, h('tr', {}, ['Entry', 'Window', 'Decisions', 'Batch root (SHA3-256)', 'Check'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, d.decision_batches.map((b) => {
        const p = b.predicate || {};
        const expect = [
          { label: 'commitment', path: 'statement.predicate.commitment', value: p.commitment },
          { label: 'record count', path: 'statement.predicate.record_count', value: p.record_count },
        ];
        return h('tr', {},
          h('td', { 'data-label': 'Entry' }, h('a', { href: `/entries/${b.index}` }, `#${b.index}`)),
          h('td', { 'data-label': 'Window' }, p.window ? [timeEl(p.window.start), ' \u2013 ', timeEl(p.window.end)] : ''),
          h('td', { 'data-label': 'Decisions' }, num(p.record_count || 0)),
          h('td', { 'data-label': 'Root' }, hash(b.subject_digest['sha3-256'] || Object.values(b.subject_digest)[0] || '')),
          h('td', { 'data-label': '' }, verifyControl({ index: b.index, label: `Verify #${b.index}`, expect })));
      })))),
  ];
}

// What the escrow opened to when it did not hold the committed model: the evidence entry,
// side by side with the commitment, and its "verify" control.
function evidence(c, d) {
  const i = c.escrow_invalid;
  const e = (d.evidence && d.evidence.escrow) || {};
  const expect = [
    { label: 'commitment', path: 'statement.predicate.commitment', value: c.index },
    { label: 'committed digest', path: 'statement.subject.0.digest.sha3-256', value: c.model_digest },
    { label: 'matches the commitment', path: 'statement.predicate.matches_commitment', value: false },
    ...[['opened digest', 'opened_digest'], ['round', 'round'], ['round signature', 'signature'], ['ciphertext digest', 'ciphertext_digest']]
      .filter(([, k]) => e[k] != null).map(([label, k]) => ({ label, path: `statement.predicate.escrow.${k}`, value: e[k] })),
  ];
  const command = h('pre', { id: 'open-command' }, `embargo escrow open ${c.index} --log ${location.origin} --vkey <the log's key> --out ./opened`);
  api('/v1/log').then((info) => {
    command.textContent = `embargo escrow open ${c.index} --log ${location.origin} --vkey ${info.vkey} --out ./opened`;
  }).catch(() => { /* keep the placeholder */ });
  return h('div', { id: 'evidence' },
    h('p', {}, 'After the reveal date the log opened the escrow the platform deposited, and logged what it found in ',
      h('a', { href: `/entries/${i}` }, `entry #${i}`), ', signed with its own key.'),
    dl([
      ['Committed digest', hash(c.model_digest)],
      ['The escrow opened to', e.opened_digest
        ? [hash(e.opened_digest), h('div', { class: 'small' }, h('strong', {}, 'A different model'), ': not the one committed to.')]
        : ['no model', e.error ? `: ${e.error}` : '']],
      e.opened_with && ['Opened with', openedWith(e)],
      e.signature && ['Round signature', hash(e.signature)],
      e.chain_hash && ['Beacon chain', hash(e.chain_hash)],
      e.ciphertext_digest && ['Ciphertext', [hash(e.ciphertext_digest), ' \u00b7 ', h('a', { href: `/v1/commitments/${c.index}/escrow` }, 'download it')]],
      d.evidence && ['Logged', timeEl(d.evidence.logged_at)],
    ]),
    h('p', { class: 'small' }, 'Anyone can repeat the opening from the public ciphertext and the ',
      e.opened_with === 'trustees' ? "trustees' shares" : 'round signature', ' the entry published, trusting nothing this log says:'),
    command,
    verifyControl({ index: i, label: `Verify the evidence (entry #${i})`, expect }));
}

function download(c) {
  if (!(c.reveal && c.reveal.matches_commitment)) {
    const s = statusAt(c);
    return h('p', { class: 'muted', id: 'download' }, s === 'overdue'
      ? 'Nothing to download: the model was never revealed.'
      : s === 'escrow-invalid'
        ? 'Nothing to download: the escrow did not hold the committed model, and the platform has not revealed it.'
        : 'The model can be downloaded here once it is revealed.');
  }
  const command = h('pre', { id: 'fetch-command' }, `embargo fetch ${c.index} --log ${location.origin} --vkey <the log's key> --out ./${c.model.name}`);
  api('/v1/log').then((info) => {
    command.textContent = `embargo fetch ${c.index} --log ${location.origin} --vkey ${info.vkey} --out ./${c.model.name}`;
  }).catch(() => { /* keep the placeholder */ });
  return h('div', { id: 'download' },
    h('p', {}, h('a', { class: 'download', href: `/v1/commitments/${c.index}/model`, download: `${c.model.name}-${c.model.version}.model-stream` },
      `Download ${modelName(c)} (${bytes(c.model.total_size)}, ${num(c.model.file_count)} file${c.model.file_count === 1 ? '' : 's'})`)),
    h('p', { class: 'small' }, 'The download is a model stream (Embargo\'s format for files and their names). To download, unpack and verify the digest and the log\'s proofs in one step:'),
    command,
    verifyControl({
      index: c.reveal.index,
      label: `Verify the reveal (entry #${c.reveal.index})`,
      expect: [
        { label: 'commitment', path: 'statement.predicate.commitment', value: c.index },
        { label: 'model digest', path: 'statement.subject.0.digest.sha3-256', value: c.model_digest },
        { label: 'on time', path: 'statement.predicate.on_time', value: c.reveal.on_time },
        { label: 'revealed by', path: 'statement.predicate.revealed_by', value: c.reveal.revealed_by },
        { label: 'logged at', path: 'leaf.logged_at', value: c.reveal.logged_at, kind: 'time' },
      ],
    }));
}

function render(d) {
  const c = d.commitment;
  setTitle(`${modelName(c)} (#${c.index})`);
  const rerender = () => render(d);
  fill(root,
    h('p', { class: 'muted' }, h('a', { href: '/commitments' }, 'Commitments'), ` \u203a #${c.index}`),
    h('h1', {}, modelName(c)),
    h('p', {}, 'Committed by ', h('a', { href: `/parties/${encodeURIComponent(c.platform)}` }, c.platform), ' \u00b7 ', timeEl(c.logged_at), ` \u00b7 entry #${c.index}`),
    hero(c, d, rerender),
    verifyControl({ index: c.index, label: `Verify commitment #${c.index}`, expect: claimsOf(c) }),
    c.escrow_invalid != null && [h('h2', {}, 'Escrow evidence'), evidence(c, d)],
    h('h2', {}, 'The model'),
    dl([
      ['Model digest', [hash(c.model_digest), h('div', { class: 'muted small' }, 'SHA3-256 over every file, its name and size (embargo digest)')]],
      ['Size', `${bytes(c.model.total_size)} (${num(c.model.total_size)} bytes) in ${num(c.model.file_count)} file${c.model.file_count === 1 ? '' : 's'}`],
      ['Format', c.model.format],
      c.purpose && ['Purpose', c.purpose],
      ['Signed by', h('code', {}, c.signer)],
      ['Reveal date', [timeEl(c.reveal_at)]],
      ['Overdue after', [timeEl(c.overdue_at), h('span', { class: 'muted' }, ' (the end of the grace period)')]],
      c.supersedes != null && ['Replaces', h('a', { href: `/commitments/${c.supersedes}` }, `commitment #${c.supersedes}`)],
      c.superseded_by != null && ['Replaced by', h('a', { href: `/commitments/${c.superseded_by}` }, `commitment #${c.superseded_by}`)],
      c.escrow && ['Escrow', [`${c.escrow.scheme}${c.escrow.lock_round != null ? `, drand round ${num(c.escrow.lock_round)}` : ''}`,
        c.escrow.trustees && c.escrow.trustees.length ? `, or ${c.escrow.threshold} of ${c.escrow.trustees.length} trustees` : '',
        c.escrow_deposited === false ? h('span', { class: 'muted' }, ' (ciphertext not deposited yet)') : [' \u00b7 ', h('a', { href: `/v1/commitments/${c.index}/escrow` }, `ciphertext (${bytes(c.escrow.ciphertext_size)})`)]]],
    ]),
    h('h2', {}, 'Timeline'),
    timeline(c, d),
    h('h2', {}, 'Download'),
    download(c),
    h('h2', {}, 'Decision batches'),
    h('div', { id: 'batches' }, batches(d)),
    h('h2', {}, 'Audits'),
    h('div', { id: 'audits' }, audits(d)));
  if (d.audits.length) reports(d);
}

// An entry as the log stores it, decoded: {logged_at, statement}; null if it cannot be read
// (the page then says less; its "verify" controls read the entry again, from the tiles).
async function entryAt(i) {
  try {
    const resp = await fetch(`/v1/entries/${i}`, { cache: 'no-store' });
    if (!resp.ok) return null;
    const { leaf, statement } = decodeLeaf(new Uint8Array(await resp.arrayBuffer()));
    const p = statement && statement.predicate;
    return p ? { logged_at: leaf.logged_at, escrow: p.escrow || null } : null;
  } catch {
    return null;
  }
}

async function load() {
  if (!Number.isSafeInteger(index)) throw new Error('this address names no commitment');
  try {
    const d = await api(`/v1/browse/commitments/${index}`);
    syncClock(d.now);
    // The escrow's opening: how it opened (a reveal by escrow), or the evidence it held other bytes.
    const c = d.commitment;
    const [opened, invalid] = await Promise.all([
      c.reveal && c.reveal.matches_commitment && c.reveal.revealed_by === 'escrow' ? entryAt(c.reveal.index) : null,
      c.escrow_invalid != null ? entryAt(c.escrow_invalid) : null,
    ]);
    d.opening = opened && opened.escrow;
    d.evidence = invalid;
    render(d);
  } catch (e) {
    if (e.status === 404) {
      setTitle('No such commitment');
      fill(root, h('h1', {}, `No commitment at entry #${index}`), h('p', {}, e.message, '. ', h('a', { href: `/entries/${index}` }, `Open entry #${index}`), ' to see what it is.'));
      return;
    }
    throw e;
  }
}

load().catch((e) => fill(root, h('h1', {}, 'Commitment'), errorBox(e)));
