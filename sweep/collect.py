"""The run's tables from its ledger: trials (one row per fitted (config_id, rung), one
`param_<name>` column per hyperparameter), stopped.csv and skipped.csv."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import ledger
from .grid import Configuration
from .rundir import LEDGER

TRIAL_COLUMNS = ["config_id", "group_id", "trial_id", "architecture", "estimator"]
TAIL_COLUMNS = ["train_time_s", "train_cpu_s", "predict_time_s", "train_time_spread", "timings", "measure_s",
                "noise_cv", "status", "node_id", "error", "finished_at_s"]
ROWS = "val_rows"  # a record's validation rows (sweep.uncertainty): in the ledger, not the table


def collect_results(run_dir: Path, configs: list[Configuration]) -> pd.DataFrame:
    """trials table from the ledger: one row per (config_id, rung) with docs/design.md's columns."""
    records, skipped = ledger.read(run_dir / LEDGER)
    if skipped:
        print(f"warning: {skipped} torn or unreadable ledger line(s) ignored", file=sys.stderr)
    by_id = {c.config_id: c for c in configs}
    latest = ledger.latest(records)
    rows = []
    for (cid, rung), rec in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if rec.get("status") == "stopped":
            continue  # a decision not to fit, not a fitted pair: see collect_stops
        cfg = by_id.get(cid)
        row = {
            "config_id": cid, "group_id": rec.get("group_id"), "trial_id": rec.get("trial_id", ""),
            "architecture": rec.get("architecture"),
            "estimator": cfg.estimator if cfg else rec.get("estimator", ""),
            "params": rec.get("params", {}), "seed": rec.get("seed"), "rung": rung,
            "n_train": rec.get("n_train"),
        }
        row.update({k: v for k, v in rec.items() if k.startswith("val_") and k != ROWS})
        row.update({k: rec.get(k) for k in TAIL_COLUMNS})
        rows.append(row)
    return trials_frame(rows)


SKIPPED_COLUMNS = ["config_id", "group_id", "architecture", "rung", "n_train", "params_json"]


def collect_skipped(run_dir: Path) -> pd.DataFrame:
    """The pairs a --time-budget left unstarted (status skipped_budget), one row each."""
    records, _ = ledger.read(run_dir / LEDGER)
    rows = [{"config_id": r["config_id"], "group_id": r.get("group_id"), "architecture": r.get("architecture"),
             "rung": int(r["rung"]), "n_train": int(r["rung"]), "params_json": json.dumps(r.get("params", {}), sort_keys=True)}
            for r in ledger.budget_skipped(records).values()]
    return pd.DataFrame(rows, columns=SKIPPED_COLUMNS).sort_values(["config_id", "rung"], ignore_index=True)


STOP_COLUMNS = ["config_id", "group_id", "architecture", "stopped_after", "next_rung", "reason", "params_json"]


def collect_stops(run_dir: Path) -> pd.DataFrame:
    """The stopped configurations (sweep.referee), one row each: the rung it stopped after,
    the rung it did not fit, and the reason (RUN/stopped.csv)."""
    records, _ = ledger.read(run_dir / LEDGER)
    rows = [{"config_id": r["config_id"], "group_id": r.get("group_id"), "architecture": r.get("architecture"),
             "stopped_after": r.get("stopped_after"), "next_rung": int(r["rung"]), "reason": r.get("reason", ""),
             "params_json": json.dumps(r.get("params", {}), sort_keys=True)}
            for r in ledger.latest(records).values() if r.get("status") == "stopped"]
    return pd.DataFrame(rows, columns=STOP_COLUMNS).sort_values("config_id", ignore_index=True)


def trials_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows (with a `params` dict each) → the trials table, one `param_<name>` per hyperparameter.

    A parameter column is numeric when every value given is a number; otherwise each value
    is written as JSON text (None → "null", tuples/lists → "[64, 32]"), never dropped.
    """
    if not rows:
        return pd.DataFrame(columns=TRIAL_COLUMNS + ["seed", "rung", "n_train"] + TAIL_COLUMNS)
    names = sorted({k for r in rows for k in r["params"]})
    df = pd.DataFrame([{k: v for k, v in r.items() if k != "params"} for r in rows])
    for name in names:
        vals = [r["params"].get(name, _ABSENT) for r in rows]
        given = [v for v in vals if v is not _ABSENT]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given)
        col = [np.nan if v is _ABSENT else v for v in vals] if numeric else \
              [None if v is _ABSENT else json.dumps(v) for v in vals]
        df[f"param_{name}"] = pd.Series(col, dtype="float64" if numeric else "string")
    df["params_json"] = [json.dumps(r["params"], sort_keys=True) for r in rows]
    metric_cols = sorted(c for c in df.columns if c.startswith("val_"))
    order = (TRIAL_COLUMNS + [f"param_{n}" for n in names] + ["seed", "rung", "n_train"]
             + metric_cols + TAIL_COLUMNS + ["params_json"])
    df = df[[c for c in order if c in df.columns]]
    for c in ("seed", "rung", "n_train"):
        df[c] = df[c].astype("int64")
    return df


_ABSENT = object()
