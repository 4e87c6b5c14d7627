"""Interactive figures (plotly), drawn from points computed elsewhere; inlined in report.html.

The Pareto figure holds exactly one marker per point (one trace per architecture); the
frontier is a line without markers and the knee a star-shaped marker of its own point,
so the figure's data can be checked against trials.parquet.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

# Above this many points the Pareto figure draws dominated points compactly (scattergl, no
# per-point text): report.html stays small and quick to open with tens of thousands of points.
COMPACT_ABOVE = 2000


def script_json(obj) -> str:
    """`obj` as JSON that is safe inside an HTML <script>: <, > and & as \\u escapes, so no
    string in it can close the script, open a comment (`<!--`) or start a tag (json.dumps
    already escapes every non-ASCII character, the line separators among them)."""
    return json.dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def pareto_figure(points: pd.DataFrame, front: pd.DataFrame, metric: str, time: str, maximise: bool,
                  not_separable: set | None = None) -> dict:
    col = f"val_{metric}"
    front_keys = _keys(front)
    knee_keys = _keys(front[front["is_knee"]]) if "is_knee" in front else set()
    tied_keys = _keys(front[front["tied_with"].fillna("") != ""]) if "tied_with" in front else set()
    bars = _bars(front, col, time)
    not_separable = not_separable or set()
    traces = []
    compact = len(points) > COMPACT_ABOVE
    for arch, g in points.groupby("architecture", sort=True):
        keys = [(c, int(r)) for c, r in zip(g["config_id"].astype(str), g["rung"])]
        on_front = np.array([k in front_keys for k in keys], dtype=bool)
        knee = [k in knee_keys for k in keys]
        shaded = [k in not_separable for k in keys]
        detail = on_front | np.array(shaded, dtype=bool) if compact else np.ones(len(g), dtype=bool)
        if (~detail).any():  # many points: the dominated ones drawn compactly (WebGL, no per-point text)
            d = g[~detail]
            traces.append({
                "type": "scattergl", "mode": "markers", "name": f"{arch} (dominated)",
                "x": _round(d[time]), "y": _round(d[col]),
                "customdata": [[k[0], k[1]] for k, f in zip(keys, detail) if not f],
                "hovertemplate": str(arch) + " %{customdata[0]} n_train=%{customdata[1]}<br>" + col +
                                 "=%{y:.4f}<br>" + time + "=%{x:.4g}s<extra></extra>",
                "marker": {"size": 5, "symbol": "circle", "opacity": 0.5}})
        g, sel = g[detail], np.flatnonzero(detail)
        keys, knee, shaded = [keys[i] for i in sel], [knee[i] for i in sel], [shaded[i] for i in sel]
        front_flags = [bool(on_front[i]) for i in sel]
        if not len(g):
            continue
        tied = [k in tied_keys for k in keys]
        ex = [bars.get(k, (0.0, 0.0))[1] for k in keys]
        ey = [bars.get(k, (0.0, 0.0))[0] for k in keys]
        traces.append({
            "type": "scatter", "mode": "markers", "name": str(arch),
            "x": g[time].tolist(), "y": g[col].tolist(),
            "customdata": [[c, int(r)] for c, r in keys],
            "text": [f"{arch} {c} n_train={int(n)}<br>{p}" for (c, _), n, p in
                     zip(keys, g["n_train"], g.get("params_json", pd.Series([""] * len(g))))],
            "hovertemplate": "%{text}<br>" + col + "=%{y:.4f}<br>" + time + "=%{x:.4g}s<extra></extra>",
            "error_x": {"type": "data", "array": _round(ex), "visible": True, "thickness": 1, "width": 2},
            "error_y": {"type": "data", "array": _round(ey), "visible": True, "thickness": 1, "width": 2},
            "marker": {"size": [16 if k else 9 for k in knee],
                       "symbol": ["star" if k else ("diamond" if t else "circle") for k, t in zip(knee, tied)],
                       "opacity": [0.35 if s else 0.85 for s in shaded],
                       "line": {"width": [2 if f else 0 for f in front_flags], "color": "black"}},
        })
    f = front[front["on_estimate_frontier"]] if "on_estimate_frontier" in front else front
    f = f.sort_values(time)
    traces.append({"type": "scatter", "mode": "lines", "name": "frontier", "line": {"shape": "hv", "color": "black"},
                   "x": f[time].tolist(), "y": f[col].tolist(), "hoverinfo": "skip"})
    layout = {"title": {"text": "Pareto frontier (star: knee; outlined: frontier members, diamond: tied within "
                            "noise; bars: 95% intervals; faded: not separable)"},
              "xaxis": {"type": "log", "title": {"text": f"{time} (log)"}},
              "yaxis": {"title": {"text": f"validation {metric} ({'higher' if maximise else 'lower'} is better)"}},
              "height": 560, "legend": {"orientation": "h", "y": -0.22}}
    return {"data": traces, "layout": layout}


def _bars(front: pd.DataFrame, col: str, time: str) -> dict:
    """{(config_id, rung): (metric half-width, time half-width)} of the frontier's members."""
    mc = front[f"{col}_ci"] if f"{col}_ci" in front else pd.Series(0.0, index=front.index)
    tc = front[f"{time}_ci"] if f"{time}_ci" in front else pd.Series(0.0, index=front.index)
    out = {}
    for cs, r, a, b in zip(front["config_id"].astype(str), front["rung"], mc.fillna(0.0), tc.fillna(0.0)):
        for cid in cs.split(";"):
            out[(cid, int(r))] = (float(a), float(b))
    return out


def _keys(front: pd.DataFrame) -> set:
    """(config_id, rung) of each frontier point; a point over several seeds names them all."""
    return {(cid, int(r)) for cs, r in zip(front["config_id"].astype(str), front["rung"]) for cid in cs.split(";")}


def curves_figures(curves: pd.DataFrame, slopes: pd.DataFrame, metric: str, time: str,
                   top: int | None = None) -> tuple[dict, dict]:
    """(learning curves, cost curves) with 95% error bars (zero with one seed). A curve that
    ends before the top rung `top` (its configurations stopped early) ends in a cross and
    says so in its name."""
    col = f"val_{metric}"
    slope = dict(zip(slopes["architecture"], slopes["slope"]))
    learn, cost = [], []
    for arch, c in curves.groupby("architecture", sort=True):
        x = c["n_train"].tolist()
        early = top is not None and x and x[-1] < top
        symbols = ["circle"] * (len(x) - 1) + ["x" if early else "circle"]
        learn.append({"type": "scatter", "mode": "lines+markers", "x": x, "y": c[col].tolist(),
                      "name": f"{arch} (stopped after n={x[-1]})" if early else str(arch),
                      "marker": {"symbol": symbols, "size": [6] * (len(x) - 1) + [11 if early else 6]},
                      "error_y": {"type": "data", "array": c[f"{col}_ci"].tolist(), "visible": True}})
        cost.append({"type": "scatter", "mode": "lines+markers", "x": x, "y": c[time].tolist(),
                     "name": f"{arch} (slope {slope.get(arch, float('nan')):.2f})",
                     "error_y": {"type": "data", "array": c[f"{time}_ci"].tolist(), "visible": True}})
    lf = {"data": learn, "layout": {"title": {"text": "Learning curves (best configuration per architecture)"},
                                    "xaxis": {"title": {"text": "n_train"}},
                                    "yaxis": {"title": {"text": f"validation {metric}"}}, "height": 420}}
    cf = {"data": cost, "layout": {"title": {"text": "Cost curves (log-log; slope: the median of its configurations' growth)"},
                                   "xaxis": {"type": "log", "title": {"text": "n_train"}},
                                   "yaxis": {"type": "log", "title": {"text": time}}, "height": 420}}
    return lf, cf


def hypervolume_figure(curve: pd.DataFrame, ref: str) -> dict:
    """The hypervolume against compute as a step line: only the points where it rises (and
    the last), so the figure's size follows the frontier's changes, not the point count."""
    hv = curve["hypervolume"].to_numpy()
    keep = np.ones(len(hv), dtype=bool)
    if len(hv) > 1:
        keep[1:-1] = hv[1:-1] != hv[:-2]
    steps = curve[keep]
    return {"data": [{"type": "scatter", "mode": "lines", "line": {"shape": "hv"},
                      "x": _round(steps["compute_s"]), "y": _round(steps["hypervolume"]), "name": "hypervolume"}],
            "layout": {"title": {"text": f"Hypervolume against compute spent (reference {ref})"},
                       "xaxis": {"title": {"text": "cumulative train_time_s"}},
                       "yaxis": {"title": {"text": "hypervolume (metric × log10 s)"}}, "height": 380}}


def _round(values, digits: int = 6) -> list:
    """Values to `digits` significant digits (what a figure can show), NaN as None."""
    out = []
    for v in np.asarray(values, dtype=float):
        out.append(None if not np.isfinite(v) else float(f"{v:.{digits}g}"))
    return out


def embed(div_id: str, figure: dict) -> str:
    """A div and the script that draws `figure` into it (plotly.js must be inlined once)."""
    payload = script_json(figure)
    return (f'<div id="{div_id}" class="figure"></div><script>(function(){{var fig={payload};'
            f'window.SWEEP_FIGURES=window.SWEEP_FIGURES||{{}};window.SWEEP_FIGURES["{div_id}"]=fig;'
            f'Plotly.newPlot("{div_id}",fig.data,fig.layout,{{responsive:true}});}})();</script>')


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs
    return get_plotlyjs()
