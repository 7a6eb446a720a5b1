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
ex["post /v1/monitor/alerts"] = {"response": {**ex["get /v1/monitor/alerts"]["response"], "source": "upload"}}
csl = Path(tiergate.__file__).parent / "samples" / "trade_gov_csl_sample_2025.csv"
loaded = api.post("/v1/screen/lists", role="admin", files={"files": ("csl.csv", csl.read_bytes())})
put("post", "/v1/screen/lists", loaded)
ex["get /v1/audit"]["response"] = trim(api.get("/v1/audit?limit=2").json())
target = Path(__file__).resolve().parents[2] / "tiergate" / "api" / "examples.json"
target.write_text(json.dumps(ex, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
print(len(ex), "operations", target.stat().st_size, "bytes")
