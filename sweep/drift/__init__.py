"""Drift over time windows: per column statistics, flags, change point, recommendation.

Computation only (the report draws it). For every feature and the label, each pair of
consecutive windows and the oldest against the newest window are compared: PSI plus the
two-sample KS test (numeric) or the chi-square test (categorical; classification labels).
All p-values of one analysis form one family and are corrected together (Holm–Bonferroni
by default, `drift.correction` in the dataset spec). A comparison is flagged when its
corrected p-value is under `alpha` AND its PSI is at least `psi_threshold`: significant
and large enough to matter. The change point is the latest window boundary with a flagged
consecutive comparison; "retrain on the most recent K windows" counts the windows from it
to the newest. Profiling is not scoring: it reads every kept row's features, label and
time, never a model's predictions on the test split.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError
from ..spec import DatasetSpec
from ..spec.dataset import Drift
from . import stats, windows
from .windows import label as window_label

DRIFT_FILE = "drift.json"


def analyse(columns: dict[str, np.ndarray], kinds: dict[str, str], times: np.ndarray,
            settings: Drift = Drift(), label: str | None = None,
            time_column: str = "time") -> tuple[dict, np.ndarray]:
    """(the drift result, a JSON-able dict; the window index of each row).

    `columns` are aligned with `times`; `kinds` says "numeric" or "categorical" per column;
    `label` names the column that is the label (reported apart from the features).
    """
    w, info, per_value = windows.assign(times, settings.windows)
    n = len(info)
    if n < 2:
        raise DataError(f"the time column {time_column!r} holds {len(info)} distinct window(s) of time; "
                        "drift needs at least 2: add data from more times")
    pairs = [(i, i + 1, "consecutive") for i in range(n - 1)]
    if n > 2:
        pairs.append((0, n - 1, "oldest_newest"))
    members = [np.flatnonzero(w == i) for i in range(n)]
    rows = []
    for name, values in columns.items():
        values = np.asarray(values)
        kind = kinds[name]
        for a, b, comparison in pairs:
            ref, cur = _present(values[members[a]]), _present(values[members[b]])
            stat = p = psi = math.nan
            if len(ref) >= 2 and len(cur) >= 2:
                if kind == "numeric":
                    stat, p = stats.ks(ref, cur)
                    psi = stats.psi_numeric(ref, cur, settings.psi_bins)
                else:
                    stat, p = stats.chi2(ref, cur)
                    psi = stats.psi_categorical(ref, cur)
            rows.append({"column": name, "role": "label" if name == label else "feature", "kind": kind,
                         "test": "ks" if kind == "numeric" else "chi2", "ref": a, "cur": b,
                         "comparison": comparison, "statistic": stat, "p": p, "psi": psi})
    adjusted = stats.adjust(np.array([r["p"] for r in rows]), settings.correction)
    for r, pa in zip(rows, adjusted):
        r["p_adjusted"] = float(pa)
        r["flagged"] = bool(pa < settings.alpha and r["psi"] >= settings.psi_threshold)
    change, gradual = _change_point(rows, n)
    summary = _summary(rows, list(columns), n)
    result = {
        "time_column": time_column,
        "windows": info,
        "one_window_per_time_value": per_value,
        "settings": {**settings.model_dump(), "psi_floor": stats.PSI_FLOOR,
                     "rule": f"flagged when the {settings.correction}-corrected p-value < {settings.alpha:g} "
                             f"and PSI >= {settings.psi_threshold:g}; PSI over {settings.psi_bins} quantile "
                             "bins of the reference (older) window, one bin per category for categorical "
                             "columns; KS for numeric columns, chi-square for categorical ones"},
        "n_tests": int(np.sum(~np.isnan([r["p"] for r in rows]))),
        "columns": summary,
        "flagged_features": [s["column"] for s in summary if s["flagged"] and s["role"] == "feature"],
        "label_flagged": any(s["flagged"] for s in summary if s["role"] == "label"),
        "change_point": change,
        "retrain_windows": None if change is None else n - change,
        "gradual": gradual,
        "comparisons": rows,
    }
    return _json_safe(result), w


def profile(prepared, spec: DatasetSpec) -> tuple[dict, np.ndarray]:
    """Drift over every kept row of a prepared dataset; returns (result, window of each test row)."""
    from ..data import SPLITS

    if spec.time is None or prepared.t is None:
        raise DataError(f"dataset {spec.name!r} has no time column: add 'time: COLUMN' (a declared column, "
                        "e.g. a hive partition key such as day) to the dataset spec to profile drift")
    times = np.concatenate([prepared.t[s] for s in SPLITS])
    X = np.vstack([prepared.X[s] for s in SPLITS])
    cols = spec.expanded_columns()
    columns = {f: X[:, j] for j, f in enumerate(prepared.features)}
    kinds = {f: "categorical" if cols[f].categories is not None or cols[f].type == "bool" else "numeric"
             for f in prepared.features}
    columns[prepared.label] = np.concatenate([prepared.y[s] for s in SPLITS])
    kinds[prepared.label] = "categorical" if spec.task == "classification" else "numeric"
    result, w = analyse(columns, kinds, times, spec.drift, prepared.label, spec.time)
    n_before_test = sum(len(prepared.y[s]) for s in SPLITS[:2])
    return result, w[n_before_test:]


def slice_scores(score, test_windows: np.ndarray, info: list[dict]) -> list[dict]:
    """Per time window of the test split: {window, label, n, <metrics>}; `score(mask)` scores
    the rows under `mask` (one prediction of the test split, cut into slices)."""
    out = []
    for i, w in enumerate(info):
        m = test_windows == i
        if m.sum() == 0:
            continue
        out.append({"window": i, "label": window_label(w), "n": int(m.sum()), **score(m)})
    return out


def recommendation(result: dict, slices: list[dict] | None = None, metric: str = "accuracy",
                   maximise: bool = True) -> str | None:
    """One sentence with its numbers when any feature or the label drifted, else None.

    `slices`: one frontier member's per-slice test scores ({label, test_<metric>}), oldest first.
    """
    if not result["flagged_features"] and not result["label_flagged"]:
        return None
    parts = []
    key = f"test_{metric}"
    scored = [s for s in (slices or []) if s.get(key) is not None and not _nan(s[key])]
    if len(scored) >= 2:
        first, last = scored[0], scored[-1]
        worse = last[key] < first[key] if maximise else last[key] > first[key]
        parts.append(f"test {metric} {'falls' if worse else 'goes'} from {first[key]:.3f} to {last[key]:.3f} "
                     f"across the test slices ({first['label']} to {last['label']})")
    by_col = {s["column"]: s for s in result["columns"]}
    feats = sorted(result["flagged_features"], key=lambda f: -(by_col[f]["max_psi"] or 0))
    if feats:
        shown = feats[:5]
        more = f" and {len(feats) - 5} more" if len(feats) > 5 else ""
        parts.append(f"feature{'s' if len(feats) > 1 else ''} {', '.join(shown)}{more} drifted (PSI "
                     + ", ".join(f"{by_col[f]['max_psi']:.2f}" for f in shown) + ")")
    if result["label_flagged"]:
        lab = next(s for s in result["columns"] if s["role"] == "label")
        parts.append(f"the label distribution drifted (PSI {lab['max_psi']:.2f})")
    k, change = result["retrain_windows"], result["change_point"]
    unit = "partitions" if result["one_window_per_time_value"] else "windows"
    start = result["windows"][change]["start"]
    how = "drift is gradual; the largest step" if result["gradual"] else "the change point"
    parts.append(f"retrain on the most recent {k} {unit} ({result['time_column']} >= {start}; {how} "
                 f"is between {window_label(result['windows'][change - 1])} and "
                 f"{window_label(result['windows'][change])})")
    return "; ".join(parts)


def summary_lines(result: dict) -> list[str]:
    """Console lines: the windows and tests, each flagged column with its numbers, the rest in one line."""
    wins, s = result["windows"], result["settings"]
    feats = [c for c in result["columns"] if c["role"] == "feature"]
    out = [f"drift: {len(feats)} features and the label over {len(wins)} windows of {result['time_column']} "
           f"({window_label(wins[0])} .. {window_label(wins[-1])}); {result['n_tests']} tests, "
           f"{s['correction']} correction, alpha {s['alpha']:g}, PSI threshold {s['psi_threshold']:g}"]
    flagged = [c for c in result["columns"] if c["flagged"]]
    for c in sorted(flagged, key=lambda c: -(c["max_psi"] or 0)):
        after = ", ".join(window_label(wins[i]) for i in c["flagged_windows"]) or "oldest vs newest only"
        out.append(f"  {'label ' if c['role'] == 'label' else ''}{c['column']}: drifted; max PSI {c['max_psi']:.3f}; "
                   f"oldest vs newest: PSI {c['psi_oldest_newest']:.3f}, {c['test']} {c['statistic_oldest_newest']:.3f}, "
                   f"corrected p {c['p_adjusted_oldest_newest']:.2e}; changed at {after}")
    rest = [c for c in result["columns"] if not c["flagged"] and c["max_psi"] is not None]
    if rest:
        top = max(rest, key=lambda c: c["max_psi"])
        out.append(f"  {len(rest)} column(s) not flagged (largest PSI {top['max_psi']:.3f}, {top['column']})")
    return out


def _change_point(rows: list[dict], n: int) -> tuple[int | None, bool]:
    """(index of the first window after the change, gradual?) from the flagged comparisons."""
    consecutive = [r for r in rows if r["flagged"] and r["comparison"] == "consecutive"]
    if consecutive:
        return max(r["cur"] for r in consecutive), False
    drifted = {r["column"] for r in rows if r["flagged"]}
    if not drifted:
        return None, False
    # only the oldest-newest comparison flags: the boundary with the largest summed PSI step
    steps = np.zeros(n)
    for r in rows:
        if r["comparison"] == "consecutive" and r["column"] in drifted and not _nan(r["psi"]):
            steps[r["cur"]] += r["psi"]
    return int(np.argmax(steps[1:]) + 1), True


def _summary(rows: list[dict], names: list[str], n: int) -> list[dict]:
    out = []
    for name in names:
        mine = [r for r in rows if r["column"] == name]
        on = next(r for r in mine if r["ref"] == 0 and r["cur"] == n - 1)
        psis = [r["psi"] for r in mine if not _nan(r["psi"])]
        out.append({"column": name, "role": mine[0]["role"], "kind": mine[0]["kind"], "test": mine[0]["test"],
                    "flagged": any(r["flagged"] for r in mine),
                    "flagged_windows": [r["cur"] for r in mine if r["flagged"] and r["comparison"] == "consecutive"],
                    "psi_oldest_newest": on["psi"], "statistic_oldest_newest": on["statistic"],
                    "p_adjusted_oldest_newest": on["p_adjusted"], "max_psi": max(psis) if psis else math.nan})
    return out


def _present(v: np.ndarray) -> np.ndarray:
    if v.dtype.kind == "f":
        return v[~np.isnan(v)]
    return v


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _json_safe(obj):
    """NaN becomes None (strict JSON), numpy scalars plain Python."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj


__all__ = ["analyse", "profile", "slice_scores", "recommendation", "summary_lines", "DRIFT_FILE"]
