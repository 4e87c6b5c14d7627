"""Text tables of the frontier (terminal and TensorBoard) — pure formatting."""

from __future__ import annotations

import json

import pandas as pd


def describe_params(params_json: str) -> str:
    params = json.loads(params_json) if isinstance(params_json, str) else {}
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "-"


def frontier_rows(front: pd.DataFrame, metric: str, time: str) -> list[dict]:
    """One row per frontier member: `*` marks the knee, `~` a member tied (within noise on both
    axes) with its group's representative; both axes with their 95% half-widths."""
    rows = []
    for _, r in front.iterrows():
        tied = r.get("tied_with")
        row = {
            "knee": "*" if r.get("is_knee") else ("~" if isinstance(tied, str) and tied else ""),
            "config_id": _ids(r["config_id"]),
            "architecture": r["architecture"],
            "parameters": describe_params(r.get("params_json", "{}")),
            "n_train": int(r["n_train"]),
            f"val_{metric}": _with_ci(r, f"val_{metric}", 4),
            time: _with_ci(r, time, 3),
        }
        if f"test_{metric}" in front.columns and pd.notna(r.get(f"test_{metric}")):
            row[f"test_{metric}"] = f"{r[f'test_{metric}']:.4f}"
        rows.append(row)
    return rows


def _ids(ids: str) -> str:
    parts = str(ids).split(";")
    return parts[0] if len(parts) == 1 else f"{parts[0]} (+{len(parts) - 1} seeds)"


def _with_ci(row, col: str, digits: int) -> str:
    ci = row.get(f"{col}_ci")
    text = f"{row[col]:.{digits}f}"
    return text + (f" ± {ci:.{digits}f}" if ci is not None and pd.notna(ci) and ci > 0 else "")


def text_table(rows: list[dict], max_width: int = 48) -> str:
    if not rows:
        return "(empty)"
    cols = list(rows[0])
    cells = [[str(r.get(c, ""))[:max_width] for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join([line, sep, *body])


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(empty)"
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(out)
