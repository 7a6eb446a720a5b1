"""Shards: the files an artefact's weights are kept in, named by SHA-256 and size, under an RFC 6962 Merkle root.

The root is the Merkle tree hash over ``leaf_hash(bytes.fromhex(sha256))`` of each shard, in the registered
order. Release hashes every file of the folder it is given and recomputes that root: a missing, extra, altered
or resized shard does not reproduce it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiergate.merkle import leaf_hash, tree_root
from tiergate.vault.model import Shard

CHUNK = 1 << 20


def shards_root(shards: Sequence[Shard]) -> str:
    return tree_root([leaf_hash(bytes.fromhex(s.sha256)) for s in shards]).hex()


def hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass
class ShardCheck:
    """What the files of a folder are against the registered shards."""

    folder: str
    expected_root: str
    root: str | None
    """The root recomputed from the files in registered order (None when a shard is missing)."""
    files: int
    bytes: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.root == self.expected_root

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "files": self.files,
            "bytes": self.bytes,
            "expected_root": self.expected_root,
            "recomputed_root": self.root,
            "problems": self.problems,
        }


def check_folder(folder: Path, shards: Sequence[Shard], expected_root: str) -> ShardCheck:
    """Hash every file under ``folder`` and match them to ``shards``; anything unmatched is a problem."""
    check = ShardCheck(str(folder), expected_root, None, 0, 0)
    wanted: dict[str, list[int]] = {}
    for index, shard in enumerate(shards):
        wanted.setdefault(shard.sha256, []).append(index)
    found: dict[int, str] = {}
    for path in sorted(_walk(folder, check.problems)):
        digest, size = hash_file(path)
        check.files += 1
        check.bytes += size
        name = str(path.relative_to(folder))
        slots = wanted.get(digest)
        if not slots:
            check.problems.append(f"{name}: SHA-256 {digest} is not a shard of the artefact")
            continue
        index = slots.pop(0)
        if shards[index].bytes != size:
            check.problems.append(f"{name}: {size} bytes, shard {index} is registered with {shards[index].bytes}")
        found[index] = digest
    for index, shard in enumerate(shards):
        if index not in found:
            check.problems.append(f"shard {index} (SHA-256 {shard.sha256}, {shard.bytes} bytes) is not in the folder")
    if len(found) == len(shards):
        check.root = tree_root([leaf_hash(bytes.fromhex(found[i])) for i in range(len(shards))]).hex()
        if check.root != expected_root:
            check.problems.append(f"the recomputed Merkle root {check.root} is not the registered {expected_root}")
    return check


def _walk(folder: Path, problems: list[str]) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in dirs:
            if (base / name).is_symlink():
                problems.append(f"{(base / name).relative_to(folder)}: a symbolic link, not followed")
        for name in names:
            path = base / name
            if path.is_symlink() or not path.is_file():
                problems.append(f"{path.relative_to(folder)}: not a regular file")
                continue
            files.append(path)
    return files
