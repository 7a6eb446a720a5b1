"""Merkle trees as RFC 6962 (Certificate Transparency, section 2.1) defines them: pure functions, no I/O.

A log of entries is summarised by the root of a binary hash tree over its entries:

- a leaf is ``SHA-256(0x00 || entry)`` and an inner node ``SHA-256(0x01 || left || right)``, so a leaf can
  never pass for a node (second-preimage protection);
- the tree of ``n`` entries splits at ``k``, the largest power of two below ``n``: the first ``k`` leaves on
  the left, the rest on the right;
- the root of the empty tree is ``SHA-256("")``.

An **inclusion proof** shows that an entry sits at a position of a tree with a given root; a **consistency
proof** shows that a tree of ``old_size`` entries is a prefix of a later tree, so a log that was rewritten,
truncated or reordered after a signed checkpoint cannot prove consistency with it. The verifiers take only
hashes and sizes: an auditor runs them offline, without the database.

Functions that build proofs take the leaf hashes (``leaf_hash`` of each entry); :class:`RootBuilder`
computes a root from leaf hashes read one page at a time, in memory logarithmic in the log's size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "RootBuilder",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of a log with no entries (RFC 6962: the hash of the empty string)."""


def leaf_hash(entry: bytes) -> bytes:
    """The hash of one log entry as a leaf: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (MTH) of a list of leaf hashes."""
    builder = RootBuilder()
    builder.extend(leaves)
    return builder.root()


def _subtree_root(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return leaves[start]
    k = _split(end - start)
    return node_hash(_subtree_root(leaves, start, start + k), _subtree_root(leaves, start + k, end))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 6962 2.1.1), leaf end first."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)} entries")
    proof: list[bytes] = []
    start, end = 0, len(leaves)
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            proof.append(_subtree_root(leaves, start + k, end))
            end = start + k
        else:
            proof.append(_subtree_root(leaves, start, start + k))
            start += k
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at position ``index`` of the tree of ``size`` with ``root``.

    The algorithm of RFC 9162 section 2.1.3.2 (the same tree as RFC 6962)."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    digest = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            digest = node_hash(digest, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and digest == root


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the first ``old_size`` leaves are a prefix of ``leaves`` (RFC 6962 2.1.2)."""
    if not 0 <= old_size <= len(leaves):
        raise ValueError(f"a tree of {old_size} entries is not a prefix of one of {len(leaves)}")
    if old_size in (0, len(leaves)):
        return []
    return _subproof(leaves, old_size, 0, len(leaves), True)


def _subproof(leaves: Sequence[bytes], m: int, start: int, end: int, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [_subtree_root(leaves, start, end)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves, m, start, start + k, complete), _subtree_root(leaves, start + k, end)]
    return [*_subproof(leaves, m - k, start + k, end, False), _subtree_root(leaves, start, start + k)]


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree of ``old_size`` with ``old_root`` to be a prefix of the tree of
    ``new_size`` with ``new_root`` (RFC 9162 section 2.1.4.2)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class RootBuilder:
    """The root of a log computed from its leaf hashes appended in order, a page at a time.

    Keeps one perfect subtree per set bit of the size (at most log2(n) hashes): the state RFC 6962's
    split produces when the tree is read left to right."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, root) of perfect subtrees, tallest first
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        height, digest = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            digest = node_hash(left, digest)
            height += 1
        self._stack.append((height, digest))
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        digest = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            digest = node_hash(left, digest)
        return digest
