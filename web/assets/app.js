// Shared by every page: DOM helpers, the JSON API, formatting, the log's clock, live
// countdowns, status badges, the commitments table and the "verify" control.

import { verifyEntry } from './verify.js';

// ---- DOM ----

// h('a', {href: '/x', class: 'y'}, 'text', child...): attributes are set as attributes
// (never as HTML); children are nodes or strings (as text); null/false children are skipped.
export function h(tag, attrs = {}, ...children) {
  const el = tag === 'svg' || tag === 'path' ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  el.removeAttribute('aria-busy');
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// ---- the JSON API ----

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(path) {
  let resp;
  try {
    resp = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', `the log could not be reached (${e.message})`);
  }
  if (!resp.ok) {
    let body = {};
    try { body = await resp.json(); } catch { /* not JSON */ }
    throw new ApiError(resp.status, body.error || 'http', body.message || `HTTP ${resp.status}`);
  }
  return resp.json();
}

export function errorBox(e) {
  return h('div', { class: 'notice error', role: 'alert' }, h('strong', {}, 'Could not load this: '), e.message || String(e));
}

// ---- formatting ----

const nf = new Intl.NumberFormat('en');
export const num = (n) => nf.format(n);

export function bytes(n) {
  if (n < 1024) return `${num(n)} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = -1;
  do { v /= 1024; u++; } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`;
}

export function date(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

export function timeEl(iso, text = date(iso)) {
  return h('time', { datetime: iso, title: iso }, text);
}

// "3d 4h 5m 6s"; always down to seconds so a countdown visibly ticks.
export function duration(ms) {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const parts = [];
  if (d) parts.push(`${num(d)}d`);
  if (d || hh) parts.push(`${hh}h`);
  if (d || hh || m) parts.push(`${m}m`);
  parts.push(`${s}s`);
  return parts.join(' ');
}

export function ago(iso) {
  const ms = now() - Date.parse(iso);
  if (ms < 0) return `in ${duration(-ms)}`;
  if (ms < 1000) return 'just now';
  return `${duration(ms).split(' ').slice(0, 2).join(' ')} ago`;
}

// ---- the log's clock: statuses and countdowns follow the log's time, not this computer's ----

let skew = 0;
export function syncClock(serverNow) {
  const t = Date.parse(serverNow);
  if (!Number.isNaN(t)) skew = t - Date.now();
}
export const now = () => Date.now() + skew;

// Elements that tick: each has an update() run twice a second while it is in the document.
const ticking = new Set();
let timer = null;
function tick() {
  for (const t of ticking) {
    if (!t.el.isConnected) { ticking.delete(t); continue; }
    t.update();
  }
  if (!ticking.size) { clearInterval(timer); timer = null; }
}
export function ticker(el, update) {
  const t = { el, update };
  ticking.add(t);
  update();
  if (!timer) timer = setInterval(tick, 500);
  return el;
}

// A live countdown to `until`; calls onZero once when it passes.
export function countdown(until, { onZero, prefix = '' } = {}) {
  const target = Date.parse(until);
  const el = h('span', { class: 'countdown', role: 'timer', 'data-until': until });
  let fired = false;
  return ticker(el, () => {
    const left = target - now();
    const text = prefix + duration(left);
    if (el.textContent !== text) el.textContent = text;
    if (left <= 0 && !fired) { fired = true; onZero && onZero(); }
  });
}

// ---- commitments ----

// The status at the log's current time (as the server computes it).
export function statusAt(c, t = now()) {
  if (c.reveal && c.reveal.matches_commitment) return 'revealed';
  if (c.escrow_invalid != null) return 'escrow-invalid';
  if (t < Date.parse(c.reveal_at)) return 'sealed';
  if (t < Date.parse(c.overdue_at)) return 'due';
  return 'overdue';
}

// Symbols every system font has (no emoji); the text says the same.
const LABELS = {
  sealed: ['Sealed', '\u25CF'],
  due: ['Due', '\u25D4'],
  revealed: ['Revealed', '\u2713'],
  'revealed-late': ['Revealed late', '\u2713'],
  overdue: ['Overdue', '\u26A0'],
  'escrow-invalid': ['Escrow invalid', '\u2716'],
};

export function badge(status, c = null) {
  let key = status;
  if (status === 'revealed' && c && c.reveal && !c.reveal.on_time) key = 'revealed-late';
  const [label, icon] = LABELS[key] || [status, ''];
  const text = status === 'revealed' && key === 'revealed' ? 'Revealed on time' : label;
  return h('span', { class: `badge badge-${key}`, 'data-status': status },
    h('span', { 'aria-hidden': 'true' }, icon), ' ', text);
}

// What happens next, live: "reveal in 2d 3h…", "overdue in …", "revealed 2026-…", "overdue since …".
export function nextEvent(c, onChange) {
  const status = statusAt(c);
  switch (status) {
    case 'sealed':
      return h('span', { class: 'when' }, 'reveal in ', countdown(c.reveal_at, { onZero: onChange }));
    case 'due':
      return h('span', { class: 'when' }, 'overdue in ', countdown(c.overdue_at, { onZero: onChange }));
    case 'revealed':
      return h('span', { class: 'when' }, c.reveal.on_time ? 'revealed on time, ' : 'revealed late, ', timeEl(c.reveal.logged_at));
    case 'escrow-invalid':
      return h('span', { class: 'when' }, 'the escrow did not hold the committed model');
    default:
      return h('span', { class: 'when' }, 'overdue since ', timeEl(c.overdue_at));
  }
}

export function modelName(c) {
  return `${c.model.name} ${c.model.version}`;
}

// A table of commitments (responsive: cards on narrow screens). Rows update their status
// live when a countdown runs out.
export function commitmentsTable(list, { caption, showPlatform = true } = {}) {
  const rows = list.map((c) => {
    const statusCell = h('td', { 'data-label': 'Status' });
    const whenCell = h('td', { 'data-label': 'Reveal' });
    const render = () => {
      fill(statusCell, badge(statusAt(c), c));
      fill(whenCell, h('div', {}, timeEl(c.reveal_at)), h('div', { class: 'muted' }, nextEvent(c, render)));
    };
    render();
    return h('tr', { 'data-index': c.index, 'data-status': statusAt(c) },
      h('td', { 'data-label': 'Entry' }, h('a', { href: `/commitments/${c.index}` }, `#${c.index}`)),
      h('td', { 'data-label': 'Model' }, h('a', { href: `/commitments/${c.index}` }, modelName(c)),
        h('div', { class: 'muted hash', title: `SHA3-256 ${c.model_digest}` }, c.model_digest.slice(0, 16) + '…')),
      showPlatform && h('td', { 'data-label': 'Platform' }, h('a', { href: `/parties/${encodeURIComponent(c.platform)}` }, c.platform)),
      statusCell,
      whenCell);
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'cards commitments' },
    caption && h('caption', {}, caption),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Entry'), h('th', { scope: 'col' }, 'Model'),
      showPlatform && h('th', { scope: 'col' }, 'Platform'),
      h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Reveal date'))),
    h('tbody', {}, rows)));
}

// ---- entries ----

export const KIND_LABELS = {
  registration: 'Registration',
  'model-commitment': 'Model commitment',
  'decision-batch': 'Decision batch',
  reveal: 'Reveal',
  'audit-report': 'Audit report',
};

// One line saying what an entry (as /v1/browse/entries decodes it) records.
export function describe(e) {
  const p = e.predicate || {};
  const party = (name) => h('a', { href: `/parties/${encodeURIComponent(name)}` }, name);
  const commitment = (i) => h('a', { href: `/commitments/${i}` }, `commitment #${i}`);
  switch (e.kind) {
    case 'registration':
      if (p.revoked_keys && p.revoked_keys.length) return [party(p.name), ` changed keys: ${p.keys.length} current, ${p.revoked_keys.length} revoked`];
      return [`registered ${p.role} `, party(p.name), p.display_name && p.display_name !== p.name ? ` (${p.display_name})` : '', ` with ${p.keys ? p.keys.length : 0} key${p.keys && p.keys.length === 1 ? '' : 's'}`];
    case 'model-commitment':
      return [party(p.platform), ' committed to ', h('a', { href: `/commitments/${e.index}` }, `${p.model.name} ${p.model.version}`), ` (${bytes(p.model.total_size)}), reveal ${date(p.reveal_at)}`];
    case 'reveal':
      if (p.revealed_by === 'escrow' && p.matches_commitment === false) return ['the escrow of ', commitment(p.commitment), ' did NOT hold the committed model: escrow invalid'];
      return [commitment(p.commitment), ` revealed by ${p.revealed_by}${p.revealer ? ` (${p.revealer})` : ''}, ${p.on_time ? 'on time' : 'late'}`, p.matches_commitment === false ? ': the bytes did NOT match' : ''];
    case 'decision-batch':
      return [party(p.platform), ` logged ${num(p.record_count)} decisions by `, commitment(p.commitment)];
    case 'audit-report':
      return [party(p.auditor), ' audited ', commitment(p.commitment), ': ', verdictBadge(p.verdict)];
    default:
      return [e.predicate_type ? `statement of type ${e.predicate_type}` : 'an entry that is not an in-toto statement'];
  }
}

export function verdictBadge(v) {
  return h('span', { class: `badge badge-${v === 'pass' ? 'pass' : 'fail'}` }, h('span', { 'aria-hidden': 'true' }, v === 'pass' ? '\u2713' : '\u2717'), ' ', v === 'pass' ? 'Pass' : 'Fail');
}

// ---- the log key the browser trusts ----

const KEY_STORE = 'embargo.vkey';
const CP_STORE = 'embargo.checkpoint.';

function store() {
  try { return window.localStorage; } catch { return null; }
}

// The key verification uses: the one pinned in this browser, else the one the log announces
// (pinned from then on: trust on first use).
export async function trustedKey() {
  const s = store();
  const info = await api('/v1/log');
  const pinned = s && s.getItem(KEY_STORE);
  if (pinned) return { vkey: pinned, announced: info.vkey, pinned: true };
  if (s) s.setItem(KEY_STORE, info.vkey);
  return { vkey: info.vkey, announced: info.vkey, pinned: false };
}

export function pinKey(vkey) {
  const s = store();
  if (s) s.setItem(KEY_STORE, vkey.trim());
}

function lastCheckpoint(vkey) {
  const s = store();
  try { return JSON.parse(s.getItem(CP_STORE + vkey)); } catch { return null; }
}

function rememberCheckpoint(vkey, cp) {
  const s = store();
  const prev = lastCheckpoint(vkey);
  if (s && (!prev || cp.size >= prev.size)) s.setItem(CP_STORE + vkey, JSON.stringify({ size: cp.size, root: cp.rootB64 }));
}

// The key behind an envelope's keyid as of entry `index`: the party listing only says where
// its registrations start; the page walks the log's own registration entries back (each names
// the one it replaces) to the one in effect at `index`, and the key must be current in it.
// Returns {vkey, source, registrations: [leaf, ...]} (the caller checks each registration is
// signed by the log), {error} when the key was not valid at `index`, or null when unknown.
async function signerKey(keyid, index) {
  const name = keyid.slice(0, keyid.lastIndexOf('+'));
  let p;
  try {
    p = await api(`/v1/parties/${encodeURIComponent(name)}`);
  } catch {
    return null;
  }
  const registrations = [];
  let at = p.updated_at;
  for (let hops = 0; hops < 10000; hops++) {
    const leaf = JSON.parse(await (await fetch(`/v1/entries/${at}`)).text());
    registrations.push(leaf);
    const r = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(leaf.envelope.payload), (c) => c.charCodeAt(0)))).predicate || {};
    if (r.name !== name) return { error: `registration entry #${at} is for ${r.name}, not ${name}` };
    if (index == null || at < index) {
      const vkey = (r.keys || []).find((k) => k.startsWith(keyid + '+'));
      if (vkey) return { vkey, registrations, source: `a current key of ${name} at entry #${index} (registration #${at})` };
      const revoked = (r.revoked_keys || []).some((k) => k.startsWith(keyid + '+'));
      return { error: revoked
        ? `${keyid} was revoked at entry #${at}, before entry #${index}: the log admitted an entry signed by a revoked key`
        : `${keyid} is not a current key of ${name} in its registration in effect at entry #${index} (#${at})` };
    }
    if (r.previous == null || r.previous >= at) return { error: `${name} had no registration before entry #${index}` };
    at = r.previous;
  }
  return { error: `${name}'s registration chain is too long to walk` };
}

// ---- the verify control ----

// A button that verifies entry `index` (or just the checkpoint, with index null) and says
// what it found. `expect` lists the claims of the page to check against the entry.
export function verifyControl({ index = null, label, expect = [], expectBytes = null } = {}) {
  const out = h('div', { class: 'verify-result', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'verify-button' },
    label || (index == null ? 'Verify the checkpoint' : `Verify entry #${index}`));
  button.addEventListener('click', async () => {
    button.disabled = true;
    fill(out, h('p', { class: 'running' }, 'Verifying…'));
    out.className = 'verify-result running';
    try {
      const key = await trustedKey();
      const result = await verifyEntry({ index, vkey: key.vkey, previous: lastCheckpoint(key.vkey), expect, expectBytes, signerKey });
      if (result.checkpoint && result.steps.every((s) => s.ok !== false)) rememberCheckpoint(key.vkey, result.checkpoint);
      renderResult(out, index, result, key);
    } catch (e) {
      out.className = 'verify-result failed';
      fill(out, h('p', { class: 'verdict' }, h('span', { 'aria-hidden': 'true' }, '\u2717 '), 'Verification failed: ', e.message));
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'verify' }, button, out);
}

function renderResult(out, index, r, key) {
  const failed = r.steps.filter((s) => s.ok === false);
  out.className = `verify-result ${r.ok ? 'verified' : 'failed'}`;
  const what = index == null ? 'The checkpoint' : `Entry #${index}`;
  const verdict = r.ok
    ? h('p', { class: 'verdict' }, h('span', { 'aria-hidden': 'true' }, '\u2713 '), h('strong', {}, 'Verified: '),
      index == null
        ? `the checkpoint (${num(r.checkpoint.size)} entries) is signed by the log's key.`
        : `entry #${index} is in the log's tree of ${num(r.checkpoint.size)} entries, whose checkpoint the log signed.`)
    : h('p', { class: 'verdict' }, h('span', { 'aria-hidden': 'true' }, '\u2717 '), h('strong', {}, 'Verification failed: '),
      failed.length ? failed.map((s) => `${s.title}: ${s.detail}`).join(' — ') : `${what} could not be checked.`);
  const steps = h('ol', { class: 'steps' }, r.steps.map((s) => h('li', { class: s.ok === false ? 'fail' : s.ok ? 'ok' : 'skip' },
    h('span', { class: 'mark', 'aria-hidden': 'true' }, s.ok === false ? '\u2717' : s.ok ? '\u2713' : '\u2013'),
    h('span', { class: 'visually-hidden' }, s.ok === false ? 'failed: ' : s.ok ? 'passed: ' : 'not checked: '),
    h('strong', {}, s.title), ' \u2014 ', h('span', { class: 'detail' }, s.detail))));
  const keyNote = h('p', { class: 'muted small' },
    key.pinned ? 'Checked against the log key pinned in this browser' : 'Checked against the key the log announces (now pinned in this browser: trust on first use)',
    '. Compare it with the key the operator publishes; change it on the ', h('a', { href: '/#trust' }, 'overview page'), '.',
    key.pinned && key.announced !== key.vkey ? h('strong', {}, ` The log now announces a different key (${key.announced})!`) : '');
  fill(out, verdict, h('details', { open: !r.ok || undefined }, h('summary', {}, 'What was checked'), steps, keyNote));
}

// ---- small shared pieces ----

export function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function hash(text, label) {
  return h('code', { class: 'hash', 'aria-label': label || undefined }, text);
}

export function setTitle(text) {
  document.title = `${text} · Embargo`;
}
