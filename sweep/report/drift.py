"""The report's "Drift" section: drawn from RUN/drift.json and the per-slice test scores
(computed in sweep.drift and sweep.report.evaluate; nothing is computed here but layout)."""

from __future__ import annotations

import html
import math

import pandas as pd

from .. import drift as drift_stats
from ..drift.windows import label as window_label


def heatmap_figure(result: dict) -> dict:
    """PSI per column (rows) and comparison (columns); flagged cells marked with *."""
    wins = result["windows"]
    comps = sorted({(r["ref"], r["cur"], r["comparison"]) for r in result["comparisons"]},
                   key=lambda c: (c[2] == "oldest_newest", c[0]))
    xs = [f"{window_label(wins[a])} → {window_label(wins[b])}" + (" (oldest→newest)" if kind == "oldest_newest" else "")
          for a, b, kind in comps]
    names = [c["column"] + (" (label)" if c["role"] == "label" else "") for c in result["columns"]]
    cell = {(r["column"], r["ref"], r["cur"]): r for r in result["comparisons"]}
    z, text = [], []
    for c in result["columns"]:
        rz, rt = [], []
        for a, b, _ in comps:
            r = cell[(c["column"], a, b)]
            rz.append(r["psi"])
            rt.append("" if r["psi"] is None else f"{r['psi']:.2f}{'*' if r['flagged'] else ''}")
        z.append(rz)
        text.append(rt)
    return {"data": [{"type": "heatmap", "z": z, "x": xs, "y": names, "text": text,
                      "texttemplate": "%{text}", "colorscale": "Reds", "zmin": 0,
                      "colorbar": {"title": {"text": "PSI"}},
                      "hovertemplate": "%{y}<br>%{x}<br>PSI %{z:.3f}<extra></extra>"}],
            "layout": {"title": {"text": "Drift per column and window (PSI; * flagged)"},
                       "height": max(320, 22 * len(names) + 160), "xaxis": {"tickangle": -30},
                       "yaxis": {"autorange": "reversed"}, "margin": {"l": 120, "b": 140}}}


def slices_figure(slices: dict[tuple, list[dict]], front: pd.DataFrame, metric: str) -> dict:
    """One line per frontier member: its test metric on each time slice of the test split."""
    names = {}
    for r in front.itertuples():
        for cid in str(r.config_id).split(";"):
            names[(cid, int(r.rung))] = f"{r.architecture} n_train={int(r.n_train)} {cid[:8]}"
    traces = []
    for key, rows in sorted(slices.items(), key=lambda kv: names.get(kv[0], "")):
        traces.append({"type": "scatter", "mode": "lines+markers", "name": names.get(key, key[0][:8]),
                       "x": [s["label"] for s in rows], "y": [s.get(f"test_{metric}") for s in rows],
                       "text": [f"n={s['n']}" for s in rows],
                       "hovertemplate": "%{x}<br>" + metric + "=%{y:.4f} (%{text})<extra></extra>"})
    return {"data": traces,
            "layout": {"title": {"text": f"Test {metric} per time slice of the test split (one line per frontier member)"},
                       "xaxis": {"title": {"text": "time slice", }, "type": "category"},
                       "yaxis": {"title": {"text": f"test {metric}"}}, "height": 420}}


def member_for_advice(front: pd.DataFrame, slices: dict[tuple, list[dict]], metric: str,
                      maximise: bool) -> list[dict] | None:
    """The per-slice scores of the frontier member with the best test score (first seed)."""
    col = f"test_{metric}"
    if front.empty or col not in front or not slices:
        return None
    ranked = front.dropna(subset=[col]).sort_values(col, ascending=not maximise)
    for r in ranked.itertuples():
        key = (str(r.config_id).split(";")[0], int(r.rung))
        if key in slices:
            return slices[key]
    return None


def section(result: dict | None, advice: str | None, figures_html: list[str]) -> str:
    if result is None:
        return ""
    s = result["settings"]
    wins = result["windows"]
    unit = "one per time value" if result["one_window_per_time_value"] else "about equal rows each"
    rows = [{"column": c["column"], "role": c["role"], "test": c["test"],
             "PSI oldest→newest": _f(c["psi_oldest_newest"]), "statistic": _f(c["statistic_oldest_newest"]),
             "p (corrected)": _f(c["p_adjusted_oldest_newest"], "{:.2e}"), "max PSI": _f(c["max_psi"]),
             "flagged after window(s)": ", ".join(window_label(wins[i]) for i in c["flagged_windows"]),
             "flagged": "yes" if c["flagged"] else ""}
            for c in sorted(result["columns"], key=lambda c: (not c["flagged"], -(c["max_psi"] or 0)))]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0]) if rows else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    flagged = result["flagged_features"] + (["label"] if result["label_flagged"] else [])
    verdict = (f"<p><b>Recommendation:</b> {html.escape(advice)}</p>" if advice
               else "<p><b>No drift over the thresholds</b>: no feature and not the label was flagged.</p>")
    return "\n".join([
        "<h2>Drift</h2>",
        verdict,
        f"<p class=note>{len(wins)} windows of {html.escape(result['time_column'])} ({unit}), "
        f"{html.escape(window_label(wins[0]))} to {html.escape(window_label(wins[-1]))}; {result['n_tests']} tests "
        f"(each column: consecutive windows and oldest against newest). Rule: {html.escape(s['rule'])}. "
        f"Correction: {html.escape(s['correction'])} across all {result['n_tests']} tests. "
        f"Flagged: {html.escape(', '.join(flagged) or 'none')}.</p>",
        *figures_html,
        f"<table id=drift-table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>",
    ])


def advice(result: dict | None, front: pd.DataFrame, slices: dict, metric: str, maximise: bool) -> str | None:
    if result is None:
        return None
    return drift_stats.recommendation(result, member_for_advice(front, slices, metric, maximise), metric, maximise)


def _f(v, fmt: str = "{:.3f}") -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)
