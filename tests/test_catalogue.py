from __future__ import annotations

import pytest

import tiergate
from tiergate.classify.metrics import tpp

REQUIRED = [
    "nvidia-a100-sxm",
    "nvidia-a800-sxm",
    "nvidia-h100-sxm",
    "nvidia-h100-pcie",
    "nvidia-h800-sxm",
    "nvidia-h20",
    "nvidia-h200",
    "nvidia-b200",
    "nvidia-b300",
    "nvidia-gb200",
    "nvidia-gb300",
    "nvidia-l40s",
    "nvidia-l20",
    "nvidia-l4",
    "nvidia-rtx-4090",
    "nvidia-rtx-4090d",
    "nvidia-rtx-5090",
    "amd-mi250x",
    "amd-mi300x",
    "amd-mi325x",
    "amd-mi355x",
    "intel-gaudi2",
    "intel-gaudi3",
    "huawei-ascend-910b",
    "huawei-ascend-910c",
    "google-tpu-v4",
    "google-tpu-v5e",
    "google-tpu-v5p",
    "google-tpu-v6e",
    "google-tpu-v7",
    "aws-trainium1",
    "aws-trainium2",
    "aws-trainium3",
]


def test_every_row_of_the_research_catalogue_is_there(book: tiergate.Rulebook) -> None:
    assert len(book.catalogue) == 35
    for chip_id in REQUIRED:
        assert book.catalogue.resolve(chip_id).id == chip_id


@pytest.mark.parametrize(
    ("alias", "chip_id"),
    [
        ("H100", "nvidia-h100-sxm"),
        ("NVIDIA H100 SXM5 80GB", "nvidia-h100-sxm"),
        ("h100 sxm", "nvidia-h100-sxm"),
        ("MI300X", "amd-mi300x"),
        ("Ascend 910B", "huawei-ascend-910b"),
        ("Trillium", "google-tpu-v6e"),
        ("RTX 4090D", "nvidia-rtx-4090d"),
        ("GB300", "nvidia-gb300"),
    ],
)
def test_aliases_resolve(book: tiergate.Rulebook, alias: str, chip_id: str) -> None:
    assert book.catalogue.resolve(alias).id == chip_id


def test_unknown_chip_suggests_the_nearest_ids(book: tiergate.Rulebook) -> None:
    with pytest.raises(tiergate.UnknownChipError) as raised:
        book.catalogue.resolve("nvidia-h100-sxn")
    assert "nvidia-h100-sxm" in raised.value.suggestions
    assert "did you mean" in str(raised.value)


def test_computed_tpp_reproduces_the_catalogue_working(book: tiergate.Rulebook) -> None:
    """chips.csv shows its TPP working per row; the classifier must arrive at the same figure."""
    ruleset = book.full("us-2026-01")
    checked = 0
    for chip in book.catalogue:
        if chip.reference_tpp is None:
            continue
        value = tpp(chip, ruleset.bit_lengths).value
        assert value is not None
        assert abs(value - chip.reference_tpp) <= 1.0, chip.id
        checked += 1
    assert checked >= 33


@pytest.mark.parametrize(
    ("chip_id", "published"),
    [
        ("nvidia-h100-sxm", 15832),
        ("nvidia-a100-sxm", 4992),
        ("nvidia-h20", 2368),
        ("nvidia-rtx-4090", 5286),
        ("nvidia-l20", 1912),
        ("nvidia-b200", 36000),
        ("huawei-ascend-910c", 12800),
        ("google-tpu-v6e", 14688),
    ],
)
def test_tpp_matches_published_figures(book: tiergate.Rulebook, chip_id: str, published: float) -> None:
    value = tpp(book.catalogue.resolve(chip_id), book.full("us-2026-01").bit_lengths).value
    assert value is not None and abs(value - published) <= 2


def test_every_row_names_its_sources(book: tiergate.Rulebook) -> None:
    for chip in book.catalogue:
        assert chip.sources, chip.id
        assert chip.designer_country in ("US", "CN"), chip.id


def test_every_present_price_range_is_ordered_and_sourced(book: tiergate.Rulebook) -> None:
    priced = [chip for chip in book.catalogue if chip.price_usd is not None]
    assert len(priced) >= 10
    for chip in priced:
        price = chip.price_usd
        assert price is not None
        assert 0 < price.low <= price.high, chip.id
        assert price.source.strip() and price.basis.strip() and price.as_of.strip(), chip.id
        assert "http" in price.source or "Epoch" in price.source, chip.id


def test_the_h100_price_range_holds_the_cited_server_anchor(book: tiergate.Rulebook) -> None:
    """CNAS 2025: 2,400 H100 for $120M, about $50k per H100 in servers (shared/reference/diversion.md)."""
    price = book.catalogue.resolve("nvidia-h100-sxm").price_usd
    assert price is not None and price.low <= 50_000 <= price.high
    assert "in servers" in price.basis and "cnas.org" in price.source


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{low: 40000, high: 30000, basis: b, source: s, as_of: '2024'}", "low 40000 is above high 30000"),
        ("{low: 1, high: 2, basis: b, as_of: '2024'}", "price_usd.source must be given"),
        ("{low: -1, high: 2, basis: b, source: s, as_of: '2024'}", "price_usd.low must be a positive number"),
        ("{low: .nan, high: 2, basis: b, source: s, as_of: '2024'}", "price_usd.low must be a positive number"),
        ("{low: 1, high: .inf, basis: b, source: s, as_of: '2024'}", "price_usd.high must be a positive number"),
        ("{low: 1, high: 2, basis: b, source: s, as_of: '2024', vat: 3}", "price_usd.vat: unknown field"),
        ("12000", "price_usd must be a mapping"),
    ],
)
def test_a_bad_price_range_is_refused_with_the_chip_named(block: str, message: str) -> None:
    from tiergate.catalog.catalogue import parse_catalogue
    from tiergate.errors import CatalogueError

    text = f"accelerators:\n- id: x-1\n  name: X 1\n  dense_tops: {{fp8: 100}}\n  price_usd: {block}\n"
    with pytest.raises(CatalogueError) as raised:
        parse_catalogue(text, "cat.yaml")
    assert message in str(raised.value)
    assert "x-1" in str(raised.value)


def test_every_chip_has_a_sourced_release_date_in_its_year(book: tiergate.Rulebook) -> None:
    """Thresholds over the frontier count a chip from its release date; every packaged chip has one."""
    for chip in book.catalogue:
        assert chip.released is not None and chip.released_source, chip.id
        assert chip.year is None or abs(chip.released.year - chip.year) <= 1, chip.id


def test_a_release_date_without_its_source_is_refused() -> None:
    from tiergate.catalog.catalogue import parse_catalogue
    from tiergate.errors import CatalogueError

    text = "accelerators:\n- id: x-1\n  name: X 1\n  dense_tops: {fp8: 100}\n  released: 2024-01-02\n"
    with pytest.raises(CatalogueError, match="released needs released_source"):
        parse_catalogue(text, "cat.yaml")
    with pytest.raises(CatalogueError, match="is not a date"):
        parse_catalogue(text.replace("2024-01-02", "soon") + "  released_source: x\n", "cat.yaml")
