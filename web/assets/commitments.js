// Commitments: a table filterable by platform and status, with live countdowns.
import { h, fill, $, api, errorBox, num, syncClock, commitmentsTable, setTitle } from './app.js';

const PAGE = 50;
const params = new URLSearchParams(location.search);
const platform = params.get('platform') || '';
const status = params.get('status') || '';
const after = params.get('after');

async function platforms() {
  const select = $('#f-platform');
  const parties = await api('/v1/parties');
  for (const p of parties.filter((p) => p.role === 'platform')) {
    select.append(h('option', { value: p.name }, p.display_name && p.display_name !== p.name ? `${p.display_name} (${p.name})` : p.name));
  }
  if (platform && ![...select.options].some((o) => o.value === platform)) {
    select.append(h('option', { value: platform }, `${platform} (not registered)`));
  }
  select.value = platform;
}

async function list() {
  $('#f-status').value = status;
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (platform) q.set('platform', platform);
  if (status) q.set('status', status);
  if (after != null) q.set('after', after);
  const r = await api(`/v1/commitments?${q}`);
  syncClock(r.now);
  const what = [status && `${status}`, 'commitments', platform && `of ${platform}`].filter(Boolean).join(' ');
  setTitle(what.charAt(0).toUpperCase() + what.slice(1));
  const el = $('#list');
  if (!r.commitments.length) {
    fill(el, h('p', { id: 'empty' }, after != null ? 'No more commitments.' : `No ${what} yet.`),
      after != null ? h('p', {}, h('a', { href: `?${new URLSearchParams({ platform, status })}` }, 'Back to the first page')) : null);
    return;
  }
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    after != null ? h('a', { href: `?${new URLSearchParams({ platform, status })}` }, '\u2190 First page') : null,
    r.commitments.length === PAGE ? h('a', { href: `?${new URLSearchParams({ platform, status, after: r.commitments[r.commitments.length - 1].index })}` }, 'Next page \u2192') : null);
  fill(el,
    h('p', { class: 'muted', id: 'showing' }, `${num(r.commitments.length)} ${what}${r.commitments.length === PAGE ? ' on this page' : ''}, oldest first; times are UTC.`),
    commitmentsTable(r.commitments, { caption: null }),
    pager);
}

platforms().catch(() => { /* the filter still works as a text field in the URL */ });
list().catch((e) => fill($('#list'), errorBox(e)));
