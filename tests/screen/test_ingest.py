"""Every list format into one entity model; bad files refused whole, naming file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiergate.screen import ListFileError, read_lists

DATA = Path(__file__).parent / "data" / "lists"


def _by_dataset(paths: list[Path]) -> dict[str, list]:  # type: ignore[type-arg]
    return {ds.dataset: list(ds.entries) for ds in read_lists(paths)}


def test_every_format_is_read_into_one_model() -> None:
    sets = {ds.dataset: ds for ds in read_lists(sorted(DATA.glob("*.*")))}
    assert set(sets) == {"ofac-sdn", "trade-gov-csl", "un-consolidated", "nsf-bis-entity-list", "entities"}
    sdn = {e.entry_id: e for e in sets["ofac-sdn"].entries}
    wong = sdn["9340"]
    assert wong.schema == "Person" and wong.list_code == "SDN" and "CHI BANG" in wong.aliases
    assert "CN" in wong.countries and any(i.value == "611657479" for i in wong.identifiers)
    assert sdn["306"].aliases == ("BNC",)
    assert any(i.value == "7707083893" for i in sdn["17016"].identifiers)
    csl = {e.list_code: e for e in sets["trade-gov-csl"].entries}
    assert csl["EL"].license_policy and "denial" in csl["EL"].license_policy
    assert "HSRI" in csl["EL"].aliases and csl["EL"].listed_on == "2018-08-01"
    assert csl["SDN"].schema == "Person" and set(csl["SDN"].countries) == {"CN", "KP"}
    un = {e.entry_id: e for e in sets["un-consolidated"].entries}
    assert un["IQi.082"].name == "OMAR SABAWI IBRAHIM AL-TIKRITI" and un["IQi.082"].listed_on == "2005-07-27"
    assert any("عمر" in a for a in un["IQi.082"].aliases)
    assert un["IQi.082"].weak_aliases == ("Abu Mufid",) and "Abu Mufid" not in un["IQi.082"].aliases
    assert un["KPe.001"].countries == ("KP",) and "KOMID" in un["KPe.001"].aliases
    assert sets["un-consolidated"].file_date == "2026-02-27"
    el = sets["nsf-bis-entity-list"]
    assert {e.list_code for e in el.entries} == {"EL"} and el.file_date == "2026-07-09"
    ftm = {e.entry_id: e for e in sets["entities"].entries}
    assert set(ftm) == {"NK-kalash", "NK-cst", "NK-sub"}  # not the unrelated non-target record
    assert ftm["NK-sub"].remarks and "owned 60 %" in ftm["NK-sub"].remarks
    assert ftm["NK-cst"].owners[0].entry_id == "NK-kalash" and ftm["NK-cst"].owners[0].percent == 100.0
    assert ftm["NK-kalash"].programs == ("EU Russia",) and ftm["NK-kalash"].listed_on == "2022-04-08"
    for ds in sets.values():
        assert len(ds.sha256) == 64
        assert all(e.source_line > 0 and e.content_hash for e in ds.entries)


def _copy(tmp: Path, name: str, text: str | bytes) -> Path:
    path = tmp / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_truncated_ofac_file_names_the_line(tmp_path: Path) -> None:
    raw = (DATA / "ofac_sdn_2024-05-03.csv").read_bytes()
    cut = raw[: raw.index(b"9340") + 40]
    path = _copy(tmp_path, "sdn.csv", cut)
    with pytest.raises(ListFileError, match=r"sdn\.csv:3: .*fields"):
        read_lists([path])


def test_truncated_json_names_the_line(tmp_path: Path) -> None:
    text = (DATA / "nsfreg_bis_entity_list.json").read_text(encoding="utf-8")
    path = _copy(tmp_path, "nsfreg_bis_entity_list.json", text[: len(text) // 2])
    with pytest.raises(ListFileError, match=r"nsfreg_bis_entity_list\.json:\d+: not valid JSON"):
        read_lists([path])


def test_json_with_fewer_entities_than_declared_is_refused(tmp_path: Path) -> None:
    text = (DATA / "nsfreg_bis_entity_list.json").read_text(encoding="utf-8").replace('"count": 3', '"count": 4')
    with pytest.raises(ListFileError, match="declares 4 entities but holds 3"):
        read_lists([_copy(tmp_path, "nsfreg_bis_entity_list.json", text)])


def test_malformed_xml_names_the_line(tmp_path: Path) -> None:
    text = (DATA / "un_consolidated.xml").read_text(encoding="utf-8").replace("</FIRST_NAME>", "</FIRST>", 1)
    with pytest.raises(ListFileError, match=r"un\.xml:6: malformed XML"):
        read_lists([_copy(tmp_path, "un.xml", text)])


def test_bad_ftm_line_is_named(tmp_path: Path) -> None:
    lines = (DATA / "entities.ftm.json").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:30]
    with pytest.raises(ListFileError, match=r"entities\.ftm\.json:3: not valid JSON"):
        read_lists([_copy(tmp_path, "entities.ftm.json", "\n".join(lines))])


def test_csl_row_with_missing_fields(tmp_path: Path) -> None:
    lines = (DATA / "trade_gov_csl.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = ",".join(lines[3].split(",")[:6])
    with pytest.raises(ListFileError, match=r"csl\.csv:4: fewer fields"):
        read_lists([_copy(tmp_path, "csl.csv", "\n".join(lines) + "\n")])


def test_ofac_alias_file_without_its_primary(tmp_path: Path) -> None:
    path = _copy(tmp_path, "cons_alt.csv", '9639,9150,"aka","HANIYA, Ismail",-0- \r\n')
    with pytest.raises(ListFileError, match="primary file"):
        read_lists([path])


def test_ofac_family_files_are_joined(tmp_path: Path) -> None:
    shutil.copy(DATA / "ofac_sdn_2024-05-03.csv", tmp_path / "cons_prim.csv")
    _copy(tmp_path, "cons_alt.csv", '306,1,"aka","BANCO NACIONAL CUBANO",-0- \r\n')
    _copy(tmp_path, "cons_add.csv", '306,2,"Calle 1","Havana","Cuba",-0- \r\n')
    sets = read_lists([tmp_path / "cons_prim.csv", tmp_path / "cons_alt.csv", tmp_path / "cons_add.csv"])
    (ds,) = sets
    bank = next(e for e in ds.entries if e.entry_id == "306")
    assert "BANCO NACIONAL CUBANO" in bank.aliases and bank.countries == ("CU",)
    assert len(ds.files) == 3


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ListFileError, match="cannot tell the list format"):
        read_lists([_copy(tmp_path, "notes.txt", "hello")])


LIST_FILES = sorted(p.name for p in DATA.iterdir())


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LIST_FILES), st.floats(min_value=0.0, max_value=1.0), st.binary(max_size=8))
def test_a_cut_or_damaged_file_is_read_or_refused_cleanly(name: str, cut: float, junk: bytes) -> None:
    """Any prefix of a list file, with junk bytes after it, is either read or refused as a ListFileError
    naming the file; never another exception."""
    import tempfile

    data = (DATA / name).read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data[: int(len(data) * cut)] + junk)
        try:
            read_lists([path])
        except ListFileError as error:
            assert str(path) in str(error)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(LIST_FILES),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=0, max_value=40),
    st.binary(min_size=1, max_size=12),
)
def test_bytes_replaced_inside_a_file_are_read_or_refused_cleanly(name: str, at: float, drop: int, junk: bytes) -> None:
    import tempfile

    data = (DATA / name).read_bytes()
    i = int(len(data) * at)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data[:i] + junk + data[i + drop :])
        try:
            read_lists([path])
        except ListFileError as error:
            assert str(path) in str(error)
