#!/usr/bin/env python3
"""Independent reference implementation of the Embargo model digest (schema/model-digest.md).

Standard library only (Python 3.11+: hashlib.sha3_256). It shares no code with the Rust
implementation, so agreement between the two is evidence that both follow the definition.

    digest_reference.py PATH...                  print "<digest hex>  PATH" per model
    digest_reference.py --manifest PATH          print the manifest text
    digest_reference.py --check-vectors JSON     regenerate the pinned test vectors and check them

Definition, in short: each file is cut into 1 MiB chunks; leaf = SHA3-256(0x00 || chunk),
node = SHA3-256(0x01 || left || right), RFC 6962 tree shape; an empty file's root is
SHA3-256(""). The manifest has one line "<root hex> <size> <path>\\n" per regular file, sorted
by path bytes. The model digest is SHA3-256("embargo-model-v1\\n" || manifest).
"""

import hashlib
import json
import os
import stat
import sys
import tempfile

CHUNK_SIZE = 1 << 20
DOMAIN = b"embargo-model-v1\n"


class RefusedError(Exception):
    """The model contains something the definition refuses."""


def sha3(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


def leaf_hash(chunk: bytes) -> bytes:
    hasher = hashlib.sha3_256(b"\x00")
    hasher.update(chunk)  # no copy of the chunk, unlike hashing b"\x00" + chunk
    return hasher.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha3(b"\x01" + left + right)


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def tree_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH over leaf hashes; SHA3-256("") for no leaves."""
    if not leaves:
        return sha3(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(tree_root(leaves[:k]), tree_root(leaves[k:]))


def audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1 PATH(m, D[n]): sibling hashes from the leaf up."""
    if len(leaves) <= 1:
        return []
    k = split_point(len(leaves))
    if index < k:
        return audit_path(index, leaves[:k]) + [tree_root(leaves[k:])]
    return audit_path(index - k, leaves[k:]) + [tree_root(leaves[:k])]


def file_leaves(path: str) -> tuple[int, list[bytes]]:
    """Size and leaf hashes of a file, read in 1 MiB chunks (never all in memory)."""
    leaves = []
    size = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = read_full(f, CHUNK_SIZE)
            if not chunk:
                break
            size += len(chunk)
            leaves.append(leaf_hash(chunk))
    return size, leaves


def read_full(f, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        part = f.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def checked_name(full_path: str, name: bytes) -> str:
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        raise RefusedError(f"{full_path!r} has a name that is not valid UTF-8") from None
    if "\n" in text:
        raise RefusedError(f"{full_path!r} has a newline in its name")
    return text


def regular_files(model: str) -> list[tuple[str, str]]:
    """(manifest path, filesystem path) of every regular file; refuses what the definition refuses."""
    info = os.lstat(model)
    if stat.S_ISLNK(info.st_mode):
        raise RefusedError(f"{model} is a symlink")
    if stat.S_ISREG(info.st_mode):
        name = os.path.basename(os.fsencode(model).rstrip(b"/"))
        return [(checked_name(model, name), model)]
    if not stat.S_ISDIR(info.st_mode):
        raise RefusedError(f"{model} is not a regular file or directory")
    found = []
    pending = [(os.fsencode(model), "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                full = os.fsdecode(entry.path)
                name = checked_name(full, entry.name)
                relative = f"{prefix}/{name}" if prefix else name
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    raise RefusedError(f"{full} is a symlink")
                if stat.S_ISDIR(mode):
                    pending.append((entry.path, relative))
                elif stat.S_ISREG(mode):
                    found.append((relative, full))
                else:
                    raise RefusedError(f"{full} is a special file")
    if not found:
        raise RefusedError(f"{model} contains no files")
    return found


def manifest_of(model: str) -> str:
    lines = []
    for relative, full in regular_files(model):
        size, leaves = file_leaves(full)
        lines.append((relative.encode("utf-8"), f"{tree_root(leaves).hex()} {size} {relative}\n"))
    lines.sort(key=lambda pair: pair[0])
    return "".join(line for _, line in lines)


def digest_of_manifest(manifest: str) -> str:
    return sha3(DOMAIN + manifest.encode("utf-8")).hex()


# -- test vectors -------------------------------------------------------------------------------


def generate(generator: dict, size: int) -> bytes:
    kind = generator["kind"]
    if kind == "pattern":
        seed = generator["seed"]
        return bytes((i * 31 + 7 + seed) % 251 for i in range(size))
    if kind == "hex":
        return bytes.fromhex(generator["hex"])
    if kind == "text":
        return generator["text"].encode("utf-8")
    raise ValueError(f"unknown generator {kind!r}")


def check_vector(vector: dict, workdir: str) -> list[str]:
    problems = []
    root = os.path.join(workdir, vector["name"])
    os.makedirs(root)
    for directory in vector.get("empty_dirs", []):
        os.makedirs(os.path.join(root, directory))
    for entry in vector["files"]:
        content = generate(entry["generator"], entry["size"])
        if len(content) != entry["size"]:
            problems.append(f"{entry['path']}: generator gives {len(content)} bytes")
        full = os.path.join(root, entry["path"])
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(content)
        _, leaves = file_leaves(full)
        if tree_root(leaves).hex() != entry["root"]:
            problems.append(f"{entry['path']}: root differs")
        if "leaves" in entry and [leaf.hex() for leaf in leaves] != entry["leaves"]:
            problems.append(f"{entry['path']}: leaves differ")
        for proof in entry.get("proofs", []):
            expected = [h.hex() for h in audit_path(proof["index"], leaves)]
            if expected != proof["path"]:
                problems.append(f"{entry['path']}: proof of chunk {proof['index']} differs")
    target = os.path.join(root, vector["files"][0]["path"]) if vector["model"] == "file" else root
    manifest = manifest_of(target)
    if manifest != vector["manifest"]:
        problems.append("manifest differs")
    digest = digest_of_manifest(manifest)
    if digest != vector["digest"] or vector["digest_prefixed"] != "sha3-256:" + digest:
        problems.append(f"digest differs: computed {digest}")
    return problems


def check_vectors(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        document = json.load(f)
    failures = 0
    with tempfile.TemporaryDirectory() as workdir:
        for vector in document["vectors"]:
            problems = check_vector(vector, workdir)
            status = "ok" if not problems else "FAIL: " + "; ".join(problems)
            print(f"{vector['name']}: {vector['digest']} {status}")
            failures += bool(problems)
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--check-vectors":
        return check_vectors(argv[1])
    if len(argv) == 2 and argv[0] == "--manifest":
        sys.stdout.write(manifest_of(argv[1]))
        return 0
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    for model in argv:
        print(f"{digest_of_manifest(manifest_of(model))}  {model}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RefusedError as error:
        print(f"digest_reference.py: {error}", file=sys.stderr)
        sys.exit(1)
