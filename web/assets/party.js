// One platform or auditor: who it is, its keys, its record, its commitments or audits.
import { h, fill, $, api, errorBox, num, syncClock, timeEl, dl, hash, commitmentsTable, verdictBadge, verifyControl, setTitle } from './app.js';

const m = /^\/parties\/([^/]+)\/?$/.exec(location.pathname);
const name = m ? decodeURIComponent(m[1]) : '';
const root = $('#party');

function stats(p) {
  const r = p.record;
  const stat = (cls, n, label, id) => h('li', {}, h('div', { class: `stat ${cls}`, id }, h('span', { class: 'n' }, num(n)), h('span', { class: 'label' }, label)));
  if (p.role === 'platform') {
    const c = r.commitments;
    return h('ul', { class: 'stats', id: 'record' },
      stat('total', c.total, 'commitments', 'rec-total'),
      stat('sealed', c.sealed, 'sealed', 'rec-sealed'),
      stat('due', c.due, 'due', 'rec-due'),
      stat('revealed', c.revealed_on_time, 'revealed on time', 'rec-on-time'),
      stat('revealed', c.revealed_late, 'revealed late', 'rec-late'),
      stat('overdue', c.overdue, 'overdue', 'rec-overdue'),
      c.escrow_invalid != null && stat('escrow-invalid', c.escrow_invalid, 'escrow invalid', 'rec-escrow-invalid'),
      stat('audits', r.audits.pass, 'audits passed', 'rec-pass'),
      stat('audits', r.audits.fail, 'audits failed', 'rec-fail'));
  }
  return h('ul', { class: 'stats', id: 'record' },
    stat('audits', r.audits.total, 'audits', 'rec-audits'),
    stat('revealed', r.audits.pass, 'pass', 'rec-pass'),
    stat('overdue', r.audits.fail, 'fail', 'rec-fail'));
}

function auditsTable(rows, role) {
  if (!rows.length) return h('p', { class: 'muted' }, role === 'auditor' ? 'No audit by this auditor yet.' : 'No audit of this platform\'s models yet.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'cards' },
    h('thead', {}, h('tr', {}, ['Entry', 'Model', role === 'auditor' ? 'Platform' : 'Auditor', 'Verdict', 'Logged'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((a) => h('tr', {},
      h('td', { 'data-label': 'Entry' }, h('a', { href: `/entries/${a.index}` }, `#${a.index}`)),
      h('td', { 'data-label': 'Model' }, h('a', { href: `/commitments/${a.commitment}` }, `${a.model_name} ${a.model_version}`)),
      h('td', { 'data-label': role === 'auditor' ? 'Platform' : 'Auditor' }, role === 'auditor'
        ? h('a', { href: `/parties/${encodeURIComponent(a.platform)}` }, a.platform)
        : h('a', { href: `/parties/${encodeURIComponent(a.auditor)}` }, a.auditor)),
      h('td', { 'data-label': 'Verdict' }, verdictBadge(a.verdict)),
      h('td', { 'data-label': 'Logged' }, a.logged_at ? timeEl(a.logged_at) : ''))))));
}

async function load() {
  let d;
  try {
    d = await api(`/v1/browse/parties/${encodeURIComponent(name)}`);
  } catch (e) {
    if (e.status === 404) {
      setTitle('Not registered');
      fill(root, h('h1', {}, name || 'Party'), h('p', {}, `${name} is not registered with this log.`));
      return;
    }
    throw e;
  }
  syncClock(d.now);
  const p = d;
  setTitle(p.display_name || p.name);
  const role = p.role === 'platform' ? 'Platform' : 'Auditor';
  fill(root,
    h('p', { class: 'muted' }, h('a', { href: '/parties' }, 'Platforms & auditors'), ` \u203a ${p.name}`),
    h('h1', {}, p.display_name || p.name),
    dl([
      ['Role', role],
      ['Name', h('code', {}, p.name)],
      p.contact && ['Contact', p.contact],
      ['Registered', [h('a', { href: `/entries/${p.registered_at}` }, `entry #${p.registered_at}`),
        p.updated_at !== p.registered_at ? [', keys last changed at ', h('a', { href: `/entries/${p.updated_at}` }, `entry #${p.updated_at}`)] : '']],
    ]),
    verifyControl({
      index: p.updated_at,
      label: `Verify the registration (entry #${p.updated_at})`,
      expect: [
        { label: 'name', path: 'statement.predicate.name', value: p.name },
        { label: 'role', path: 'statement.predicate.role', value: p.role },
        { label: 'keys', path: 'statement.predicate.keys', value: p.keys },
      ],
    }),
    h('h2', {}, 'Keys'),
    h('p', { class: 'small muted' }, `Entries signed by ${p.name} must carry a signature by one of these verifier keys.`),
    h('ul', { class: 'keys', id: 'keys' }, p.keys.map((k) => h('li', {}, hash(k)))),
    p.revoked_keys && p.revoked_keys.length ? [h('h3', {}, 'Revoked keys'),
      h('ul', { class: 'keys' }, p.revoked_keys.map((r) => h('li', {}, hash(r.key), ` \u2014 revoked at `, h('a', { href: `/entries/${r.revoked_at}` }, `entry #${r.revoked_at}`))))] : null,
    h('h2', {}, 'Record'),
    stats(p),
    p.role === 'platform' ? [
      h('h2', {}, 'Commitments'),
      d.commitments.length ? commitmentsTable(d.commitments, { showPlatform: false }) : h('p', { class: 'muted' }, 'No commitment yet.'),
      d.commitments.length >= 1000 ? h('p', {}, h('a', { href: `/commitments?platform=${encodeURIComponent(p.name)}` }, 'All commitments of this platform')) : null,
      h('h2', {}, 'Audits of its models'),
      auditsTable(d.audits, 'platform'),
    ] : [
      h('h2', {}, 'Audits'),
      auditsTable(d.audits.filter((a) => a.auditor === p.name), 'auditor'),
    ]);
}

load().catch((e) => fill(root, h('h1', {}, name || 'Party'), errorBox(e)));
