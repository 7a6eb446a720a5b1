"""Synthetic shipments and parties with ground truth, deterministic for a seed.

The population (``docs/diversion.md``): exporters in the US, Taiwan and Korea ship accelerators, GPU servers and
cards to documented data centres (at least 30 % of the compute traffic goes to data centres in Singapore,
Malaysia, the UAE and Thailand, paid from the same country, checks passed), to cloud and research buyers
elsewhere, and ordinary goods (medical apparatus, power supplies, laptops) to hospitals and manufacturers.

Planted schemes (:data:`SCHEMES`), each at least ``instances`` times (default 20), each with at least two
independent signals, after the cases of the digest: ALX-like forwarders, a Janford-like realtor, Gatekeeper-like
relabelling, Supermicro-like serials, cover goods, split lots at one address, a new name at an Entity List address,
a Megaspeed-like site that cannot power its order, the chiplet workaround, controlled chips to China without a
licence and a failed end-use check. Decoys (:data:`DECOYS`) carry one signal each and must not be held.

Written: ``shipments.csv`` (or ``.parquet``), ``parties.csv``, ``labels.csv`` (shipment id, kind, scheme,
network, planted signals) and ``lists/entity_list.json`` (synthetic Entity List entries, in the format
``tiergate lists load`` reads, with the addresses the address scheme reuses).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiergate.batch import atomic_output

SHIPMENT_COLUMNS = (
    "id",
    "date",
    "exporter",
    "exporter_country",
    "consignee_id",
    "end_user_id",
    "hs_code",
    "description",
    "product",
    "brand",
    "quantity",
    "value_usd",
    "gross_kg",
    "route",
    "forwarder",
    "payer_name",
    "payer_country",
    "serials",
    "end_use_check",
    "licence",
    "payment_terms",
    "support",
    "notify_party",
    "invoice_party",
    "booking_change",
)
"""The shipment columns (docs/formats.md). ``payment_terms`` and ``support`` are optional: a file without them is
scanned, and the prepayment and support checks of F19 are then not assessed; so are ``notify_party``,
``invoice_party`` and ``booking_change`` (F15 then compares the route with the end-use country only)."""
PARTY_COLUMNS = (
    "id",
    "name",
    "country",
    "address",
    "address_type",
    "incorporated",
    "website",
    "email_domain",
    "naics",
    "parent_country",
    "is_forwarder",
    "site_mw",
    "site_visit",
    "parent",
)
"""The party columns. ``site_visit`` (the latest visit to the party's data-centre site found the kit ``installed``,
``boxed`` or ``absent``) and ``parent`` (the ultimate parent's name) are optional."""
LABEL_COLUMNS = ("shipment", "kind", "scheme", "network", "signals")

SCHEMES = (
    "alx-forwarder",
    "janford-realtor",
    "gatekeeper-relabel",
    "supermicro-serials",
    "cover-goods",
    "split-lots",
    "listed-address",
    "megaspeed-capacity",
    "chiplet-sum",
    "d5-no-licence",
    "failed-check",
)
"""The planted schemes (``labels.csv`` ``scheme``)."""
DECOYS = (
    "hk-payer-only",
    "residential-only",
    "new-company-only",
    "forwarder-only",
    "inconclusive-only",
    "hub-route-only",
    "unknown-brand-only",
    "hospital-medical",
    "boxed-visit-only",
    "affiliated-supplier-only",
    "three-forwarders-only",
    "invoice-party-only",
    "serial-not-issued-only",
)
"""One-signal decoys (``kind`` ``decoy``): none may be held."""

START = dt.date(2025, 1, 1)
SPAN_DAYS = 360

# catalogue id: (HS6 as declared, description, unit kg, unit price USD, brand)
GPU = {
    "nvidia-h100-sxm": ("854231", "NVIDIA H100 SXM GPU accelerator", 3.0, 38000, "NVIDIA"),
    "nvidia-h200": ("854231", "NVIDIA H200 GPU accelerator", 3.2, 40000, "NVIDIA"),
    "nvidia-a100-sxm": ("854231", "NVIDIA A100 GPU accelerator", 2.8, 15000, "NVIDIA"),
    "nvidia-h100-pcie": ("847330", "NVIDIA H100 PCIe graphics card", 2.5, 30000, "NVIDIA"),
    "nvidia-l4": ("847330", "NVIDIA L4 inference card", 1.0, 2500, "NVIDIA"),
    "nvidia-l40s": ("847330", "NVIDIA L40S GPU card", 1.8, 9000, "NVIDIA"),
    "amd-mi300x": ("854231", "AMD Instinct MI300X accelerator", 3.0, 15000, "AMD"),
    "nvidia-rtx-4090": ("847330", "GeForce RTX 4090 graphics card", 2.2, 1800, "NVIDIA"),
}
LEGIT_CHIPS = ("nvidia-h100-sxm", "nvidia-h200", "nvidia-a100-sxm", "nvidia-l40s", "amd-mi300x", "nvidia-l4")
SERVER = ("847150", "GPU server, 8x NVIDIA B200", "nvidia-b200", 8, 140.0, 380000)
OTHER_GOODS = (
    # HS6, description, unit kg, unit price, naics of the usual buyer
    ("901890", "medical apparatus, patient monitors", 12.0, 4000, "622110"),
    ("850440", "power supplies", 4.0, 300, "335999"),
    ("847130", "laptop computers", 2.0, 1100, "423430"),
    ("853710", "control panels", 25.0, 2500, "333994"),
    ("940540", "LED luminaires", 3.0, 120, "423610"),
    ("841480", "industrial compressors", 90.0, 6000, "333912"),
)
HUBS = ("SG", "MY", "AE", "TH")
LEGIT_COUNTRIES = ("US", "DE", "JP", "GB", "FR", "IN", "KR", "CA", "NL", "AU", "IL", "BR")
EXPORTERS = (
    ("Northstar Systems Distribution Inc", "US"),
    ("Pacific Compute Supply LLC", "US"),
    ("Redwood Server Works Inc", "US"),
    ("Lakeshore Components Corp", "US"),
    ("Formosa Server Manufacturing Co", "TW"),
    ("Hsinchu Board Assembly Ltd", "TW"),
    ("Hanbit Electronics Co Ltd", "KR"),
    ("Atlantic Med Devices Inc", "US"),
)
AFFILIATE = ("Auravis Server Technologies Inc", "US")
"""The supplier of the Megaspeed-like scheme: a US server maker owned by a listed firm (as Aivres is by Inspur)."""
CARRIERS = ("Global Freight Lines", "Oceanic Logistics", "Skybridge Cargo", "Continental Express")
REGISTRY_MAKERS = ("NVIDIA", "AMD", "Supermicro")
"""The makers of the synthetic issued-serials registry (``serial_registry.csv``): every serial the generator
issues (``SN`` and nine digits, in order) is in their range; planted and decoy serials outside it are not."""
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "163.com", "qq.com")

_NAME_TRIES = 200
"""Random names tried before a name is numbered (never reached below a few million shipments)."""
_SYL = (
    "ar", "bel", "cor", "dan", "el", "fen", "gar", "hol", "ir", "jun", "kel", "lor", "mar", "nor", "or", "pel",
    "quin", "ros", "sel", "tor", "ul", "var", "wen", "xan", "yor", "zel",
)  # fmt: skip
_PINYIN = ("xin", "long", "hua", "tian", "sheng", "feng", "jin", "zhong", "hong", "kai", "rui", "bao", "yuan", "wei")
_STREETS = ("Harbour Road", "Jalan Ampang", "Sukhumvit Road", "Sheikh Zayed Road", "Market Street", "Orchard Road")
CITY = {
    "SG": "Singapore",
    "MY": "Kuala Lumpur",
    "AE": "Dubai",
    "TH": "Bangkok",
    "HK": "Hong Kong",
    "CN": "Shenzhen",
    "US": "San Jose",
    "DE": "Frankfurt",
    "JP": "Tokyo",
    "GB": "London",
    "FR": "Paris",
    "IN": "Mumbai",
    "KR": "Seoul",
    "CA": "Toronto",
    "NL": "Amsterdam",
    "AU": "Sydney",
    "IL": "Tel Aviv",
    "BR": "Sao Paulo",
    "ID": "Jakarta",
    "VN": "Hanoi",
    "MO": "Macau",
}


@dataclass
class Party:
    id: str
    name: str
    country: str
    address: str
    address_type: str = "commercial"
    incorporated: str = ""
    website: str = ""
    email_domain: str = ""
    naics: str = ""
    parent_country: str = ""
    is_forwarder: bool = False
    site_mw: float | None = None
    site_visit: str = ""
    parent: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "country": self.country,
            "address": self.address,
            "address_type": self.address_type,
            "incorporated": self.incorporated,
            "website": self.website,
            "email_domain": self.email_domain,
            "naics": self.naics,
            "parent_country": self.parent_country,
            "is_forwarder": "true" if self.is_forwarder else "false",
            "site_mw": "" if self.site_mw is None else f"{self.site_mw:g}",
            "site_visit": self.site_visit,
            "parent": self.parent,
        }


@dataclass
class Made:
    """What ``generate`` wrote."""

    shipments: Path
    parties: Path
    labels: Path
    lists: Path
    counts: dict[str, int] = field(default_factory=dict)
    registry: Path | None = None
    """The issued-serials registry (``--serial-registry``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "shipments": str(self.shipments),
            "parties": str(self.parties),
            "labels": str(self.labels),
            "lists": str(self.lists),
            "serial_registry": str(self.registry) if self.registry else None,
            "counts": self.counts,
        }


class _World:
    def __init__(
        self, rng: random.Random, terms: random.Random | None = None, more: random.Random | None = None
    ) -> None:
        self.rng = rng
        self.terms = terms or random.Random(0)  # noqa: S311 - payment terms and support: a stream of their own
        self.more = more or random.Random(1)  # noqa: S311 - the signals added later: a stream of their own
        self._affiliate: Party | None = None
        self.parties: list[Party] = []
        self.names: set[str] = set()
        self.shipments: list[dict[str, Any]] = []
        self.labels: list[dict[str, Any]] = []
        self.serial_no = 0
        self.listed: list[dict[str, Any]] = []

    # ------------------------------------------------------------ parties

    def name(self, suffix: str) -> str:
        for _ in range(_NAME_TRIES):
            stem = "".join(self.rng.choice(_SYL) for _ in range(self.rng.randint(2, 3))).capitalize()
            word = self.rng.choice(("Tech", "Compute", "Trading", "Digital", "Global", "Systems", "Data", "Link"))
            text = f"{stem} {word} {suffix}"
            if text not in self.names:
                self.names.add(text)
                return text
        return self._numbered(f"{stem} {word}", suffix)

    def _numbered(self, stem: str, suffix: str) -> str:
        """A name when the syllables are nearly used up (millions of shipments): the last one tried, numbered."""
        n = 2
        while f"{stem} {n} {suffix}" in self.names:
            n += 1
        text = f"{stem} {n} {suffix}"
        self.names.add(text)
        return text

    def affiliate(self) -> tuple[str, str]:
        """The exporter owned by a listed firm (F17's supplier arm): made, with its listed parent, on first use."""
        if self._affiliate is None:
            parent = self.listed_name()
            self.listed.append(
                {
                    "name": parent, "aliases": [], "country": "China", "address": self.address("CN"),
                    "status": None, "effective_date": "2023-03-02", "federal_register": "88 FR 12983 (synthetic)",
                    "notes": "For all items subject to the EAR (synthetic entry)",
                }
            )  # fmt: skip
            self._affiliate = self.party(
                "E", AFFILIATE[1], name=AFFILIATE[0], incorporated="2021-05-01", naics="334111", parent=parent,
                parent_country="CN",
            )  # fmt: skip
        return AFFILIATE

    def listed_name(self) -> str:
        """A name for a synthetic Entity List entry, from other syllables than the parties' names."""
        for _ in range(_NAME_TRIES):
            stem = "".join(self.rng.choice(_PINYIN) for _ in range(2)).capitalize()
            city = self.rng.choice(("Shenzhen", "Beijing", "Shanghai", "Hefei"))
            text = f"{city} {stem} Microelectronics Co Ltd"
            if text not in self.names:
                self.names.add(text)
                return text
        # 784 such names: 10^7 shipments plant thousands of listed entries
        return self._numbered(f"{city} {stem} Microelectronics", "Co Ltd")

    def address(self, country: str) -> str:
        number = self.rng.randint(1, 2000)
        unit = self.rng.randint(1, 40)
        floor = self.rng.randint(1, 30)
        return f"{number} {self.rng.choice(_STREETS)}, #{unit:02d}-{floor:02d}, {CITY.get(country, country)}"

    def party(self, prefix: str, country: str, suffix: str = "Ltd", **kw: Any) -> Party:
        name = kw.pop("name", None) or self.name(suffix)
        domain = kw.pop("email_domain", None)
        if domain is None:
            domain = "".join(ch for ch in name.lower() if ch.isalnum())[:40] + ".com"
        website = kw.pop("website", None)
        if website is None:
            website = "https://www." + domain
        p = Party(
            id=f"{prefix}-{len(self.parties) + 1:06d}",
            name=name,
            country=country,
            address=kw.pop("address", None) or self.address(country),
            website=website,
            email_domain=domain,
            **kw,
        )
        self.parties.append(p)
        return p

    def old_date(self) -> str:
        return dt.date(self.rng.randint(1995, 2019), self.rng.randint(1, 12), self.rng.randint(1, 28)).isoformat()

    def new_date(self) -> str:
        return (dt.date(2023, 1, 1) + dt.timedelta(days=self.rng.randint(0, 600))).isoformat()

    # ------------------------------------------------------------ shipments

    def day(self, lo: int = 0, hi: int = SPAN_DAYS) -> dt.date:
        return START + dt.timedelta(days=self.rng.randint(lo, hi))

    def serials(self, n: int) -> list[str]:
        out = []
        for _ in range(n):
            self.serial_no += 1
            out.append(f"SN{self.serial_no:09d}")
        return out

    def ship(
        self,
        kind: str,
        consignee: Party,
        *,
        scheme: str = "",
        network: str = "",
        signals: str = "",
        chip: str | None = None,
        qty: int | None = None,
        route: str | None = None,
        payer: Party | None = None,
        payer_name: str | None = None,
        payer_country: str | None = None,
        when: dt.date | None = None,
        exporter: tuple[str, str] | None = None,
        **over: Any,
    ) -> dict[str, Any]:
        rng = self.rng
        exporter = exporter or rng.choice(EXPORTERS[:7])
        row: dict[str, Any] = {c: "" for c in SHIPMENT_COLUMNS}
        row["id"] = f"S{len(self.shipments) + 1:08d}"
        row["date"] = (when or self.day()).isoformat()
        row["exporter"], row["exporter_country"] = exporter
        row["consignee_id"] = consignee.id
        if chip == "server":
            hs, desc, product, _per, kg, price = SERVER
            n = qty or rng.choice((1, 2, 4, 8))
            row.update(hs_code=hs, description=desc, product=product, brand="Supermicro", quantity=n)
            row["value_usd"] = round(n * price * rng.uniform(0.9, 1.15), 2)
            row["gross_kg"] = round(n * kg * rng.uniform(0.95, 1.05), 1)
        elif chip is not None:
            hs, desc, kg, price, brand = GPU[chip]
            n = qty or rng.choice((8, 8, 16, 16, 32, 64, 128, 256))
            row.update(hs_code=hs, description=desc, product=chip, brand=brand, quantity=n)
            row["value_usd"] = round(n * price * rng.uniform(0.85, 1.2), 2)
            row["gross_kg"] = round(n * kg * rng.uniform(0.95, 1.1), 1)
        route = route or f"{exporter[1]}>{consignee.country}"
        row["route"] = route
        row["forwarder"] = rng.choice(CARRIERS) if rng.random() < 0.6 else ""
        if payer is not None:
            row["payer_name"], row["payer_country"] = payer.name, payer.country
        else:
            row["payer_name"] = payer_name if payer_name is not None else consignee.name
            row["payer_country"] = payer_country if payer_country is not None else consignee.country
        row["end_use_check"] = "none"
        # ordinary terms (F19 oddities are planted through ``over``); a stream of its own keeps the rest unchanged
        row["payment_terms"] = self.terms.choice(("open_account", "letter_of_credit", "deposit"))
        row["support"] = self.terms.choice(("accepted", "accepted", "not_offered")) if chip is not None else ""
        # the bill of lading's notify party and the invoice's buyer are the consignee; nothing changed after booking
        row["notify_party"] = row["invoice_party"] = consignee.name
        row["booking_change"] = "none"
        row.update(over)
        self.shipments.append(row)
        self.labels.append(
            {"shipment": row["id"], "kind": kind, "scheme": scheme, "network": network, "signals": signals}
        )
        return row


def _legit(w: _World, n_compute: int, n_other: int) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Legitimate traffic, one shipment at a time (not kept: 10^7 rows are written without holding them)."""
    rng = w.rng
    hub_dcs = [
        w.party(
            "P",
            c,
            "Pte Ltd" if c == "SG" else "Sdn Bhd" if c == "MY" else "LLC" if c == "AE" else "Co Ltd",
            incorporated=w.old_date(),
            naics="518210",
            site_mw=float(rng.choice((20, 37, 45, 67, 90, 120, 150))),
        )
        for c in HUBS
        for _ in range(15)
    ]
    buyers = [
        w.party(
            "P",
            rng.choice(LEGIT_COUNTRIES),
            "Inc",
            incorporated=w.old_date(),
            naics=rng.choice(("518210", "541512", "611310", "541715", "517111")),
            site_mw=float(rng.choice((5, 10, 20, 40, 80, 200))),
        )
        for _ in range(300)
    ]
    others: list[tuple[Party, tuple[str, str, float, int, str]]] = []
    for _ in range(2000):
        goods = rng.choice(OTHER_GOODS)
        country = rng.choice((*LEGIT_COUNTRIES, *HUBS, "MX", "VN", "ID", "PL", "ZA"))
        others.append((w.party("P", country, "Ltd", incorporated=w.old_date(), naics=goods[4], site_mw=None), goods))
    for i in range(n_compute):
        hub = i % 5 < 2  # 40 % of the compute traffic to hub data centres
        consignee = rng.choice(hub_dcs if hub else buyers)
        chip = rng.choice(LEGIT_CHIPS) if rng.random() < 0.9 else "server"
        qty = rng.choice((8, 16, 16, 32, 64, 128, 256)) if chip != "server" else rng.choice((1, 2, 4, 8))
        serial_list = w.serials(min(qty, 4)) if rng.random() < 0.2 else []
        missing = rng.random() < 0.1
        w.ship(
            "legit-hub" if hub else "legit",
            consignee,
            chip=chip,
            qty=qty,
            serials=";".join(serial_list),
            end_use_check="passed" if hub else "none",
            payer_name="" if missing else consignee.name,
            payer_country="" if missing else consignee.country,
        )
        yield w.shipments.pop(), w.labels.pop()
    for _ in range(n_other):
        consignee, goods = rng.choice(others)
        hs, desc, kg, price, _naics = goods
        qty = rng.randint(1, 60)
        missing = rng.random() < 0.1
        w.ship(
            "background",
            consignee,
            exporter=rng.choice(EXPORTERS),
            hs_code=hs if rng.random() > 0.02 else hs[:4] + "00",  # drift: some codes declared at heading level
            description=desc,
            product=desc,
            brand="",
            quantity=qty,
            value_usd=round(qty * price * rng.uniform(0.8, 1.25), 2),
            gross_kg=round(qty * kg * rng.uniform(0.9, 1.1), 1),
            payer_name="" if missing else consignee.name,
            payer_country="" if missing else consignee.country,
        )
        yield w.shipments.pop(), w.labels.pop()


def _front(w: _World, country: str, suffix: str = "Ltd", **kw: Any) -> Party:
    kw.setdefault("incorporated", w.new_date())
    kw.setdefault("naics", "423430")
    return w.party("P", country, suffix, **kw)


def _schemes(w: _World, instances: int) -> None:
    rng = w.rng
    for k in range(instances):
        # ALX-like: forwarder consignee in SG/MY formed after Oct 2022, "computer parts", HK/CN payer, repeat lots
        # (ALX used several SG/MY forwarders: three of them, paid by the same payer within 90 days, F12)
        net = f"alx-{k:03d}"
        hub = rng.choice(("SG", "MY"))
        fwds = [
            _front(
                w, hub, "Logistics Pte Ltd" if hub == "SG" else "Logistik Sdn Bhd", is_forwarder=True, naics="488510"
            )
            for _ in range(3)
        ]
        payer = _front(w, rng.choice(("HK", "CN")), "Trading Ltd")
        start = rng.randint(0, SPAN_DAYS - 120)
        for lot in range(rng.randint(3, 6)):
            w.ship(
                "planted", fwds[lot % 3], scheme="alx-forwarder", network=net, signals="F2;F4;F5;F6;F9;F12;F19",
                chip="nvidia-h100-sxm", qty=rng.choice((8, 16, 24, 32)), payer=payer,
                when=w.day(start, start + 80), hs_code="847330", description="computer parts",
                payment_terms="prepaid",
            )  # fmt: skip
        # Janford-like: a realtor buying A100s in MY/TH, paid from China, route on to HK
        net = f"janford-{k:03d}"
        hub = rng.choice(("MY", "TH"))
        realtor = _front(w, hub, "Realty Sdn Bhd" if hub == "MY" else "Realty Co Ltd", naics="531210")
        payer = _front(w, "CN", "Trading Co Ltd")
        for _lot in range(rng.randint(2, 4)):
            w.ship(
                "planted", realtor, scheme="janford-realtor", network=net, signals="F18;F4;F9;F15;F19",
                chip="nvidia-a100-sxm", qty=rng.choice((16, 32, 50, 100)), payer=payer,
                route=f"US>{hub}>HK", payment_terms="prepaid", support="declined", invoice_party=payer.name,
            )  # fmt: skip
        # Gatekeeper-like: H200 relabelled with an unknown brand, "electronic components", HK logistics consignee
        net = f"gatekeeper-{k:03d}"
        hk = _front(w, "HK", "Logistics Ltd", is_forwarder=True, naics="488510")
        payer = _front(w, "CN", "Technology Co Ltd")
        for _lot in range(rng.randint(2, 4)):
            w.ship(
                "planted", hk, scheme="gatekeeper-relabel", network=net, signals="F13;F2;F5;F4",
                chip="nvidia-h200", qty=rng.choice((8, 16, 32)), payer=payer, route="US>HK",
                brand="SANDKYAN", hs_code="854239", description="electronic components",
                serials=";".join(f"SK{w.more.randrange(10**8):08d}" for _ in range(4)),
            )  # fmt: skip
        # Supermicro-like: the same serials in two lots of servers to a SE Asian intermediary for an end user
        net = f"supermicro-{k:03d}"
        hub = rng.choice(("SG", "MY"))
        mid = _front(w, hub, "Pte Ltd" if hub == "SG" else "Sdn Bhd", incorporated=w.old_date())
        user = _front(w, rng.choice(("ID", "VN")), "PT" if rng.random() < 0.5 else "JSC")
        serial_list = w.serials(4)
        when = w.day(0, SPAN_DAYS - 60)
        for lot in range(2):
            w.ship(
                "planted", mid, scheme="supermicro-serials", network=net, signals="F13;F4;F5;F10",
                chip="server", qty=4, end_user_id=user.id, route=f"US>{hub}>{user.country}",
                serials=";".join(serial_list), when=when + dt.timedelta(days=20 * lot),
            )  # fmt: skip
        # Cover goods: "medical apparatus" at compute value per kg to an IT reseller, via SG to MY
        net = f"cover-{k:03d}"
        reseller = _front(w, "MY", "Sdn Bhd", naics="423430")
        for _lot in range(rng.randint(1, 2)):
            w.ship(
                "planted", reseller, scheme="cover-goods", network=net, signals="F20;F3;F4",
                hs_code="901890", description="medical apparatus", product="medical apparatus", brand="",
                quantity=1, value_usd=round(rng.uniform(1.8e6, 2.4e6), 2), gross_kg=round(rng.uniform(100, 140), 1),
                route="US>SG>MY",
            )  # fmt: skip
        # Split lots: 12 lots of 7 GPUs in 30 days to four firms at one virtual office
        net = f"split-{k:03d}"
        hub = rng.choice(("MY", "SG", "TH"))
        office = w.address(hub)
        firms = [
            _front(
                w,
                hub,
                "Trading",
                address=office,
                address_type="virtual",
                website="",
                email_domain="gmail.com",
                incorporated=w.old_date(),
            )
            for _ in range(4)
        ]
        start = rng.randint(0, SPAN_DAYS - 30)
        for lot in range(12):
            w.ship(
                "planted", firms[lot % 4], scheme="split-lots", network=net, signals="F12;F7",
                chip="nvidia-h100-pcie", qty=7, when=w.day(start, start + 29),
            )  # fmt: skip
        # A new company name at an Entity List address
        net = f"listed-{k:03d}"
        country = rng.choice(("CN", "HK", "AE", "MY", "SG"))
        listed_address = w.address(country)
        w.listed.append(
            {
                "name": w.listed_name(),
                "aliases": [],
                "country": {"CN": "China", "HK": "Hong Kong", "AE": "United Arab Emirates", "MY": "Malaysia",
                            "SG": "Singapore"}[country],
                "address": listed_address,
                "status": None,
                "effective_date": "2024-06-12",
                "federal_register": "89 FR 51644 (synthetic)",
                "notes": "For all items subject to the EAR (synthetic entry)",
            }
        )  # fmt: skip
        shell = _front(w, country, "Ltd", address=listed_address.upper().replace(",", ""))
        for _lot in range(rng.randint(1, 2)):
            w.ship(
                "planted", shell, scheme="listed-address", network=net, signals="hard-stop:address;F6",
                chip=rng.choice(("nvidia-l40s", "nvidia-a100-sxm")), qty=rng.choice((8, 16)),
            )  # fmt: skip
        # Megaspeed-like: a small documented site ordering far more than it can power, check inconclusive; a site
        # visit found the kit still boxed, and the supplier is owned by a listed firm (as Aivres by Inspur)
        net = f"megaspeed-{k:03d}"
        site = _front(
            w, "MY", "Sdn Bhd", naics="518210", site_mw=float(rng.choice((0.5, 1.0))), incorporated=w.old_date(),
            site_visit="boxed",
        )  # fmt: skip
        payer = _front(w, "HK", "Holdings Ltd")
        supplier = w.affiliate()
        for _lot in range(rng.randint(2, 3)):
            w.ship(
                "planted", site, scheme="megaspeed-capacity", network=net, signals="F10;F14;F9;F19;F17",
                chip="nvidia-h100-sxm", qty=rng.choice((1024, 2048)), payer=payer, end_use_check="inconclusive",
                support="declined", exporter=supplier,
            )  # fmt: skip
        # Chiplet workaround: uncontrolled dies whose TPP adds up to controlled packages, to two linked firms
        net = f"chiplet-{k:03d}"
        payer = _front(w, "HK", "Semiconductor Ltd")
        pair = [_front(w, rng.choice(("SG", "MY")), "Pte Ltd") for _ in range(2)]
        for lot in range(4):
            qty = rng.choice((200, 300, 400))
            w.ship(
                "planted", pair[lot % 2], scheme="chiplet-sum", network=net, signals="F21;F9;F6",
                hs_code="854231", description="integrated circuits, processor dies",
                product="compute die, TPP 1200", brand="", quantity=qty,
                value_usd=round(qty * rng.uniform(1200, 1600), 2), gross_kg=round(qty * 0.05, 1), payer=payer,
            )  # fmt: skip
        # Controlled chips straight to China without a licence
        net = f"d5-{k:03d}"
        cn = _front(w, rng.choice(("CN", "CN", "MO")), "Technology Co Ltd", incorporated=w.old_date())
        w.ship(
            "planted", cn, scheme="d5-no-licence", network=net, signals="hard-stop:d5;F4",
            chip=rng.choice(("nvidia-h100-sxm", "nvidia-a100-sxm")), qty=rng.choice((8, 16)),
            route=f"US>HK>{cn.country}",
        )  # fmt: skip
        # A failed end-use check
        net = f"failed-{k:03d}"
        hub = rng.choice(HUBS)
        firm = _front(w, hub, "Ltd")
        w.ship(
            "planted", firm, scheme="failed-check", network=net, signals="hard-stop:check;F6",
            chip="nvidia-h100-sxm", qty=rng.choice((16, 32)), end_use_check="failed",
        )  # fmt: skip


def _decoys(w: _World, per_kind: int) -> None:
    rng = w.rng

    def clean(country: str, **kw: Any) -> Party:
        kw.setdefault("incorporated", w.old_date())
        kw.setdefault("naics", "518210")
        kw.setdefault("site_mw", float(rng.choice((20, 40, 80))))
        return w.party("P", country, "Ltd", **kw)

    for k in range(per_kind):
        c = rng.choice(LEGIT_COUNTRIES)
        w.ship("decoy", clean(c), scheme="hk-payer-only", network=f"d-hk-{k}", signals="F9",
               chip="nvidia-a100-sxm", payer_name=w.name("Holdings Ltd"), payer_country="HK")  # fmt: skip
        w.ship("decoy", clean(c, address_type="residential"), scheme="residential-only",
               network=f"d-res-{k}", signals="F7", chip="nvidia-l40s")  # fmt: skip
        w.ship("decoy", clean(c, incorporated=w.new_date()), scheme="new-company-only",
               network=f"d-new-{k}", signals="F6", chip="nvidia-l40s", qty=rng.choice((2, 4)))  # fmt: skip
        w.ship("decoy", clean(c, is_forwarder=True, naics="488510", site_mw=None), scheme="forwarder-only",
               network=f"d-fwd-{k}", signals="F5", chip="nvidia-l4", qty=4)  # fmt: skip
        w.ship("decoy", clean(c), scheme="inconclusive-only", network=f"d-inc-{k}", signals="F14",
               chip="nvidia-h100-sxm", end_use_check="inconclusive")  # fmt: skip
        hub = rng.choice(HUBS)
        w.ship("decoy", clean(c), scheme="hub-route-only", network=f"d-hub-{k}", signals="F4",
               chip="nvidia-h100-sxm", route=f"US>{hub}>{c}")  # fmt: skip
        w.ship("decoy", clean(c), scheme="unknown-brand-only", network=f"d-brand-{k}", signals="F13",
               chip="nvidia-l40s", brand="Graphix Pro")  # fmt: skip
        hospital = w.party("P", "MY", "Hospital Sdn Bhd", incorporated=w.old_date(), naics="622110")
        qty = rng.randint(5, 30)
        w.ship("decoy", hospital, scheme="hospital-medical", network=f"d-med-{k}", signals="F4",
               hs_code="901890", description="medical apparatus, patient monitors", product="patient monitors",
               brand="", quantity=qty, value_usd=round(qty * 4000 * rng.uniform(0.9, 1.1), 2),
               gross_kg=round(qty * 12.0, 1), route="US>SG>MY")  # fmt: skip
        _more_decoys(w, k, clean)


def _more_decoys(w: _World, k: int, clean: Any) -> None:
    """The decoys of the signals added later (a site visit, a supplier's owner, forwarders per buyer, documents,
    issued serials), drawn from a random stream of their own so that the rest of the data stays as it was."""
    rng = w.more
    c = rng.choice(LEGIT_COUNTRIES)
    w.ship("decoy", clean(c, site_visit="boxed"), scheme="boxed-visit-only", network=f"d-visit-{k}",
           signals="F10", chip="nvidia-l40s", qty=rng.choice((8, 16)))  # fmt: skip
    w.ship("decoy", clean(c), scheme="affiliated-supplier-only", network=f"d-aff-{k}", signals="F17",
           chip="nvidia-l40s", qty=rng.choice((8, 16)), exporter=w.affiliate())  # fmt: skip
    buyer = clean(c)
    start = rng.randint(0, SPAN_DAYS - 90)
    for lot in range(3):  # three small forwarders (each serving this buyer only) within 90 days
        w.ship("decoy", buyer, scheme="three-forwarders-only", network=f"d-fwds-{k}", signals="F12",
               chip="nvidia-l40s", qty=rng.choice((8, 16)), when=w.day(start, start + 80),
               forwarder=f"Forwarder {buyer.id}-{lot + 1}")  # fmt: skip
    firm = clean(c)
    w.ship("decoy", firm, scheme="invoice-party-only", network=f"d-inv-{k}", signals="F15",
           chip="nvidia-l40s", qty=rng.choice((8, 16)), invoice_party=w.name("Holdings Ltd"))  # fmt: skip
    w.ship("decoy", clean(c), scheme="serial-not-issued-only", network=f"d-sn-{k}", signals="F13",
           chip="nvidia-l40s", qty=4, serials=";".join(f"SN9{rng.randrange(10**8):08d}" for _ in range(4)))  # fmt: skip


def generate(
    out_dir: Path,
    shipments: int,
    *,
    seed: int = 7,
    instances: int | None = None,
    decoys: int = 20,
    parquet: bool = False,
) -> Made:
    """Write synthetic shipments (about ``shipments`` rows: the planted schemes and decoys first, filled up with
    legitimate traffic), parties, labels and the synthetic Entity List to ``out_dir``."""
    if shipments < 0 or (instances or 0) < 0 or decoys < 0:
        raise ValueError("counts must not be negative")
    if instances is None:  # about 1.2 % of the shipments planted, each scheme at least 20 times
        instances = max(20, round(shipments * 0.012 / 32))
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    w = _World(rng, random.Random(seed + 1), random.Random(seed + 2))  # noqa: S311
    _schemes(w, instances)
    _decoys(w, decoys)
    special = list(zip(w.shipments, w.labels, strict=True))
    w.shipments, w.labels = [], []
    rest = max(0, shipments - len(special))
    n_compute = int(rest * 0.4)
    rng.shuffle(special)
    slots = sorted(rng.randint(0, rest) for _ in special)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lists").mkdir(exist_ok=True)
    counts: dict[str, int] = {"shipments": 0}
    label_path = out / "labels.csv"

    def stream(labels: Any) -> Iterator[dict[str, Any]]:
        """Legitimate shipments with the planted ones and decoys at random places; ids in file order; each
        shipment's label written as it goes (neither is kept)."""
        legit = _legit(w, n_compute, rest - n_compute)
        k = 0
        for i in range(rest + 1):
            while k < len(special) and slots[k] == i:
                yield _numbered(special[k], labels, counts)
                k += 1
            if i < rest:
                yield _numbered(next(legit), labels, counts)

    ship_path = out / ("shipments.parquet" if parquet else "shipments.csv")
    with atomic_output(label_path, "w") as handle:
        labels = csv.DictWriter(handle, fieldnames=list(LABEL_COLUMNS), lineterminator="\n")
        labels.writeheader()
        if parquet:
            _write_parquet(ship_path, stream(labels))
        else:
            _write_csv(ship_path, SHIPMENT_COLUMNS, stream(labels))
    party_path = out / "parties.csv"
    _write_csv(party_path, PARTY_COLUMNS, (p.row() for p in w.parties))
    list_path = out / "lists" / "nsfreg_bis_entity_list.json"
    doc = {
        "list_id": "bis-entity-list",
        "source_file": "synthetic (tiergate diversion generate)",
        "extracted": "2026-01-01",
        "count": len(w.listed),
        "entities": w.listed,
    }
    with atomic_output(list_path, "w") as handle:
        handle.write(json.dumps(doc, ensure_ascii=False, indent=1))
    registry = out / "serial_registry.csv"
    last = f"SN{max(w.serial_no, 1):09d}"
    _write_csv(
        registry,
        ("manufacturer", "prefix", "first", "last"),
        ({"manufacturer": m, "prefix": "", "first": "SN000000001", "last": last} for m in REGISTRY_MAKERS),
    )
    counts = {"parties": len(w.parties), "listed": len(w.listed), **counts}
    return Made(ship_path, party_path, label_path, list_path, counts, registry)


def _numbered(pair: tuple[dict[str, Any], dict[str, Any]], labels: Any, counts: dict[str, int]) -> dict[str, Any]:
    """The shipment with its id (the next in file order), its label written."""
    row, label = pair
    counts["shipments"] += 1
    row["id"] = label["shipment"] = f"S{counts['shipments']:08d}"
    labels.writerow(label)
    key = label["scheme"] or label["kind"]
    counts[key] = counts.get(key, 0) + 1
    return row


def _write_csv(path: Path, columns: tuple[str, ...], rows: Iterator[dict[str, Any]]) -> None:
    with atomic_output(path, "w") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def _write_parquet(path: Path, rows: Iterator[dict[str, Any]], batch: int = 200_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def col(chunk: list[dict[str, Any]], name: str) -> Any:
        values = [r[name] for r in chunk]
        if name == "quantity":
            return pa.array([int(v) if v != "" else None for v in values], pa.int64())
        if name in ("value_usd", "gross_kg"):
            return pa.array([float(v) if v != "" else None for v in values], pa.float64())
        if name == "date":
            return pa.array([dt.date.fromisoformat(v) for v in values], pa.date32())
        return pa.array([str(v) if v != "" else None for v in values], pa.string())

    schema = pa.schema(
        [
            (
                n,
                pa.int64()
                if n == "quantity"
                else pa.float64()
                if n in ("value_usd", "gross_kg")
                else pa.date32()
                if n == "date"
                else pa.string(),
            )
            for n in SHIPMENT_COLUMNS
        ]
    )
    with atomic_output(path, "wb") as handle, pq.ParquetWriter(handle, schema) as writer:
        chunk: list[dict[str, Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                writer.write_table(pa.table({n: col(chunk, n) for n in SHIPMENT_COLUMNS}, schema=schema))
                chunk = []
        if chunk:
            writer.write_table(pa.table({n: col(chunk, n) for n in SHIPMENT_COLUMNS}, schema=schema))
