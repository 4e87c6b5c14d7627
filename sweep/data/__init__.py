"""Data stage: read sources (Ray Data) → harmonise → validate/quarantine → dedup → split.

`prepare(spec)` returns the splits as numpy arrays plus the data report; Parquet is read
once per sweep and the arrays then travel to trials by reference (runner's job).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import DataError
from ..spec import DatasetSpec
from . import bundled
from .clean import clean, count
from .read import check_source, collect, quiet_ray_data
from .split import SPLITS, fingerprint, stratified


@dataclass
class Prepared:
    features: list[str]
    label: str
    X: dict[str, np.ndarray]            # split → 2-D float array
    y: dict[str, np.ndarray]            # split → 1-D labels
    report: dict                         # data_report.json
    quarantine: pa.Table
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> dict[str, str]:
        return {s: self.report["splits"][s]["fingerprint"] for s in SPLITS}


def ensure_bundled(spec: DatasetSpec) -> bool:
    """Write a bundled dataset's sources on first use. True when written now."""
    if spec.bundled == "digits":
        return bundled.write_digits({s.name: s.path for s in spec.sources})
    return False


def check_sources(spec: DatasetSpec) -> list[tuple]:
    """Paths exist and hold the required columns (footers only): errors before any work."""
    return [(s, check_source(s, spec)) for s in spec.sources]


def prepare(spec: DatasetSpec, sources_files: list | None = None) -> Prepared:
    t0 = time.perf_counter()
    sources_files = sources_files or check_sources(spec)
    quiet_ray_data()
    table = collect(spec, sources_files)
    cleaned = clean(table, spec)
    kept = cleaned.kept
    if kept.num_rows == 0:
        raise DataError(f"dataset {spec.name!r}: no row survived validation "
                        f"({_reasons_summary(cleaned.report)}); check the sources against the spec")
    features = spec.feature_names()
    label = spec.label.column
    y_all = kept.column(label).to_numpy(zero_copy_only=False)
    hashes = kept.column("_hash").to_numpy()
    sp = spec.split
    assign = stratified(y_all, hashes, (sp.train, sp.validation, sp.test), sp.seed)
    X_all = np.column_stack([kept.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
                             for c in features])
    X, y, splits_report = {}, {}, {}
    for k, name in enumerate(SPLITS):
        m = assign == k
        X[name] = np.ascontiguousarray(X_all[m])
        y[name] = y_all[m]
        part = kept.filter(pa.array(m))
        splits_report[name] = {
            "rows": int(m.sum()),
            "label_counts": count(part, label),
            "fingerprint": fingerprint(hashes[m]),
        }
        if m.sum() == 0:
            raise DataError(f"dataset {spec.name!r}: the {name} split is empty ({kept.num_rows} rows kept); "
                            "raise its fraction in split or add data")
    warnings: list[str] = []
    totals = {k: sum(r[k] for r in cleaned.report.values())
              for k in ("rows_read", "rows_kept", "rows_quarantined", "rows_duplicate")}
    report = {
        "dataset": spec.name,
        "sources": cleaned.report,
        "totals": totals,
        "splits": splits_report,
        "features": features,
        "label": label,
        "warnings": warnings,
    }
    return Prepared(features, label, X, y, report, cleaned.quarantine,
                    time.perf_counter() - t0, warnings)


def rare_class_warnings(report: dict, min_rung: int) -> list[str]:
    """Classes too rare for the smallest sample of the ladder (fewer than ~2 rows expected)."""
    out = []
    train = report["splits"]["train"]
    for cls, c in train["label_counts"].items():
        expected = c * min_rung / max(train["rows"], 1)
        if expected < 2:
            out.append(f"class {cls} has {c} training rows: about {expected:.1f} in the smallest "
                       f"sample ({min_rung} rows); raise the smallest sample size")
    return out


def summary_line(report: dict, seconds: float) -> str:
    t = report["totals"]
    splits = ", ".join(f"{k} {v['rows']}" for k, v in report["splits"].items())
    return (f"data: {t['rows_read']} rows read from {len(report['sources'])} sources in {seconds:.1f} s: "
            f"{t['rows_kept']} kept, {t['rows_quarantined']} quarantined, {t['rows_duplicate']} duplicates "
            f"-> {splits}")


def write_quarantine(prepared: Prepared, folder: Path) -> Path | None:
    """RUN/quarantine/rows.parquet: every rejected row with its source, file and reason."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rows.parquet"
    tmp = folder / ".rows.parquet.tmp"
    q = prepared.quarantine.drop_columns([c for c in ("_hash", "_fhash") if c in prepared.quarantine.column_names])
    pq.write_table(q, tmp)
    tmp.replace(path)
    return path


def _reasons_summary(report: dict) -> str:
    reasons: dict[str, int] = {}
    for r in report.values():
        for k, v in r["rows_quarantined_by_reason"].items():
            reasons[k] = reasons.get(k, 0) + v
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
    return ", ".join(f"{k}: {v}" for k, v in top) or "no rows read"


__all__ = ["Prepared", "prepare", "ensure_bundled", "check_sources", "write_quarantine", "rare_class_warnings",
           "summary_line", "SPLITS"]
