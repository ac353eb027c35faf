// Unit tests of the page's verifier (web/assets/verify.js) under Node's WebCrypto, against
// the shared conformance vectors: RFC 6962 inclusion and consistency proofs, signed notes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v from '../../web/assets/verify.js';

const here = dirname(fileURLToPath(import.meta.url));
const vectors = join(here, '../../../shared/test-vectors');
const b64 = v.b64decode;

function jsonFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...jsonFiles(p));
    else if (name.endsWith('.json')) out.push(p);
  }
  return out;
}

const haveVectors = existsSync(vectors);

test('inclusion proofs: every shared vector (RFC 9162 §2.1.3.2)', { skip: !haveVectors && 'no ../shared/test-vectors' }, async () => {
  const files = jsonFiles(join(vectors, 'merkle/inclusion'));
  assert.ok(files.length > 10);
  for (const f of files) {
    const t = JSON.parse(readFileSync(f, 'utf8'));
    let err = null;
    try {
      await v.verifyInclusion(t.leafIdx, t.treeSize, b64(t.leafHash), (t.proof || []).map(b64), b64(t.root));
    } catch (e) {
      err = e;
    }
    assert.equal(err !== null, t.wantErr, `${f}: ${t.desc}: ${err && err.message}`);
  }
});

test('consistency proofs: every shared vector (RFC 9162 §2.1.4.2)', { skip: !haveVectors && 'no ../shared/test-vectors' }, async () => {
  const files = jsonFiles(join(vectors, 'merkle/consistency'));
  assert.ok(files.length > 10);
  for (const f of files) {
    const t = JSON.parse(readFileSync(f, 'utf8'));
    // The vectors refuse an old size of 0 (a witness's rule); the page accepts the empty tree.
    if (t.size1 === 0) continue;
    let err = null;
    try {
      await v.verifyConsistency(t.size1, t.size2, b64(t.root1), b64(t.root2), (t.proof || []).map(b64));
    } catch (e) {
      err = e;
    }
    assert.equal(err !== null, t.wantErr, `${f}: ${t.desc}: ${err && err.message}`);
  }
});

test('leaf and node hashes give the RFC 6962 roots of the standard leaves', { skip: !haveVectors && 'no ../shared/test-vectors' }, async () => {
  const t = JSON.parse(readFileSync(join(vectors, 'merkle/leaves.json'), 'utf8'));
  const leaves = await Promise.all(t.leaves_hex.map((h) => v.leafHash(Buffer.from(h, 'hex'))));
  const mth = async (lo, hi) => {
    if (hi - lo === 1) return leaves[lo];
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return v.nodeHash(await mth(lo, lo + k), await mth(lo + k, hi));
  };
  for (let n = 1; n <= 8; n++) assert.equal(v.hex(await mth(0, n)), t.roots_hex_by_size[n], `size ${n}`);
});

test('signed notes: good signatures verify, others are refused', { skip: !haveVectors && 'no ../shared/test-vectors' }, async () => {
  const t = JSON.parse(readFileSync(join(vectors, 'signed-note.json'), 'utf8'));
  const [peter, enoch] = t.ed25519_notes;
  const pk = await v.parseVkey(peter.vkey);
  assert.equal(await v.openNote(peter.signed_note, pk), peter.text);
  // Both signatures on one note: each key finds its own line.
  const both = peter.signed_note + enoch.signature_line;
  assert.equal(await v.openNote(both, await v.parseVkey(enoch.vkey)), enoch.text);
  // A changed text fails.
  await assert.rejects(v.openNote(peter.signed_note.replace('answer', 'answee'), pk), /does not verify/);
  // Someone else's key finds no signature.
  await assert.rejects(v.openNote(peter.signed_note, await v.parseVkey(enoch.vkey)), /no signature by EnochRoot/);
  for (const bad of t.bad_vkeys) await assert.rejects(v.parseVkey(bad));
});

test('cosignatures are listed with their timestamps', { skip: !haveVectors && 'no ../shared/test-vectors' }, async () => {
  const t = JSON.parse(readFileSync(join(vectors, 'signed-note.json'), 'utf8')).cosigned_checkpoint_example;
  const cos = v.cosignatures(t.note, 'example.com/behind-the-sofa');
  assert.equal(cos.length, 1);
  assert.equal(cos[0].name, 'witness.example.com/w1');
  assert.equal(cos[0].idHex, t.witness_key_id);
  assert.equal(cos[0].timestamp.getTime() / 1000, t.witness_timestamp);
});

test('tile paths follow tlog-tiles', () => {
  assert.equal(v.tilePath(0, 0, 256), 'tile/0/000');
  assert.equal(v.tilePath(0, 1234067, 256), 'tile/0/x001/x234/067');
  assert.equal(v.tilePath('entries', 3, 17), 'tile/entries/003.p/17');
  assert.equal(v.tilePath(2, 1000, 5), 'tile/2/x001/000.p/5');
});

test('tlog-proof parsing', () => {
  const h = Buffer.alloc(32, 7).toString('base64');
  const p = v.parseTlogProof(`c2sp.org/tlog-proof@v1\nextra AAAA\nindex 5\n${h}\n${h}\n\nlog\n9\n${h}\n\n— log AAAA\n`);
  assert.equal(p.index, 5);
  assert.equal(p.hashes.length, 2);
  assert.equal(p.checkpoint, `log\n9\n${h}\n\n— log AAAA\n`);
  assert.throws(() => v.parseTlogProof('c2sp.org/tlog-proof@v1\nindex 01\n'), /no index/);
});
