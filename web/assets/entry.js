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

// A reveal's escrow evidence, field by field: how the log opened the escrow, what it opened to.
function escrowFacts(e) {
  return dl([
    ['Opened with', e.opened_with === 'trustees' ? "trustees' shares" : 'a drand round signature'],
    e.round != null && ['Round', num(e.round)],
    e.signature && ['Round signature', hash(e.signature)],
    e.chain_hash && ['Beacon chain', hash(e.chain_hash)],
    e.shares && e.shares.length && ['Shares', e.shares.map((s) => h('div', {}, h('code', {}, s.trustee)))],
    e.ciphertext_digest && ['Ciphertext digest', hash(e.ciphertext_digest)],
    e.opened_digest && ['Opened to digest', hash(e.opened_digest)],
    e.error && ['Error', e.error],
  ]);
}

// A reveal that does not match its commitment: what was committed against what was found.
function mismatch(p, subject) {
  const e = p.escrow || {};
  const committed = subject && subject.digest && subject.digest['sha3-256'];
  return h('div', { class: 'notice error', id: 'mismatch' },
    h('p', {}, h('strong', {}, 'This reveal does not match the commitment. '),
      p.revealed_by === 'escrow' ? 'The log opened the escrow of ' : 'About ', h('a', { href: `/commitments/${p.commitment}` }, `commitment #${p.commitment}`),
      p.revealed_by === 'escrow' ? ' and it did not hold the committed model: the commitment is escrow-invalid.' : '.'),
    dl([
      committed && ['Committed digest', hash(committed)],
      p.revealed_by === 'escrow' && ['The escrow opened to', e.opened_digest ? hash(e.opened_digest) : ['no model', e.error ? `: ${e.error}` : '']],
    ]));
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
    kind === 'reveal' && p && p.matches_commitment === false ? mismatch(p, subject) : null,
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
        if (k === 'escrow' && kind === 'reveal' && v && typeof v === 'object') return ['Escrow opening', escrowFacts(v)];
        return [label, value(v)];
      }),
    ]),
    h('details', {}, h('summary', {}, `The stored entry (${num(bytes.length)} bytes)`), h('pre', {}, new TextDecoder().decode(bytes))));
}

load().catch((e) => fill(root, h('h1', {}, `Entry #${Number.isNaN(index) ? '?' : index}`), errorBox(e)));
