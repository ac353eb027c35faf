// Verification in the browser, with WebCrypto only: the checkpoint's Ed25519 signature
// (c2sp.org/signed-note) against the log's verifier key, an entry's inclusion in the
// checkpoint's tree (RFC 6962 hashing; proofs checked per RFC 9162 §2.1.3.2) computed from the
// log's tiles (c2sp.org/tlog-tiles) and again from the log's own tlog-proof, consistency with
// the last checkpoint this browser saw (RFC 9162 §2.1.4.2), the entry's DSSE signature, and
// that the entry says what the page shows.
//
// Nothing here touches the DOM: verifyEntry() returns the steps it took, each ok, failed or
// not applicable, with a sentence saying what was checked or what failed.

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const TILE_WIDTH = 256;
const HASH = 32;

// ---- encodings ----

export function b64decode(s) {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new Error(`not standard base64: ${JSON.stringify(String(s).slice(0, 60))}`);
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64encode(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

function short(h) {
  return b64encode(h).slice(0, 12) + '…';
}

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) {
    throw new Error('this browser offers no WebCrypto here (pages served over plain HTTP from another host than localhost get none): open the site over HTTPS');
  }
  return s;
}

// ---- hashing (RFC 6962) ----

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

export function leafHash(leaf) {
  return sha256(concat(Uint8Array.of(0), leaf));
}

export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

// ---- keys and signed notes ----

// A signed-note verifier key: <name>+<8 hex key id>+<base64(0x01 || 32-byte Ed25519 key)>.
export async function parseVkey(vkey) {
  // The base64 part may itself contain '+': split at the first two only.
  const text = String(vkey).trim();
  const a = text.indexOf('+');
  const b = text.indexOf('+', a + 1);
  if (a <= 0 || b < 0) throw new Error('a verifier key is <name>+<key id>+<base64 key>');
  const [name, idHex, keyB64] = [text.slice(0, a), text.slice(a + 1, b), text.slice(b + 1)];
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new Error(`the key id ${JSON.stringify(idHex)} is not 8 lowercase hex digits`);
  const material = b64decode(keyB64);
  if (material.length !== 33 || material[0] !== 1) {
    throw new Error('only Ed25519 verifier keys (type 0x01, 32 bytes) are supported');
  }
  const pk = material.slice(1);
  const id = (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a, 0x01), pk))).slice(0, 4);
  if (hex(id) !== idHex) throw new Error(`the key id ${idHex} does not match the key (it should be ${hex(id)})`);
  return { name, id, idHex, pk };
}

export async function ed25519Verify(pk, sig, msg) {
  let key;
  try {
    key = await subtle().importKey('raw', pk, { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    throw new Error(`this browser's WebCrypto cannot use Ed25519 keys (${e.message}); use a current browser`);
  }
  return subtle().verify({ name: 'Ed25519' }, key, sig, msg);
}

// Splits a signed note into its text and signature lines (c2sp.org/signed-note).
export function parseNote(note) {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw new Error('the note contains control characters');
  if (!note.endsWith('\n')) throw new Error('the note does not end with a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new Error('the note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const signatures = [];
  for (const line of note.slice(split + 2, -1).split('\n')) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error(`malformed signature line ${JSON.stringify(line.slice(0, 80))}`);
    const raw = b64decode(m[2]);
    if (raw.length < 5) throw new Error(`the signature by ${m[1]} is too short`);
    signatures.push({ name: m[1], id: raw.slice(0, 4), idHex: hex(raw.slice(0, 4)), sig: raw.slice(4) });
  }
  if (!signatures.length) throw new Error('the note has no signatures');
  return { text, signatures };
}

// Verifies a note's signature by `key` (from parseVkey); returns the note text.
export async function openNote(note, key) {
  const { text, signatures } = parseNote(note);
  const mine = signatures.filter((s) => s.name === key.name && s.idHex === key.idHex);
  if (!mine.length) {
    const names = signatures.map((s) => `${s.name}+${s.idHex}`).join(', ');
    throw new Error(`no signature by ${key.name}+${key.idHex} (signed by: ${names})`);
  }
  for (const s of mine) {
    if (s.sig.length !== 64 || !(await ed25519Verify(key.pk, s.sig, enc.encode(text)))) {
      throw new Error(`the signature by ${key.name}+${key.idHex} does not verify over the checkpoint text`);
    }
  }
  return text;
}

// The note text of a checkpoint: origin, size, root hash, optional extension lines.
export function parseCheckpointText(text) {
  const lines = text.split('\n');
  if (lines.length < 4 || !lines[0] || !lines[1] || !lines[2]) throw new Error('a checkpoint has origin, size and root hash lines');
  if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error(`tree size ${JSON.stringify(lines[1])} is not a decimal number`);
  const size = Number(lines[1]);
  if (!Number.isSafeInteger(size)) throw new Error('the tree size is too large for this page');
  const root = b64decode(lines[2]);
  if (root.length !== HASH) throw new Error('the root hash is not 32 bytes');
  return { origin: lines[0], size, root, rootB64: lines[2] };
}

// Witness cosignatures: the signature lines not by the log's key.
export function cosignatures(note, logKeyName) {
  const { signatures } = parseNote(note);
  return signatures
    .filter((s) => s.name !== logKeyName)
    .map((s) => {
      // Ed25519 cosignature/v1 (type 0x04): key id, 8-byte big-endian timestamp, signature.
      let timestamp = null;
      if (s.sig.length === 72) {
        const v = new DataView(s.sig.buffer, s.sig.byteOffset, 8);
        timestamp = new Date(Number(v.getBigUint64(0)) * 1000);
      }
      return { name: s.name, idHex: s.idHex, timestamp };
    });
}

// ---- Merkle proofs (RFC 9162) ----

const isOdd = (n) => n % 2 === 1;
const isPow2 = (n) => n > 0 && Number.isInteger(Math.log2(n));
const half = (n) => Math.floor(n / 2);

// RFC 9162 §2.1.3.2. Throws with the reason if the proof does not lead to `root`.
export async function verifyInclusion(index, size, leaf, proof, root) {
  if (!(index < size)) throw new Error(`index ${index} is not in a tree of size ${size}`);
  if (leaf.length !== HASH || root.length !== HASH) throw new Error('the leaf and root hashes must be 32 bytes');
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== HASH) throw new Error('a proof hash is not 32 bytes');
    if (sn === 0) throw new Error('the proof is too long for this index and tree size');
    if (isOdd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new Error('the proof is too short for this index and tree size');
  if (!equal(r, root)) throw new Error(`the proof leads to root ${short(r)}, not the checkpoint's ${short(root)}`);
}

// RFC 9162 §2.1.4.2. Throws with the reason if the trees are not consistent.
export async function verifyConsistency(size1, size2, root1, root2, proof) {
  if (size1 > size2) throw new Error(`the old tree (${size1}) is larger than the new one (${size2})`);
  if (size1 === size2) {
    if (proof.length) throw new Error('a proof between equal sizes must be empty');
    if (!equal(root1, root2)) throw new Error('two checkpoints of the same size have different roots');
    return;
  }
  if (size1 === 0) {
    if (proof.length) throw new Error('a proof from the empty tree must be empty');
    return;
  }
  if (!proof.length) throw new Error('the consistency proof is empty');
  for (const p of proof) if (p.length !== HASH) throw new Error('a proof hash is not 32 bytes');
  let path = proof;
  if (isPow2(size1)) path = [root1, ...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) { fn = half(fn); sn = half(sn); }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) throw new Error('the consistency proof is too long');
    if (isOdd(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) { fn = half(fn); sn = half(sn); }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new Error('the consistency proof is too short');
  if (!equal(fr, root1)) throw new Error(`the proof does not lead to the old root (${short(root1)})`);
  if (!equal(sr, root2)) throw new Error(`the proof does not lead to the new root (${short(root2)})`);
}

// ---- tiles (c2sp.org/tlog-tiles) ----

export function tileIndexPath(n) {
  const groups = [];
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
}

// Width of tile `index` at `level` in a tree of `size` (0 if it does not exist).
function tileWidth(level, index, size) {
  const hashes = Math.floor(size / TILE_WIDTH ** level);
  return Math.max(0, Math.min(TILE_WIDTH, hashes - index * TILE_WIDTH));
}

export function tilePath(level, index, width) {
  const l = level === 'entries' ? 'entries' : String(level);
  return `tile/${l}/${tileIndexPath(index)}${width < TILE_WIDTH ? `.p/${width}` : ''}`;
}

class Fetcher {
  constructor(base, fetchFn) {
    this.base = base.replace(/\/$/, '');
    this.fetch = fetchFn;
    this.tiles = new Map();
    this.fetched = [];
  }

  async get(path, what, { binary = true } = {}) {
    let resp;
    try {
      resp = await this.fetch(`${this.base}/${path}`, { cache: 'no-store' });
    } catch (e) {
      throw new Error(`could not fetch ${what} (/${path}): ${e.message}`);
    }
    this.fetched.push('/' + path);
    if (!resp.ok) {
      const err = new Error(`fetching ${what} (/${path}) failed: HTTP ${resp.status}`);
      err.status = resp.status;
      throw err;
    }
    return binary ? new Uint8Array(await resp.arrayBuffer()) : resp.text();
  }

  // The `width` first hashes or entries of tile `index` at `level`, as of a tree that has them.
  async tile(level, index, width) {
    const key = `${level}/${index}/${width}`;
    if (!this.tiles.has(key)) {
      this.tiles.set(key, (async () => {
        const what = level === 'entries' ? `entry bundle ${index}` : `tile ${level}/${index}`;
        let data;
        try {
          data = await this.get(tilePath(level, index, width), what);
        } catch (e) {
          // A log may drop a partial tile once the full one exists (tlog-tiles).
          if (e.status !== 404 || width === TILE_WIDTH) throw e;
          data = await this.get(tilePath(level, index, TILE_WIDTH), what);
        }
        return { data, path: tilePath(level, index, width) };
      })());
    }
    return this.tiles.get(key);
  }
}

// The hashes of level-0..63 tiles and the entry bundles, read as a tree of `size` leaves.
class TileTree {
  constructor(fetcher, size) {
    this.f = fetcher;
    this.size = size;
  }

  // The hash of the complete subtree of height `height` whose leftmost leaf is
  // `index * 2**height` (a "stored hash"): from one tile, hashing up within it.
  async stored(height, index) {
    const level = Math.floor(height / 8);
    const within = height % 8;
    const span = 2 ** within;
    const first = index * span; // position among level-`level` hashes
    const tile = Math.floor(first / TILE_WIDTH);
    const width = tileWidth(level, tile, this.size);
    const { data, path } = await this.f.tile(level, tile, width);
    if (data.length < width * HASH || (data.length !== width * HASH && data.length !== TILE_WIDTH * HASH)) {
      throw new Error(`/${path} holds ${data.length} bytes, not ${width} hashes of 32 bytes`);
    }
    const at = first - tile * TILE_WIDTH;
    let row = [];
    for (let i = at; i < at + span; i++) row.push(data.slice(i * HASH, (i + 1) * HASH));
    while (row.length > 1) {
      const next = [];
      for (let i = 0; i < row.length; i += 2) next.push(await nodeHash(row[i], row[i + 1]));
      row = next;
    }
    return row[0];
  }

  // MTH(D[lo:hi]) per RFC 6962, from stored hashes of complete subtrees.
  async range(lo, hi) {
    const n = hi - lo;
    if (isPow2(n) && lo % n === 0) {
      return this.stored(Math.log2(n), lo / n);
    }
    const k = largestPow2Below(n);
    return nodeHash(await this.range(lo, lo + k), await this.range(lo + k, hi));
  }

  // PATH(m, D[lo:hi]) per RFC 6962 §2.1.1: the audit path, leaf's sibling first.
  async path(m, lo, hi) {
    const n = hi - lo;
    if (n === 1) return [];
    const k = largestPow2Below(n);
    if (m - lo < k) return [...(await this.path(m, lo, lo + k)), await this.range(lo + k, hi)];
    return [...(await this.path(m, lo + k, hi)), await this.range(lo, lo + k)];
  }

  async leafBytes(index) {
    const bundle = Math.floor(index / TILE_WIDTH);
    const width = tileWidth(0, bundle, this.size);
    const { data, path } = await this.f.tile('entries', bundle, width);
    const entries = [];
    let o = 0;
    while (o < data.length) {
      if (o + 2 > data.length) throw new Error(`/${path} is cut inside an entry's length`);
      const len = (data[o] << 8) | data[o + 1];
      if (o + 2 + len > data.length) throw new Error(`/${path} is cut inside an entry`);
      entries.push(data.slice(o + 2, o + 2 + len));
      o += 2 + len;
    }
    if (entries.length < width) throw new Error(`/${path} holds ${entries.length} entries, not ${width}`);
    return entries[index % TILE_WIDTH];
  }
}

function largestPow2Below(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// ---- tlog-proof (c2sp.org/tlog-proof) ----

export function parseTlogProof(text) {
  const lines = text.split('\n');
  if (lines[0] !== 'c2sp.org/tlog-proof@v1') throw new Error('not a c2sp.org/tlog-proof@v1');
  let i = 1;
  if (lines[i] && lines[i].startsWith('extra ')) i++;
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines[i] || '');
  if (!m) throw new Error('the proof has no index line');
  const index = Number(m[1]);
  i++;
  const hashes = [];
  while (i < lines.length && lines[i] !== '') {
    const h = b64decode(lines[i]);
    if (h.length !== HASH) throw new Error(`proof line ${i + 1} is not a 32-byte hash`);
    hashes.push(h);
    i++;
  }
  if (i >= lines.length) throw new Error('the proof has no checkpoint');
  return { index, hashes, checkpoint: lines.slice(i + 1).join('\n') };
}

// ---- entries ----

export function decodeLeaf(bytes) {
  let leaf;
  try {
    leaf = JSON.parse(dec.decode(bytes));
  } catch (e) {
    throw new Error(`the entry is not UTF-8 JSON (${e.message})`);
  }
  let statement = null;
  try {
    statement = JSON.parse(dec.decode(b64decode(leaf.envelope.payload)));
  } catch {
    // not an in-toto statement: shown as is
  }
  return { leaf, statement };
}

// DSSE pre-authentication encoding.
export function pae(type, body) {
  const t = enc.encode(type);
  return concat(enc.encode(`DSSEv1 ${t.length} `), t, enc.encode(` ${body.length} `), body);
}

function lookup(obj, path) {
  let v = obj;
  for (const k of Array.isArray(path) ? path : path.split('.')) {
    if (v == null) return undefined;
    v = v[k];
  }
  return v;
}

function same(actual, expected, kind) {
  if (kind === 'time') return actual != null && Date.parse(actual) === Date.parse(expected);
  return JSON.stringify(actual) === JSON.stringify(expected);
}

// ---- the whole check ----

const TITLES = {
  key: 'Log key',
  checkpoint: 'Checkpoint signature',
  consistency: 'Consistency with the last checkpoint seen',
  entry: 'Entry bytes',
  tiles: 'Inclusion, from the tiles',
  proof: "Inclusion, from the log's proof",
  signature: 'Entry signature',
  claims: 'The page shows what the entry says',
};

// Verifies entry `index` (or, with index null, only the checkpoint).
//   vkey: the log's verifier key to trust.
//   previous: {size, root (base64)} of the last checkpoint verified with this key, or null.
//   expect: [{label, path, value, kind}] claims the page makes; paths start at
//     `leaf` (the stored JSON) or `statement` (the in-toto statement), kind 'time' compares instants.
//   expectBytes: the entry bytes the page shows, which must be the bytes in the tree.
//   signerKey(keyid, index): {vkey, source, registrations} for the key that was current for its
//     party at entry `index` (registrations: the log-signed entries that say so), {error} if
//     it was not, or null if unknown.
//   fetch, base: how to reach the log.
export async function verifyEntry({
  index = null, vkey, previous = null, expect = [], expectBytes = null,
  signerKey = null, fetch: fetchFn = globalThis.fetch.bind(globalThis), base = '',
}) {
  const steps = [];
  const f = new Fetcher(base, fetchFn);
  const result = { ok: false, steps, checkpoint: null, leaf: null, statement: null, fetched: f.fetched };
  const step = async (id, fn) => {
    const s = { id, title: TITLES[id], ok: null, detail: '' };
    steps.push(s);
    try {
      const out = await fn();
      if (out && typeof out === 'object') { s.ok = out.ok ?? true; s.detail = out.detail; } else { s.ok = true; s.detail = out; }
    } catch (e) {
      s.ok = false;
      s.detail = e.message;
    }
    return s.ok !== false;
  };
  const skip = (id, why) => steps.push({ id, title: TITLES[id], ok: null, skipped: true, detail: why });

  let key = null;
  let cp = null;
  await step('key', async () => {
    key = await parseVkey(vkey);
    return `${vkey}`;
  });
  if (key) {
    await step('checkpoint', async () => {
      const note = await f.get('checkpoint', 'the checkpoint', { binary: false });
      const text = await openNote(note, key);
      cp = parseCheckpointText(text);
      cp.note = note;
      if (cp.origin !== key.name) throw new Error(`the checkpoint is for log ${cp.origin}, but the key is ${key.name}'s`);
      return `signed by ${key.name} (Ed25519, checked with WebCrypto): tree of ${cp.size} entries, root ${cp.rootB64}`;
    });
  } else {
    skip('checkpoint', 'no usable log key');
  }
  result.checkpoint = cp;
  if (cp && previous && previous.size != null) {
    await step('consistency', async () => {
      const oldRoot = b64decode(previous.root);
      if (previous.size > cp.size) {
        throw new Error(`this browser saw a tree of ${previous.size} entries before; the log now shows ${cp.size}: it went back`);
      }
      let proof = [];
      if (previous.size !== cp.size && previous.size > 0) {
        const text = await f.get(`v1/proof/consistency?old=${previous.size}&new=${cp.size}`, 'the consistency proof', { binary: false });
        proof = text.split('\n').filter((l) => l !== '').map(b64decode);
      }
      await verifyConsistency(previous.size, cp.size, oldRoot, cp.root, proof);
      return previous.size === cp.size
        ? `same tree as seen before (${cp.size} entries, same root)`
        : `the tree of ${cp.size} entries extends the one of ${previous.size} this browser saw before (RFC 9162 consistency proof)`;
    });
  } else if (cp) {
    skip('consistency', 'this browser has not verified a checkpoint of this log before; it remembers this one for next time');
  }
  if (index == null) {
    result.ok = steps.every((s) => s.ok !== false);
    return result;
  }

  let leaf = null;
  let leafH = null;
  const tree = cp ? new TileTree(f, cp.size) : null;
  if (!cp) {
    for (const id of ['entry', 'tiles', 'proof', 'signature', 'claims']) skip(id, 'needs a verified checkpoint');
    return result;
  }
  if (!(index < cp.size)) {
    await step('entry', async () => { throw new Error(`entry ${index} is not in the checkpoint's tree of ${cp.size} entries`); });
    return result;
  }
  await step('entry', async () => {
    leaf = await tree.leafBytes(index);
    leafH = await leafHash(leaf);
    const decoded = decodeLeaf(leaf);
    result.leaf = decoded.leaf;
    result.statement = decoded.statement;
    if (expectBytes && !equal(leaf, expectBytes)) {
      throw new Error(`the entry shown on this page is not the entry in the log's bundle /${tilePath('entries', Math.floor(index / TILE_WIDTH), tileWidth(0, Math.floor(index / TILE_WIDTH), cp.size))}`);
    }
    return `${leaf.length} bytes from the entry bundle; leaf hash SHA-256(0x00 || entry) = ${b64encode(leafH)}`;
  });
  if (leaf) {
    await step('tiles', async () => {
      const stored = await tree.stored(0, index);
      if (!equal(stored, leafH)) {
        throw new Error(`the level-0 tile says entry ${index} hashes to ${short(stored)}, but its bytes hash to ${short(leafH)}`);
      }
      const path = await tree.path(index, 0, cp.size);
      await verifyInclusion(index, cp.size, leafH, path, cp.root);
      return `an audit path of ${path.length} hashes, computed from the tiles, leads from the entry to the checkpoint's root`;
    });
    await step('proof', async () => {
      const text = await f.get(`v1/proof/inclusion?index=${index}&size=${cp.size}`, "the log's tlog-proof", { binary: false });
      const p = parseTlogProof(text);
      if (p.index !== index) throw new Error(`the proof is for entry ${p.index}, not ${index}`);
      const pcp = parseCheckpointText(await openNote(p.checkpoint, key));
      if (pcp.size !== cp.size || !equal(pcp.root, cp.root)) {
        throw new Error(`the proof's checkpoint (size ${pcp.size}, root ${short(pcp.root)}) is not the checkpoint verified above`);
      }
      await verifyInclusion(index, cp.size, leafH, p.hashes, cp.root);
      return `the c2sp.org/tlog-proof@v1 from /v1/proof/inclusion (${p.hashes.length} hashes) verifies too`;
    });
  } else {
    skip('tiles', 'needs the entry bytes');
    skip('proof', 'needs the entry bytes');
  }
  if (result.leaf && result.leaf.envelope) {
    await step('signature', async () => {
      const env = result.leaf.envelope;
      const sig = env.signatures && env.signatures[0];
      if (!sig) throw new Error('the envelope has no signature');
      let vk = null;
      let source = '';
      if (sig.keyid === `${key.name}+${key.idHex}`) {
        vk = vkey;
        source = "the log's own key";
      } else if (signerKey) {
        const found = await signerKey(sig.keyid, index);
        if (found && found.error) throw new Error(found.error);
        if (found) {
          for (const reg of found.registrations || []) {
            const rs = reg.envelope.signatures && reg.envelope.signatures[0];
            const signedByLog = rs && rs.keyid === `${key.name}+${key.idHex}` &&
              await ed25519Verify(key.pk, b64decode(rs.sig), pae(reg.envelope.payloadType, b64decode(reg.envelope.payload)));
            if (!signedByLog) throw new Error(`a registration entry naming ${sig.keyid} is not signed by the log`);
          }
          vk = found.vkey;
          source = found.source;
        }
      }
      if (!vk) return { ok: null, detail: `signed by ${sig.keyid}, a key this page does not know` };
      const k = await parseVkey(vk);
      if (`${k.name}+${k.idHex}` !== sig.keyid) throw new Error(`the key found for ${sig.keyid} is ${k.name}+${k.idHex}`);
      const ok = await ed25519Verify(k.pk, b64decode(sig.sig), pae(env.payloadType, b64decode(env.payload)));
      if (!ok) throw new Error(`the DSSE signature by ${sig.keyid} does not verify`);
      return `DSSE signature by ${sig.keyid} verifies (${source})`;
    });
  } else {
    skip('signature', 'needs the entry bytes');
  }
  if (expect.length && (result.leaf || result.statement)) {
    await step('claims', async () => {
      const doc = { leaf: result.leaf, statement: result.statement };
      const bad = expect.filter((e) => !same(lookup(doc, e.path), e.value, e.kind));
      if (bad.length) {
        throw new Error(bad.map((e) => `${e.label}: the page shows ${JSON.stringify(e.value)}, the entry says ${JSON.stringify(lookup(doc, e.path) ?? null)}`).join('; '));
      }
      return `${expect.map((e) => e.label).join(', ')}: as in the entry`;
    });
  }
  result.ok = steps.every((s) => s.ok !== false) && steps.some((s) => s.id === 'tiles' && s.ok);
  return result;
}
