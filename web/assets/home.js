// Home: the log, its checkpoint, counts by status, the latest entries.
import { h, fill, $, api, errorBox, num, ago, timeEl, date, syncClock, ticker, dl, hash, describe, KIND_LABELS, verifyControl, trustedKey, pinKey } from './app.js';
import { parseNote, parseCheckpointText, cosignatures, parseVkey } from './verify.js';

async function logPanel() {
  const el = $('#log');
  const s = await api('/v1/browse/summary');
  syncClock(s.now);
  let cp = null;
  let cos = [];
  try {
    cp = parseCheckpointText(parseNote(s.checkpoint).text);
    cos = cosignatures(s.checkpoint, s.origin);
  } catch (e) {
    cp = null;
  }
  const age = s.latest_logged_at ? h('span', { id: 'checkpoint-age' }) : null;
  if (age) ticker(age, () => { age.textContent = ago(s.latest_logged_at); });
  fill(el,
    dl([
      ['Origin', h('code', { id: 'origin' }, s.origin)],
      ['Verifier key', hash(s.vkey)],
      ['Tree size', h('span', { id: 'tree-size' }, `${num(s.size)} entries`)],
      ['Root hash', cp ? hash(cp.rootB64, 'root hash (base64)') : 'unreadable'],
      ['Signed', s.latest_logged_at
        ? [age, ' (with the batch that logged the newest entry, ', timeEl(s.latest_logged_at), ')']
        : 'empty log'],
      ['Witnesses', cos.length
        ? h('ul', { class: 'keys', id: 'cosignatures' }, cos.map((c) => h('li', {}, h('code', {}, c.name), ` (key ${c.idHex})`,
          c.timestamp ? [', cosigned ', timeEl(c.timestamp.toISOString())] : '',
          h('span', { class: 'muted' }, ' \u2014 listed, not checked: this page has no witness keys'))))
        : h('span', { id: 'cosignatures' }, 'no witness has cosigned this checkpoint yet')],
      ...(s.witnessing ? [['Witnessing', witnessing(s.witnessing)]] : []),
    ]),
    h('details', {}, h('summary', {}, 'The checkpoint as served'), h('pre', {}, s.checkpoint)),
    verifyControl({ index: null, label: 'Verify the checkpoint' }));
  counts(s);
}

// The log's witness policy and how far the witnessed checkpoint (shown above) lags behind
// the log's newest entries, as the log reports it.
function witnessing(w) {
  const lag = w.lag_entries
    ? `${num(w.lag_entries)} newer entries not yet witnessed (the oldest logged ${num(w.lag_seconds)} s ago)`
    : 'the witnessed checkpoint covers every entry';
  return h('div', { id: 'witnessing' },
    `policy: ${w.policy} of ${w.witnesses.length} witnesses must cosign; ${lag}`,
    h('ul', { class: 'keys' }, w.witnesses.map((x) => h('li', {}, h('code', {}, x.vkey.split('+')[0]),
      ` cosigned up to ${num(x.cosigned_size)}`,
      x.last_error ? h('span', { class: 'muted' }, ` \u2014 last error: ${x.last_error}`) : ''))));
}

function counts(s) {
  const c = s.commitments;
  const stat = (cls, n, label, sub, href) => h('li', {},
    h('a', { class: `stat ${cls}`, href, id: `count-${cls}` },
      h('span', { class: 'n' }, num(n)), h('span', { class: 'label' }, label), sub && h('span', { class: 'sub' }, sub)));
  fill($('#counts'),
    h('ul', { class: 'stats' },
      stat('total', c.total, 'commitments', `${num(s.parties.platforms)} platform${s.parties.platforms === 1 ? '' : 's'}`, '/commitments'),
      stat('sealed', c.sealed, 'sealed', 'waiting for their reveal date', '/commitments?status=sealed'),
      stat('due', c.due, 'due', 'in their grace period', '/commitments?status=due'),
      stat('revealed', c.revealed, 'revealed', `${num(c.revealed_on_time)} on time, ${num(c.revealed_late)} late`, '/commitments?status=revealed'),
      stat('overdue', c.overdue, 'overdue', 'not revealed in time', '/commitments?status=overdue'),
      c.escrow_invalid != null && stat('escrow-invalid', c.escrow_invalid, 'escrow invalid', 'the escrow held other bytes', '/commitments?status=escrow-invalid'),
      stat('audits', s.audits.total, 'audits', `${num(s.audits.pass)} pass, ${num(s.audits.fail)} fail`, '/parties'),
    ),
    s.truncated ? h('p', { class: 'muted small' }, 'Counts stop at the server\'s scan limit.') : null);
}

async function latest() {
  const el = $('#latest');
  const list = await api('/v1/browse/entries?limit=20');
  if (!list.entries.length) {
    fill(el, h('p', {}, 'The log is empty.'));
    return;
  }
  const rows = [];
  for (const e of list.entries) {
    const link = e.kind === 'model-commitment' ? `/commitments/${e.index}` : `/entries/${e.index}`;
    const verifyRow = h('tr', { class: 'verify-row', hidden: true }, h('td', { colspan: 5 }));
    const toggle = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-label': `Verify entry #${e.index}` }, 'Verify');
    toggle.addEventListener('click', () => {
      const open = verifyRow.hidden;
      verifyRow.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      if (open && !verifyRow.firstChild.firstChild) {
        const ctl = verifyControl({ index: e.index, expect: e.subject_digest && Object.keys(e.subject_digest).length
          ? Object.entries(e.subject_digest).map(([alg, v]) => ({ label: `subject ${alg} digest`, path: `statement.subject.0.digest.${alg}`, value: v }))
          : [] });
        fill(verifyRow.firstChild, ctl);
        ctl.querySelector('button').click();
      }
    });
    rows.push(h('tr', { 'data-index': e.index },
      h('td', { 'data-label': 'Entry' }, h('a', { href: link }, `#${e.index}`)),
      h('td', { 'data-label': 'Kind' }, KIND_LABELS[e.kind] || 'Other'),
      h('td', { 'data-label': 'What' }, describe(e)),
      h('td', { 'data-label': 'Logged' }, e.logged_at ? h('time', { datetime: e.logged_at, title: date(e.logged_at) }, ago(e.logged_at)) : ''),
      h('td', { 'data-label': '' }, toggle)));
    rows.push(verifyRow);
  }
  fill(el, h('div', { class: 'table-wrap' }, h('table', { class: 'cards entries' },
    h('thead', {}, h('tr', {}, ['Entry', 'Kind', 'What it records', 'Logged', 'Check'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows))),
  list.size > list.entries.length ? h('p', {}, `Showing the newest ${list.entries.length} of ${num(list.size)} entries. `,
    h('a', { href: `/entries/${list.size - list.entries.length - 1}` }, 'Older entries'), ' can be opened by index.') : null);
}

async function keyForm() {
  const input = $('#vkey-input');
  const status = $('#key-status');
  const key = await trustedKey();
  input.value = key.vkey;
  status.textContent = key.pinned
    ? (key.announced === key.vkey ? 'This browser pinned this key; the log still announces it.' : `Warning: the log now announces a different key: ${key.announced}`)
    : 'This browser has just pinned the key the log announces.';
  $('#key-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await parseVkey(input.value);
      pinKey(input.value);
      status.textContent = 'Saved: verification in this browser now uses this key.';
    } catch (e) {
      status.textContent = `Not a usable key: ${e.message}`;
    }
  });
}

for (const [sel, f] of [['#log', logPanel], ['#latest', latest], ['#key-status', keyForm]]) {
  f().catch((e) => {
    fill($(sel), errorBox(e));
    if (sel === '#log') fill($('#counts'), '');
  });
}
