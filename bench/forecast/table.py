#!/usr/bin/env python3
"""Turns the JSON lines of run.sh (forecastbench and bench.R) into the markdown
table of docs/FORECASTING.md. Usage: table.py FILE.jsonl... > table.md"""
import json
import sys

NAMES = {
    "building_b9_kwh": "Cambridge b9",
    "building_b57_kwh": "Cambridge b57",
    "building_b36_kwh": "Cambridge b36",
    "building_b40_kwh": "Cambridge b40",
    "site_load_kwh": "Konstanz household load",
    "pv_kwh": "Konstanz PV",
    "load_mw": "PJM DUQ zone load",
}
GRIDD = {"auto": "gridd"}

rows = {}
for path in sys.argv[1:]:
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        m = GRIDD.get(d["method"], d["method"])
        rows.setdefault(d["series"], {})[(m, d["origins"])] = d

cols = ["gridd", "naive", "R_stlf", "R_ets"]
# Only the columns some input holds.
cols = [c for c in cols if any(k[0] == c for r in rows.values() for k in r)]
print("| series | origins | " + " | ".join(f"{c} WAPE / MASE / cov." for c in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for series, name in NAMES.items():
    if series not in rows:
        continue
    for n in sorted({k[1] for k in rows[series]}, reverse=True):
        cells = []
        for c in cols:
            d = rows[series].get((c, n))
            cells.append("—" if d is None else f"{d['wape']:.3f} / {d['mase']:.3f} / {100 * d['coverage']:.0f} %")
        print(f"| {name} | {n} | " + " | ".join(cells) + " |")
