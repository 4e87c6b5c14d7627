#!/usr/bin/env python3
"""LCDB benchmark: the adaptive rule and the halving rule replayed on published learning curves.

    python benchmarks/lcdb.py [PARQUET] [--tables N] [--policy pareto,halving] [--cores N]
                              [--set key=value ...] [--part all|heldout|tune] [--per-table]

PARQUET (default ../shared/data/lcdb-curves.parquet from the repository root) holds LCDB's
curves (shared/data/README.md): one (openmlid, outer_seed, inner_seed) is one exhaustive sweep
table, one configuration per learner (its architecture), its rungs the learner's training-set
sizes. On every table:
- the rule: sweep.prune.simulate (policy="pareto", the shipped parameters unless `--set`
  changes one) on `--cores` simulated workers (default 2), configurations in the table's
  order (learners by name);
- halving: sweep.prune.halving (top ceil(n/3) by validation accuracy per rung);
- hv_ratio: the fitted points' hypervolume over the exhaustive table's, in (validation
  accuracy, log10 train time) with reference point (the table's worst validation accuracy,
  2 x its slowest fit) (sweep.pareto.hypervolume, as benchmarks/pruning.py);
- compute_ratio: train time fitted over the exhaustive table's sum (as benchmarks/pruning.py);
- dominated_by_halving: halving's hv ratio >= the rule's and its compute ratio <= the rule's,
  one of them strictly.
The held-out part: datasets whose sha256(str(openmlid)) is 0 mod 5 (about a fifth; the rule
was tuned on the other four fifths, `--part tune`). The last line is one JSON object: the
figures on all tables under the issue's names (`lcdb_hv_ratio_median`, ...), the same with
`_all` and `_heldout` (and `_tune`) suffixes, and the halving rule's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT = REPO.parent / "shared" / "data" / "lcdb-curves.parquet"
TABLE_KEY = ["openmlid", "outer_seed", "inner_seed"]


def heldout(openmlid: int) -> bool:
    """The held-out part: about a fifth of the datasets, by a hash of the OpenML id."""
    return int(hashlib.sha256(str(int(openmlid)).encode()).hexdigest(), 16) % 5 == 0


def load_tables(path, n: int | None = None, part: str = "all"):
    """[(key, table)]: one exhaustive sweep table per (openmlid, outer_seed, inner_seed), in the
    columns sweep.prune.simulate reads; with `n`, the first n tables by key (of the part)."""
    import pandas as pd

    d = pd.read_parquet(path, columns=TABLE_KEY + ["learner", "size_train", "traintime", "score_valid"])
    if part != "all":
        keep = d["openmlid"].map(heldout)
        d = d[keep if part == "heldout" else ~keep]
    d = d.sort_values(TABLE_KEY + ["learner", "size_train"], kind="stable")
    out = []
    for key, g in d.groupby(TABLE_KEY, sort=True):
        t = pd.DataFrame({"config_id": g["learner"].str.rsplit(".", n=1).str[-1].to_numpy(),
                          "architecture": g["learner"].to_numpy(), "n_train": g["size_train"].to_numpy(int),
                          "val_accuracy": g["score_valid"].to_numpy(float),
                          "train_time_s": g["traintime"].to_numpy(float)})
        out.append((tuple(int(k) for k in key), t))
        if n is not None and len(out) >= n:
            break
    return out


def judge_table(table, policies, cores: int, rule: dict) -> dict:
    from sweep.pareto import hypervolume
    from sweep.prune import halving, simulate

    col = "val_accuracy"
    ref_m, ref_t = float(table[col].min()), 2 * float(table["train_time_s"].max())
    full = hypervolume(table[col], table["train_time_s"], ref_m, ref_t)
    total = float(table["train_time_s"].sum())
    out = {"configs": int(table["config_id"].nunique()), "pairs": int(len(table))}
    for label in policies:
        got = halving(table) if label == "halving" else simulate(table, cores=cores, policy=label, **rule)
        fit = got[got["fitted"]]
        out[f"{label}_hv_ratio"] = hypervolume(fit[col], fit["train_time_s"], ref_m, ref_t) / full if full > 0 else 1.0
        out[f"{label}_compute_ratio"] = float(fit["train_time_s"].sum() / total) if total > 0 else 1.0
    if "pareto" in policies and "halving" in policies:
        r = (out["pareto_hv_ratio"], out["pareto_compute_ratio"])
        h = (out["halving_hv_ratio"], out["halving_compute_ratio"])
        out["dominated_by_halving"] = bool(h[0] >= r[0] and h[1] <= r[1] and (h[0] > r[0] or h[1] < r[1]))
    return out


def summary(rows: list[dict], label: str) -> dict:
    """The figures over rows for one policy: median, 5th percentile and worst hv ratio, the
    compute ratio's median and worst, and the tables halving dominates."""
    if not rows:
        return {}
    hv = np.array([r[f"{label}_hv_ratio"] for r in rows])
    comp = np.array([r[f"{label}_compute_ratio"] for r in rows])
    out = {"tables": len(rows), "hv_ratio_median": round(float(np.median(hv)), 4),
           "hv_ratio_p05": round(float(np.percentile(hv, 5)), 4), "hv_ratio_worst": round(float(hv.min()), 4),
           "compute_ratio_median": round(float(np.median(comp)), 4),
           "compute_ratio_worst": round(float(comp.max()), 4)}
    if "dominated_by_halving" in rows[0] and label == "pareto":
        out["dominated_by_halving"] = int(sum(r["dominated_by_halving"] for r in rows))
    return out


def _value(s: str):
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    return s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parquet", nargs="?", default=str(DEFAULT))
    ap.add_argument("--tables", type=int, default=None, help="the first N tables only (a quick run)")
    ap.add_argument("--policy", default="pareto,halving", help="comma-separated: pareto, halving, none")
    ap.add_argument("--cores", type=int, default=2, help="simulated workers (default 2)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a rule parameter (sweep.prune.Rule) other than its default")
    ap.add_argument("--part", choices=("all", "heldout", "tune"), default="all")
    ap.add_argument("--per-table", action="store_true", help="print every table's figures")
    args = ap.parse_args(argv)
    policies = [p for p in args.policy.split(",") if p]
    rule = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}

    t0 = time.perf_counter()
    tables = load_tables(args.parquet, args.tables, args.part)
    rows = []
    for key, t in tables:
        r = dict(zip(TABLE_KEY, key), heldout=heldout(key[0]), **judge_table(t, policies, args.cores, rule))
        rows.append(r)
        if args.per_table:
            print(f"  {key}: " + ", ".join(f"{p} hv {r[f'{p}_hv_ratio']:.4f} at {r[f'{p}_compute_ratio']:.3f}"
                                           for p in policies)
                  + ("  (halving dominates)" if r.get("dominated_by_halving") else ""), flush=True)
    wall = time.perf_counter() - t0
    parts = {"all": rows, "heldout": [r for r in rows if r["heldout"]], "tune": [r for r in rows if not r["heldout"]]}
    out = {"cores": args.cores, "rule": rule, "tables": len(rows), "wall_s": round(wall, 1)}
    for p in policies:
        for part, rs in parts.items():
            s = summary(rs, p)
            if s:
                print(f"{p:8s} {part:8s} {s['tables']:5d} tables: hv ratio median {s['hv_ratio_median']:.4f}, "
                      f"p05 {s['hv_ratio_p05']:.4f}, worst {s['hv_ratio_worst']:.4f}; compute ratio median "
                      f"{s['compute_ratio_median']:.3f}, worst {s['compute_ratio_worst']:.3f}"
                      + (f"; halving dominates {s['dominated_by_halving']}" if "dominated_by_halving" in s else ""),
                      flush=True)
            prefix = "lcdb" if p == "pareto" else f"lcdb_{p}"
            for k, v in s.items():
                out[f"{prefix}_{k}_{part}"] = v
                if part == "all":
                    out[f"{prefix}_{k}"] = v
    if "pareto" in policies:
        worst = sorted(rows, key=lambda r: r["pareto_hv_ratio"])[:5]
        out["lcdb_worst_tables"] = [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                                    for r in worst]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
