// Platforms and auditors: who they are, their keys, their record.
import { h, fill, $, api, errorBox, num, syncClock, setTitle } from './app.js';

function record(p) {
  const r = p.record;
  if (p.role === 'platform') {
    const c = r.commitments;
    return h('ul', { class: 'record' },
      h('li', {}, `${num(c.total)} commitment${c.total === 1 ? '' : 's'}: ${num(c.sealed)} sealed, ${num(c.due)} due`),
      h('li', {}, `${num(c.revealed_on_time)} revealed on time, ${num(c.revealed_late)} late`),
      h('li', { class: c.overdue ? 'warn' : '' }, `${num(c.overdue)} overdue`),
      c.escrow_invalid ? h('li', { class: 'warn' }, `${num(c.escrow_invalid)} escrow invalid`) : null,
      h('li', {}, `audits of its models: ${num(r.audits.pass)} pass, ${num(r.audits.fail)} fail`),
      r.decision_batches ? h('li', {}, `${num(r.decision_batches)} decision batch${r.decision_batches === 1 ? '' : 'es'}`) : null);
  }
  return h('ul', { class: 'record' },
    h('li', {}, `${num(r.audits.total)} audit${r.audits.total === 1 ? '' : 's'}: ${num(r.audits.pass)} pass, ${num(r.audits.fail)} fail`));
}

function card(p) {
  const href = `/parties/${encodeURIComponent(p.name)}`;
  return h('article', { class: 'card', 'data-party': p.name },
    h('h3', {}, h('a', { href }, p.display_name || p.name)),
    p.display_name && p.display_name !== p.name ? h('p', { class: 'muted' }, h('code', {}, p.name)) : null,
    record(p),
    h('p', { class: 'small muted' }, `${p.keys.length} current key${p.keys.length === 1 ? '' : 's'}`,
      p.revoked_keys && p.revoked_keys.length ? `, ${p.revoked_keys.length} revoked` : '', ` \u00b7 registered at entry #${p.registered_at}`),
    p.contact ? h('p', { class: 'small' }, 'Contact: ', p.contact) : null);
}

async function load() {
  const d = await api('/v1/browse/parties');
  syncClock(d.now);
  setTitle('Platforms and auditors');
  for (const role of ['platform', 'auditor']) {
    const list = d.parties.filter((p) => p.role === role);
    fill($(`#${role}s`), list.length
      ? h('div', { class: 'cards-grid' }, list.map(card))
      : h('p', { class: 'muted' }, `No ${role} is registered yet.`));
  }
}

load().catch((e) => { fill($('#platforms'), errorBox(e)); fill($('#auditors'), ''); });
