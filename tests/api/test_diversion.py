"""``/v1/diversion``: a scan of uploaded shipments, the case queue, analysts' actions by role, the error shape."""

from __future__ import annotations

from pathlib import Path

from tiergate.diversion import generate

from .conftest import Api


def _files(tmp_path: Path) -> dict[str, tuple[str, bytes, str]]:
    made = generate(tmp_path / "g", 150, seed=5, instances=1, decoys=1)
    return {
        "shipments": ("my-shipments.csv", made.shipments.read_bytes(), "text/csv"),
        "parties": ("my-parties.csv", made.parties.read_bytes(), "text/csv"),
    }


def test_scan_record_and_work_a_case(api: Api, tmp_path: Path) -> None:
    files = _files(tmp_path)
    answer = api.post("/v1/diversion/scan?record=true", files=files)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["cases"] and all(c["level"] in ("block", "high", "medium") for c in body["cases"])
    assert all(f["citation"] for c in body["cases"] for f in c["flags"])
    queue = api.get("/v1/diversion/cases")
    assert queue.status_code == 200 and queue.json()[0]["case"] == body["cases"][0]["case"]
    case = body["cases"][0]["case"]
    assert api.post(f"/v1/diversion/cases/{case}/assign", json={"assignee": "alice"}).json()["assignee"] == "alice"
    noted = api.post(f"/v1/diversion/cases/{case}/notes", json={"text": "asked for the end-user statement"})
    assert noted.json()["analyst_notes"][0]["author"] == "officer-owner"
    closed = api.post(f"/v1/diversion/cases/{case}/close", json={"reason": "licence on file"})
    assert closed.json()["status"] == "closed"
    assert [h["action"] for h in closed.json()["history"]][-1] == "diversion.case.close"
    again = api.post("/v1/diversion/scan?record=true", files=files)
    assert again.status_code == 200
    assert api.get(f"/v1/diversion/cases/{case}").json()["status"] == "closed"


def test_roles_and_errors(api: Api, tmp_path: Path) -> None:
    files = _files(tmp_path)
    assert api.post("/v1/diversion/scan", role="viewer", files=files).status_code == 403
    missing = api.get("/v1/diversion/cases")
    assert missing.status_code == 404 and "error" in missing.json()
    assert api.post("/v1/diversion/scan", json={}).status_code == 415
    bad = api.post("/v1/diversion/scan", files={"shipments": ("s.xlsx", b"x", "application/octet-stream")})
    assert bad.status_code == 415 and "s.xlsx" in bad.text
    rows = b"id,date,quantity\nA,2025-01-01,3\nB,2025-01-02,lots\n"
    named = api.post("/v1/diversion/scan", files={"shipments": ("mine.csv", rows, "text/csv")})
    assert named.status_code == 200
    assert named.json()["problems"] == [
        {
            "file": "mine.csv",
            "line": 3,
            "column": "quantity",
            "problem": "'lots' is not a whole number",
            "shipment": "B",
        }
    ]
    api.post("/v1/diversion/scan?record=true", files=files)
    assert api.post("/v1/diversion/cases/C-0001/close", json={"reason": ""}).status_code == 422
    assert api.post("/v1/diversion/cases/C-9999/close", json={"reason": "x"}).status_code == 404
    assert api.get("/v1/diversion/cases?status=pending").status_code == 422


def test_an_imports_upload_feeds_the_mirror_gap_prior_and_its_bad_rows_are_named(api: Api) -> None:
    ship = (
        b"id,date,exporter_country,consignee_id,hs_code,product,quantity,value_usd,route,payer_name,payer_country\n"
        b"S1,2025-06-10,US,X1,854231,nvidia-h100-sxm,16,608000,US>MY>SG,Example Pte Ltd,SG\n"
    )
    imports = b"country,month,value_usd,documented_h100e\nMY,2025-06,600000000,1000\nMY,June,1,\n"
    answer = api.post(
        "/v1/diversion/scan?min_level=low",
        files={"shipments": ("s.csv", ship, "text/csv"), "imports": ("hub-imports.csv", imports, "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    flags = {f["code"]: f for c in body["cases"] for f in c["flags"]}
    assert flags["F11-mirror-gap"]["points"] == 8 and "MY's imports" in flags["F11-mirror-gap"]["why"]
    assert [(p["file"], p["line"], p["column"]) for p in body["problems"]] == [("hub-imports.csv", 3, "month")]
