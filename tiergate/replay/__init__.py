"""Policy impact replay: a history of transactions decided under two regimes (or a regime and a proposal),
in date order, each side carrying its allocations forward as the ledger would, and what changed.

- ``engine``: the replay itself (``replay_history``), row by row or column-wise for Parquet histories;
- ``report``: the Replay JSON (totals, transitions, breakdowns, unreplayable rows, provenance);
- ``html``: the offline HTML report (Plotly inlined);
- ``proposal``: proposal packs (``tiergate packs propose``);
- ``timeline``: thresholds over the catalogue's frontier as of each date (``tiergate packs timeline``).
"""
