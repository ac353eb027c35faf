// Any entry: decoded from the bytes the log stores, with its verification.
import { h, fill, $, errorBox, num, timeEl, dl, hash, KIND_LABELS, verifyControl, setTitle, ApiError } from './app.js';
import { decodeLeaf } from './verify.js';

const m = /^\/entries\/(\d+)\/?$/.exec(location.pathname);
const index = m ? Number(m[1]) : NaN;
const root = $('#entry');
const KINDS = {
  'https://embargo.dev/registration/v1': 'registration',
  'https://embargo.dev/model-commitment/v1': 'model-commitment',
  'https://embargo.dev/decision-batch/v1': 'decision-batch',
  'https://embargo.dev/reveal/v1': 'reveal',
  'https://embargo.dev/audit-report/v1': 'audit-report',
};

function related(kind, p) {
  if (kind === 'model-commitment') return h('p', {}, h('a', { href: `/commitments/${index}` }, 'Open this commitment'), ': its status, timeline and audits.');
  if (p && p.commitment != null) return h('p', {}, 'About ', h('a', { href: `/commitments/${p.commitment}` }, `commitment #${p.commitment}`), '.');
  if (kind === 'registration' && p) return h('p', {}, 'Registers ', h('a', { href: `/parties/${encodeURIComponent(p.name)}` }, p.name), '.');
  return null;
}

function value(v) {
  if (v == null) return '';
  if (typeof v === 'object') return h('pre', {}, JSON.stringify(v, null, 2));
  return String(v);
}

async function load() {
  if (!Number.isSafeInteger(index)) throw new Error('this address names no entry');
  const resp = await fetch(`/v1/entries/${index}`, { cache: 'no-store' });
  if (!resp.ok) {
    let body = {};
    try { body = await resp.json(); } catch { /* */ }
    if (resp.status === 404) {
      setTitle('No such entry');
      fill(root, h('h1', {}, `No entry #${index}`), h('p', {}, body.message || 'The log has no entry at this index yet.'));
      return;
    }
    throw new ApiError(resp.status, body.error, body.message || `HTTP ${resp.status}`);
  }
  const bytes = new Uint8Array(await resp.arrayBuffer());
  const { leaf, statement } = decodeLeaf(bytes);
  const kind = statement && KINDS[statement.predicateType];
  const title = `${kind ? KIND_LABELS[kind] : 'Entry'} #${index}`;
  setTitle(title);
  const p = statement && statement.predicate;
  const subject = statement && statement.subject && statement.subject[0];
  fill(root,
    h('h1', {}, title),
    related(kind, p),
    verifyControl({ index, expectBytes: bytes, label: `Verify entry #${index}` }),
    h('h2', {}, 'What the entry says'),
    dl([
      ['Logged at', leaf.logged_at ? timeEl(leaf.logged_at) : 'unknown'],
      ['Signed by', leaf.envelope && leaf.envelope.signatures ? leaf.envelope.signatures.map((s) => h('code', {}, s.keyid, ' ')) : 'no signature'],
      ['Type', statement ? h('code', {}, statement.predicateType) : 'not an in-toto statement'],
      subject && ['Subject', [subject.name || '', ' ', Object.entries(subject.digest || {}).map(([alg, d]) => h('div', {}, `${alg}: `, hash(d)))]],
      ...Object.entries(p || {}).map(([k, v]) => {
        const label = k.charAt(0).toUpperCase() + k.slice(1).replaceAll('_', ' ');
        if (k === 'commitment' || k === 'supersedes') return [label, h('a', { href: `/commitments/${v}` }, `#${v}`)];
        if ((k === 'platform' || k === 'auditor') && typeof v === 'string') return [label, h('a', { href: `/parties/${encodeURIComponent(v)}` }, v)];
        return [label, value(v)];
      }),
    ]),
    h('details', {}, h('summary', {}, `The stored entry (${num(bytes.length)} bytes)`), h('pre', {}, new TextDecoder().decode(bytes))));
}

load().catch((e) => fill(root, h('h1', {}, `Entry #${Number.isNaN(index) ? '?' : index}`), errorBox(e)));
