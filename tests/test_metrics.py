from __future__ import annotations

import datetime as dt

import tiergate
from tiergate.catalog import Chip, Die
from tiergate.classify import classify
from tiergate.rules.ruleset import compare

BITS = {"fp64": 64, "fp32": 32, "tf32": None, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "fp4": 4, "int4": 4}


def chip(*dies: Die, datacenter: bool | None = True, **kw: object) -> Chip:
    return Chip(id=None, name="spec", dies=dies, datacenter=datacenter, **kw)  # type: ignore[arg-type]


def test_tpp_is_the_best_precision_per_die_summed_over_dies(book: tiergate.Rulebook) -> None:
    ruleset = book.full("us-2024-12")
    two = chip(Die(400, (("bf16", 400.0), ("fp8", 800.0))), Die(400, (("bf16", 400.0), ("fp8", 800.0))))
    c = classify(two, ruleset)
    assert c.tpp == 12800
    assert c.performance_density == 16
    assert "aggregated over 2 dies" in c.explanation[0]


def test_memory_and_planar_dies_are_not_applicable_area(book: tiergate.Rulebook) -> None:
    ruleset = book.full("us-2024-12")
    spec = chip(
        Die(300, (("fp8", 300.0),)),
        Die(500, (), logic=False),
        Die(200, (), non_planar=False),
    )
    c = classify(spec, ruleset)
    assert c.tpp == 2400
    assert c.performance_density == 8  # 2400 / 300; the memory and planar dies are left out
    assert c.eccn == "3A090.a"


def test_tf32_is_left_out_unless_a_pack_sets_its_bit_length(book: tiergate.Rulebook) -> None:
    trainium2 = book.catalogue.resolve("aws-trainium2")
    assert classify(trainium2, book.full("us-2026-01")).tpp == 10672


def test_threshold_comparisons_absorb_floating_point_noise() -> None:
    assert 0.1 * 3 > 0.3  # binary floating point
    assert compare(0.1 * 3, "<=", 0.3)
    assert compare(4800 * (1 + 1e-12), "<", 4800) is False
    assert not compare(5.9199, ">=", 5.92)
    assert compare(4800.0000000001, "<", 4800) is False


def test_performance_density_edge_is_inclusive(book: tiergate.Rulebook) -> None:
    ruleset = book.full("us-2024-12")
    at = chip(Die(300, (("fp8", 222.0),)))  # 1776 / 300 = 5.92 exactly
    below = chip(Die(300.0507, (("fp8", 222.0),)))  # 5.919
    assert classify(at, ruleset).paragraph == "3A090.a.2"
    assert classify(below, ruleset).eccn == "not_controlled" or classify(below, ruleset).eccn == "3A090.b"
    assert classify(below, ruleset).eccn != "3A090.a"


def test_unknown_die_area_gives_the_restrictive_reading(book: tiergate.Rulebook) -> None:
    tpu_v4 = book.catalogue.resolve("google-tpu-v4")  # TPP 4400, die area not published
    c = classify(tpu_v4, book.full("us-2026-01"))
    assert c.eccn == "3A090.a" and c.provisional
    assert any("cannot be ruled out" in line for line in c.explanation)


def test_hbm_memory_bandwidth_density(book: tiergate.Rulebook) -> None:
    hbm = Chip(
        id=None,
        name="HBM3E stack",
        dies=(),
        datacenter=None,
        memory_bandwidth_gbps=1229.0,
        package_area_mm2=121.0,
        kind="hbm",
    )
    after = classify(hbm, book.full("us-2024-12"))
    assert after.eccn == "3A090.c"
    assert after.memory_bandwidth_density is not None and abs(after.memory_bandwidth_density - 1229 / 121) < 1e-9
    before = classify(hbm, book.full("us-2023-10"))
    assert before.eccn == "not_controlled"


def test_dates_pick_the_regime(book: tiergate.Rulebook) -> None:
    assert book.select(None, dt.date(2025, 5, 12))[0].regime == "us-diffusion-2025"
    assert book.select(None, dt.date(2025, 5, 13))[0].regime == "us-2025-05"
