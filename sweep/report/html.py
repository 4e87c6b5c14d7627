"""The self-contained HTML report: every image inlined, no script or request outside the file."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from ..rundir import CURVES_PNG, PARETO_PNG, SKIPPED, STOPPED

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
th{background:#f3f3f3} tr.knee{background:#fff3cd}
pre{background:#f7f7f7;padding:.75rem;overflow:auto;font-size:.8rem}
img{max-width:100%} .note{color:#555;font-size:.9rem}
"""


def _img(path: Path) -> str:
    if not path.exists():
        return "<p class=note>(figure missing)</p>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(rows: list[dict], knee_key: str | None = "knee") -> str:
    if not rows:
        return "<p class=note>(none)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for r in rows:
        cls = ' class="knee"' if knee_key and r.get(knee_key) else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# Rows of a list table (stopped early, failed) shown in the page; the rest are in the file named.
TABLE_ROWS = 200


def _capped(rows: list[dict] | None, where: str) -> str:
    """A list table of at most TABLE_ROWS rows, then a line saying how many more and where."""
    rows = rows or []
    more = len(rows) - TABLE_ROWS
    note = f"<p class=note>… and {more} more: see {html.escape(where)}</p>" if more > 0 else ""
    return _table(rows[:TABLE_ROWS], None) + note


# Nothing may be fetched: scripts and styles are inline, images are data: URIs.
_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
        "img-src data:; font-src data:")
# Errors, CSP violations and any fetched resource are written into the page (for a headless check).
_WATCH = """<script>(function(){var errs=[];window.SWEEP_ERRORS=errs;
function put(m){errs.push(String(m));var e=document.getElementById('sweep-errors');if(e)e.textContent=errs.join('\\n');}
window.addEventListener('error',function(e){put('error: '+e.message);});
window.addEventListener('unhandledrejection',function(e){put('rejection: '+e.reason);});
document.addEventListener('securitypolicyviolation',function(e){put('blocked: '+e.blockedURI);});
var ce=console.error;console.error=function(){put('console.error: '+Array.prototype.join.call(arguments,' '));ce.apply(console,arguments);};
window.addEventListener('load',function(){var s=document.getElementById('sweep-status');
var res=performance.getEntriesByType('resource').map(function(r){return r.name;});
var figs=window.SWEEP_FIGURES||{};var n=0;var p=figs['pareto'];
if(p){p.data.forEach(function(t){if(String(t.mode).indexOf('markers')>=0){n+=t.x.length;}});}
s.setAttribute('data-markers',n);s.setAttribute('data-resources',JSON.stringify(res));
s.setAttribute('data-errors',errs.length);s.setAttribute('data-plotted',
document.querySelectorAll('#pareto .main-svg').length>0?'yes':'no');s.textContent='loaded';});})();</script>"""


def render(run_dir: Path, title: str, frontier_rows: list[dict], trials: pd.DataFrame,
           data_report: dict, manifest: dict, summary: list[str],
           figures: list[tuple[str, dict]] | None = None, plotly_js: str = "", drift_html: str = "",
           stopped_rows: list[dict] | None = None, skipped_rows: list[dict] | None = None) -> str:
    from .interactive import embed
    failed = trials[trials["status"] != "ok"] if not trials.empty else trials
    failed_rows = [{"config_id": r.config_id, "architecture": r.architecture, "rung": r.rung,
                    "status": r.status, "error": r.error} for r in failed.itertuples()]
    src_rows = [{"source": k, **{kk: (json.dumps(vv) if isinstance(vv, dict) else vv) for kk, vv in v.items()}}
                for k, v in data_report.get("sources", {}).items()]
    split_rows = [{"split": k, "rows": v["rows"], "fingerprint": v["fingerprint"],
                   "label_counts": json.dumps(v["label_counts"])}
                  for k, v in data_report.get("splits", {}).items()]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>",
        _WATCH,
        f"<script>{plotly_js}</script>" if plotly_js else "",
        "</head><body>",
        '<div id="sweep-status" hidden></div><pre id="sweep-errors" hidden></pre>',
        f"<h1>{html.escape(title)}</h1>",
        "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in summary) + "</ul>",
        "<h2>Pareto frontier</h2>",
        "<p class=note>Validation metric against training time (wall time of fit alone). "
        "Only these points were scored on the test split, once each; the knee is marked *.</p>",
        _table(frontier_rows),
        *(embed(div, fig) for div, fig in (figures or []) if div == "pareto"),
        "<details><summary>Static image</summary>", _img(run_dir / PARETO_PNG), "</details>",
        "<h2>Learning and cost curves</h2>",
        *(embed(div, fig) for div, fig in (figures or []) if div in ("learning", "cost")),
        "<details><summary>Static image</summary>", _img(run_dir / CURVES_PNG), "</details>",
        "<h2>Hypervolume against compute</h2>",
        *(embed(div, fig) for div, fig in (figures or []) if div == "hypervolume"),
        drift_html,
        *(["<h2>Stopped early</h2>",
           "<p class=note>Configurations the adaptive rule stopped: none of their remaining sample "
           "sizes could reach the frontier (pruning: pareto; sweep run --exhaustive fits every pair).</p>",
           _capped(stopped_rows, STOPPED)] if stopped_rows else []),
        *(["<h2>Not started within the time budget</h2>",
           f"<p class=note>(config_id, rung) pairs the run's --time-budget "
           f"({manifest.get('time_budget_s', 0):g} s) left unstarted (status skipped_budget); "
           "sweep resume RUN fits them.</p>",
           _capped(skipped_rows, SKIPPED)] if skipped_rows else []),
        "<h2>Failed trials</h2>",
        _capped(failed_rows, "trials.csv (status other than ok)"),
        "<h2>Data</h2>",
        "<h3>Sources (rows_read = rows_kept + rows_quarantined + rows_duplicate)</h3>",
        _table(src_rows, None),
        "<h3>Splits</h3>",
        _table(split_rows, None),
        "<h2>Manifest</h2>",
        f"<pre>{html.escape(json.dumps(manifest, indent=2, default=str))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)
