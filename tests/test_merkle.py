"""RFC 6962 Merkle trees: roots, inclusion and consistency proofs, against a direct reading of the RFC."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tiergate.merkle import (
    EMPTY_ROOT,
    RootBuilder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)


def mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 section 2.1 writes it."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(entries[:k]) + mth(entries[k:])).digest()


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def test_known_roots_and_hashing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    # a leaf can never pass for a node of two leaves
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(a + b) != node_hash(a, b)


def test_roots_match_the_rfc_for_every_small_size() -> None:
    for n in range(0, 70):
        data = entries(n)
        assert tree_root([leaf_hash(e) for e in data]) == mth(data), n


def test_every_inclusion_and_consistency_proof_of_small_trees() -> None:
    for n in range(1, 34):
        data = entries(n)
        leaves = [leaf_hash(e) for e in data]
        root = mth(data)
        for i in range(n):
            proof = inclusion_proof(leaves, i)
            assert verify_inclusion(leaves[i], i, n, proof, root)
            assert not verify_inclusion(leaf_hash(b"forged"), i, n, proof, root)
            assert not verify_inclusion(leaves[i], i, n, proof, mth([*data, b"more"]))
            assert not verify_inclusion(leaves[i], n, n, proof, root)
            if n > 1:
                assert not verify_inclusion(leaves[i], (i + 1) % n, n, proof, root)
        for m in range(0, n + 1):
            proof = consistency_proof(leaves, m)
            assert verify_consistency(m, n, mth(data[:m]), root, proof), (m, n)
            if 0 < m < n:
                # a rewritten old entry, a reordered log or a wrong size must not verify
                rewritten = [b"rewritten", *data[1:m]]
                assert not verify_consistency(m, n, mth(rewritten), root, proof)
                assert not verify_consistency(m, n, mth(data[:m]), mth(data[::-1]), proof)
                assert not verify_consistency(m, n, mth(data[:m]), root, [])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=300), st.data())
def test_proofs_hold_for_any_log(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [leaf_hash(e) for e in data]
    n = len(data)
    i = draw.draw(st.integers(0, n - 1))
    m = draw.draw(st.integers(0, n))
    root = tree_root(leaves)
    assert root == mth(data)
    assert verify_inclusion(leaves[i], i, n, inclusion_proof(leaves, i), root)
    assert verify_consistency(m, n, tree_root(leaves[:m]), root, consistency_proof(leaves, m))


@given(st.lists(st.binary(max_size=4), max_size=200), st.integers(1, 50))
def test_root_builder_reads_pages(data: list[bytes], page: int) -> None:
    builder = RootBuilder()
    leaves = [leaf_hash(e) for e in data]
    for start in range(0, len(leaves), page):
        builder.extend(leaves[start : start + page])
        assert builder.root() == tree_root(leaves[: builder.size])
    assert builder.size == len(data)
    assert builder.root() == mth(data)
