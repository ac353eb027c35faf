// Search by entry index, model digest, platform or auditor, or model name.
import { h, fill, $, api, errorBox, syncClock, commitmentsTable, describe, KIND_LABELS, setTitle } from './app.js';

const q = (new URLSearchParams(location.search).get('q') || '').trim();
const out = $('#results');

async function load() {
  $('#q-main').value = q;
  if (!q) {
    fill(out, h('p', { class: 'muted' }, 'Type an entry index (e.g. 3), the start of a model digest, or a name.'));
    return;
  }
  setTitle(`Search: ${q}`);
  out.setAttribute('aria-busy', 'true');
  const r = await api(`/v1/browse/search?q=${encodeURIComponent(q)}`);
  syncClock(r.now);
  const parts = [];
  if (r.entry) {
    parts.push(h('h2', {}, 'Entry'), h('p', { id: 'result-entry' }, h('a', { href: r.entry.kind === 'model-commitment' ? `/commitments/${r.entry.index}` : `/entries/${r.entry.index}` }, `#${r.entry.index}`),
      ` \u00b7 ${KIND_LABELS[r.entry.kind] || 'Entry'}: `, describe(r.entry)));
  }
  if (r.commitments.length) parts.push(h('h2', {}, 'Commitments'), commitmentsTable(r.commitments));
  if (r.parties.length) {
    parts.push(h('h2', {}, 'Platforms and auditors'), h('ul', { id: 'result-parties' }, r.parties.map((p) => h('li', {},
      h('a', { href: `/parties/${encodeURIComponent(p.name)}` }, p.display_name || p.name), ` (${p.role}, `, h('code', {}, p.name), ')'))));
  }
  if (!parts.length) parts.push(h('p', { id: 'no-results' }, `Nothing matches \u201c${q}\u201d.`));
  if (r.truncated) parts.push(h('p', { class: 'muted' }, 'Only the first matches are shown; search for something more precise.'));
  fill(out, parts);
}

load().catch((e) => fill(out, errorBox(e)));
