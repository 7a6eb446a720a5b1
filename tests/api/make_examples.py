"""Regenerate tiergate/api/examples.json: the real answers of every operation on a fresh server (today 2025-03-03,
the bundled samples), lists trimmed, which the OpenAPI document shows as examples. Run from the repository root:
``python tests/api/make_examples.py``; tests/api/test_openapi_examples.py checks them against the schemas."""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import tiergate
from tests.api.conftest import make_api, sample

api = make_api(Path(tempfile.mkdtemp()), tiergate.load_rulebook())
txn = sample("demo-01")
txn2 = sample("demo-02")
LISTED = "China Electronics Technology Group Corporation 13th Research Institute"


def trim(value, depth=0):
    if isinstance(value, list):
        return [trim(v, depth + 1) for v in value[: (3 if depth else 2)]]
    if isinstance(value, dict):
        return {k: trim(v, depth + 1) for k, v in value.items()}
    return value


ex = {}


def put(method, path, response, request=None):
    assert response.status_code < 300, (method, path, response.status_code, response.text[:300])
    entry = {"response": trim(response.json())}
    if request is not None:
        entry["request"] = request
    ex[f"{method} {path}"] = entry


put("get", "/v1/chips", api.get("/v1/chips"))
put("get", "/v1/chips/{chip}", api.get("/v1/chips/nvidia-h100-sxm"))
item = {"chip": "nvidia-h100-sxm", "quantity": 8}
put("post", "/v1/classify", api.post("/v1/classify", role="viewer", json=item), item)
put("post", "/v1/decide", api.post("/v1/decide", json=txn), txn)
put("post", "/v1/decide/batch", api.post("/v1/decide/batch?explain=false", json=[txn, txn2]), [txn, txn2])
put("post", "/v1/ship", api.post("/v1/ship", json=txn), txn)
put("get", "/v1/ledger/balances", api.get("/v1/ledger/balances"))
put("get", "/v1/ledger/history", api.get("/v1/ledger/history?limit=2"))
lic = {
    "id": "D1234567",
    "jurisdiction": "US",
    "exporter": "Example Exporter Inc",
    "consignees": [{"name": "Example Compute Pvt Ltd", "country": "IN"}],
    "destination": "IN",
    "lines": [{"item": "nvidia-h100-sxm", "quantity": 2000, "value_usd": 60000000}],
    "issued": "2025-02-01",
    "expires": "2027-02-01",
    "conditions": ["no reexport without prior authorization"],
}
put("post", "/v1/ledger/licences", api.post("/v1/ledger/licences", json=lic), lic)
put("get", "/v1/ledger/licences", api.get("/v1/ledger/licences"))
put("get", "/v1/ledger/licences/{licence_id}", api.get("/v1/ledger/licences/D1234567"))
put("get", "/v1/packs", api.get("/v1/packs"))
put("get", "/v1/packs/diff", api.get("/v1/packs/diff?from=us-2024-12&to=us-diffusion-2025"))
put("get", "/v1/packs/{name}", api.get("/v1/packs/us-diffusion-2025"))
put("get", "/v1/audit", api.get("/v1/audit?limit=2"))
put("get", "/v1/audit/verify", api.get("/v1/audit/verify", role="admin"))
put("get", "/v1/keys", api.get("/v1/keys", role="admin"))
newkey = {"owner": "dana@example.com", "role": "officer", "expires_at": "2030-12-31T23:59:59Z"}
created = api.post("/v1/keys", role="admin", json=newkey)
put("post", "/v1/keys", created, newkey)
put("delete", "/v1/keys/{key_id}", api.client.delete(f"/v1/keys/{created.json()['id']}", headers=api.headers("admin")))
party = {"name": LISTED, "country": "CN"}
screened = api.post("/v1/screen", role="viewer", json=party)
put("post", "/v1/screen", screened, party)
parties = [party, {"name": "Example Compute Pvt Ltd", "country": "IN"}]
put("post", "/v1/screen/batch", api.post("/v1/screen/batch", role="viewer", json=parties), parties)
hit = screened.json()["hits"][0]
decision = {
    "party": screened.json()["query"]["party"],
    "entry": hit["entry"],
    "verdict": "confirmed",
    "reason": "same entity: name and country match the Entity List entry",
}
put("post", "/v1/screen/decisions", api.post("/v1/screen/decisions", json=decision), decision)
put("get", "/v1/screen/decisions", api.get("/v1/screen/decisions"))
put("get", "/v1/screen/lists", api.get("/v1/screen/lists"))
put("get", "/v1/monitor/alerts", api.get("/v1/monitor/alerts"))
# uploads: the answers have the shapes of the GET ones
ex["post /v1/monitor/alerts"] = {
    "response": {**ex["get /v1/monitor/alerts"]["response"], "source": "upload"},
    "request": {"usage": "usage.csv (usage records)", "customers": "customers.csv (the customers)"},
}
csl = Path(tiergate.__file__).parent / "samples" / "trade_gov_csl_sample_2025.csv"
loaded = api.post("/v1/screen/lists", role="admin", files={"files": ("csl.csv", csl.read_bytes())})
put("post", "/v1/screen/lists", loaded, {"files": ["csl.csv (the Consolidated Screening List, CSV or JSON)"]})
ex["get /v1/audit"]["response"] = trim(api.get("/v1/audit?limit=2").json())

# ------------------------------------------------ replay, denials, equipment (a server that does not screen)
plain = make_api(Path(tempfile.mkdtemp()), tiergate.load_rulebook(), screening=False)
history = {"from": "us-2025-05", "to": "us-diffusion-2025", "transactions": [txn, txn2]}
put("post", "/v1/replay", plain.post("/v1/replay", json=history), history)
orders = "\n".join(json.dumps(t) for t in (txn, txn2)) + "\n"
uploaded = plain.post(
    "/v1/replay/upload?from=us-2025-05&to=us-diffusion-2025",
    files={"history": ("orders.jsonl", orders.encode(), "application/octet-stream")},
)
put("post", "/v1/replay/upload", uploaded, {"history": "orders.jsonl (a file: .parquet, .csv, .json, .jsonl, .yaml)"})
notice = {
    "id": "NL-2024-0117",
    "jurisdiction": "NL",
    "date": "2024-06-01",
    "control_keys": ["3B001.f.1"],
    "destination": "JP",
    "end_user": {"name": "Kumamoto Fab KK"},
}
put("post", "/v1/denials", plain.post("/v1/denials", json=notice), notice)
put("get", "/v1/denials", plain.get("/v1/denials"))
put("get", "/v1/equipment", plain.get("/v1/equipment"))
put("get", "/v1/equipment/{tool}", plain.get("/v1/equipment/asml-nxt-2000i"))

# ------------------------------------------------ verification
from tiergate.signing import load_signing_key, public_key_pem  # noqa: E402

rtts = [
    {"landmark": "SIN", "lat": 1.3521, "lon": 103.8198, "rtt_ms": 2.0},
    {"landmark": "KUL", "lat": 3.139, "lon": 101.6869, "rtt_ms": 4.5},
]
where = {"claim": "SG", "samples": rtts}
put("post", "/v1/verify/locate", plain.post("/v1/verify/locate", role="viewer", json=where), where)
probe = {"declared": "H20", "measured": {"bf16": 796.8}}
put("post", "/v1/verify/probe", plain.post("/v1/verify/probe", role="viewer", json=probe), probe)
fleet = "serial,declared,claim,landmark,lat,lon,rtt_ms\nC3,H100,SG,HKG,22.3193,114.1694,1.5\n"
fleet_answer = plain.post("/v1/verify/fleet", content=fleet.encode(), headers={"content-type": "text/csv"})
put("post", "/v1/verify/fleet", fleet_answer, fleet)
chip = load_signing_key(Path(tempfile.mkdtemp()) / "chip.pem", create=True)
chip_key = {"serial": "SN-0042", "public_key": public_key_pem(chip)}
put("post", "/v1/verify/keys", plain.post("/v1/verify/keys", role="admin", json=chip_key), chip_key)
put("get", "/v1/verify/keys", plain.get("/v1/verify/keys"))
asked = {"serial": "SN-0042"}
put("post", "/v1/verify/challenge", plain.post("/v1/verify/challenge", json=asked), asked)

# ------------------------------------------------ the vault (a server with shard storage and a signing key)
import hashlib  # noqa: E402

from tiergate.vault import Vault  # noqa: E402

folder = Path(tempfile.mkdtemp())
signing = folder / "operator.pem"
load_signing_key(signing, create=True)
(folder / "storage" / "frontier-1").mkdir(parents=True)
vaulted = make_api(folder, tiergate.load_rulebook(), vault_shards=folder / "storage", signing_key=signing)
vault = Vault(vaulted.db, book=tiergate.load_rulebook())
vault.init("approver-owner,admin-owner,officer-owner", 2)
vault.close()
parts = []
for i in range(2):
    data = f"shard {i} ".encode() * 100
    (folder / "storage" / "frontier-1" / f"part-{i}.bin").write_bytes(data)
    parts.append({"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
artefact = {"id": "frontier-1", "name": "Frontier 1", "training_ops": 3.5e26, "open_weights": False, "shards": parts}
put("post", "/v1/vault/artefacts", vaulted.post("/v1/vault/artefacts", json=artefact), artefact)
put("get", "/v1/vault/artefacts", vaulted.get("/v1/vault/artefacts"))
put("get", "/v1/vault/artefacts/{artefact_id}", vaulted.get("/v1/vault/artefacts/frontier-1"))
centre = {
    "id": "fra-1",
    "name": "Frankfurt 1",
    "country": "DE",
    "operator": "Northwind Compute GmbH",
    "veu": "UVEU",
    "attestation": {"fedramp_high_equivalent": True, "dedicated_devices": True, "attested_by": "Northwind CISO"},
}
put("post", "/v1/vault/datacentres", vaulted.post("/v1/vault/datacentres", role="admin", json=centre), centre)
put("get", "/v1/vault/datacentres", vaulted.get("/v1/vault/datacentres"))
transfer = {
    "artefact": "frontier-1",
    "destination": "DE",
    "recipient": "Northwind Compute GmbH",
    "recipient_headquarters": "DE",
    "data_centre": "fra-1",
}
made = vaulted.post("/v1/vault/requests", json=transfer)
put("post", "/v1/vault/requests", made, transfer)
rid = made.json()["request"]
put("get", "/v1/vault/requests", vaulted.get("/v1/vault/requests"))
put("get", "/v1/vault/requests/{request_id}", vaulted.get(f"/v1/vault/requests/{rid}"))
vaulted.post(f"/v1/vault/requests/{rid}/approve", role="approver")
put("post", "/v1/vault/requests/{request_id}/approve", vaulted.post(f"/v1/vault/requests/{rid}/approve", role="admin"))
release = {"shards": "frontier-1"}
put(
    "post",
    "/v1/vault/requests/{request_id}/release",
    vaulted.post(f"/v1/vault/requests/{rid}/release", json=release),
    release,
)
put("post", "/v1/vault/log/checkpoint", vaulted.post("/v1/vault/log/checkpoint", role="admin"))
put("get", "/v1/vault/log/verify", vaulted.get("/v1/vault/log/verify"))
put("get", "/v1/vault/log/entries", vaulted.get("/v1/vault/log/entries", params={"start": 3, "limit": 2}))
put("get", "/v1/vault/log/proofs/inclusion/{entry}", vaulted.get("/v1/vault/log/proofs/inclusion/3"))
put(
    "get",
    "/v1/vault/log/proofs/consistency",
    vaulted.get("/v1/vault/log/proofs/consistency", params={"old": 7}),
)
put("get", "/v1/vault", vaulted.get("/v1/vault"))
approvers = {"approvers": ["approver-owner", "admin-owner", "erin"], "threshold": 2}
put("post", "/v1/vault/approvers", vaulted.post("/v1/vault/approvers", role="admin", json=approvers), approvers)
# ------------------------------------------------ diversion (a small generated set of shipments and parties)
from tiergate.diversion import generate  # noqa: E402

made = generate(Path(tempfile.mkdtemp()) / "g", 150, seed=5, instances=1, decoys=1)
shipments = {
    "shipments": ("shipments.csv", made.shipments.read_bytes(), "text/csv"),
    "parties": ("parties.csv", made.parties.read_bytes(), "text/csv"),
}
scanned = plain.post("/v1/diversion/scan?record=true", files=shipments)
put("post", "/v1/diversion/scan", scanned, {"shipments": "shipments.csv", "parties": "parties.csv"})
case = scanned.json()["cases"][0]["case"]
put("get", "/v1/diversion/cases", plain.get("/v1/diversion/cases"))
assign = {"assignee": "alice"}
put(
    "post",
    "/v1/diversion/cases/{case}/assign",
    plain.post(f"/v1/diversion/cases/{case}/assign", json=assign),
    assign,
)
note = {"text": "asked for the end-user statement"}
put("post", "/v1/diversion/cases/{case}/notes", plain.post(f"/v1/diversion/cases/{case}/notes", json=note), note)
closing = {"reason": "licence on file"}
put(
    "post",
    "/v1/diversion/cases/{case}/close",
    plain.post(f"/v1/diversion/cases/{case}/close", json=closing),
    closing,
)
put("get", "/v1/diversion/cases/{case}", plain.get(f"/v1/diversion/cases/{case}"))

target = Path(__file__).resolve().parents[2] / "tiergate" / "api" / "examples.json"
target.write_text(json.dumps(ex, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
print(len(ex), "operations", target.stat().st_size, "bytes")
