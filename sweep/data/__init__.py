"""Data stage: read sources (Ray Data) → harmonise → validate/quarantine → dedup → split.

`prepare(spec)` returns the splits as numpy arrays plus the data report; Parquet is read
once per sweep and the arrays then travel to trials by reference (runner's job).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import DataError, DataRuleError
from ..spec import DatasetSpec
from . import bundled
from .clean import clean
from .read import check_source, collect, quiet_ray_data
from . import split as splitting
from .split import SPLITS, fingerprint


@dataclass
class Prepared:
    features: list[str]
    label: str
    X: dict[str, np.ndarray]            # split → 2-D float array
    y: dict[str, np.ndarray]            # split → 1-D labels
    report: dict                         # data_report.json
    quarantine: pa.Table
    seconds: float = 0.0
    t: dict[str, np.ndarray] | None = None  # split → time of each row (datasets with `time`)

    @property
    def fingerprint(self) -> dict[str, str]:
        return {s: self.report["splits"][s]["fingerprint"] for s in SPLITS}

    @property
    def trial_data(self) -> dict[str, np.ndarray]:
        """What a fit and its scoring need (sweep.trainable): the training and validation splits."""
        return {"X_train": self.X["train"], "y_train": self.y["train"],
                "X_val": self.X["validation"], "y_val": self.y["validation"]}


def ensure_bundled(spec: DatasetSpec) -> bool:
    """Write a bundled dataset's sources on first use. True when written now."""
    if spec.bundled == "digits":
        return bundled.write_digits({s.name: s.path for s in spec.sources})
    if spec.bundled == "penguins":
        return bundled.write_penguins({s.name: s.path for s in spec.sources})
    if spec.bundled == "drift_demo":
        from . import synthetic
        return synthetic.write_drift(spec.sources[0].path, **synthetic.DEMO)
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
    del table  # its blocks are pinned in the object store while referenced: let them go
    kept = cleaned.kept
    if kept.num_rows == 0:
        raise DataError(f"dataset {spec.name!r}: no row survived validation "
                        f"({_reasons_summary(cleaned.report)}); check the sources against the spec")
    features = spec.feature_names()
    label = spec.label.column
    assign = assign_splits(kept, spec)
    # Rows grouped by split (a stable sort keeps their order within a split), written column
    # by column into one array: each split is a contiguous slice of it, with no second copy.
    order = np.argsort(assign, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(assign, minlength=len(SPLITS)))])
    X_sorted = np.empty((kept.num_rows, len(features)), dtype=np.float64)
    columns = spec.expanded_columns()
    for j, c in enumerate(features):
        X_sorted[:, j] = feature_values(kept.column(c), columns[c])[order]
    y_sorted = kept.column(label).to_numpy(zero_copy_only=False)[order]
    hashes = kept.column("_hash").to_numpy()[order]
    times = kept.column(spec.time).to_numpy(zero_copy_only=False)[order] if spec.time else None
    X, y, t_split, splits_report = {}, {}, {}, {}
    for k, name in enumerate(SPLITS):
        a, b = int(bounds[k]), int(bounds[k + 1])
        if a == b:
            raise DataError(f"dataset {spec.name!r}: the {name} split is empty ({kept.num_rows} rows kept); "
                            "raise its fraction in split, or add data")
        X[name] = X_sorted[a:b]
        y[name] = y_sorted[a:b]
        if times is not None:
            t_split[name] = times[a:b]
        splits_report[name] = {
            "rows": b - a,
            "label_counts": _counts(y[name]) if spec.task == "classification" else {},
            "fingerprint": fingerprint(hashes[a:b]),
        }
        mask = pa.array(assign == k) if spec.time or spec.group else None
        if spec.time:
            t = kept.column(spec.time).filter(mask)
            splits_report[name]["time_range"] = [str(pc.min(t).as_py()), str(pc.max(t).as_py())]
        if spec.group:
            splits_report[name]["groups"] = int(pc.count_distinct(kept.column(spec.group).filter(mask)).as_py())
    imputed = [j for j, c in enumerate(features) if columns[c].missing == "impute"]
    imputed_report = {name: {features[j]: int(np.isnan(X[name][:, j]).sum()) for j in imputed}
                      for name in SPLITS} if imputed else None
    warnings: list[str] = []
    totals = {k: sum(r[k] for r in cleaned.report.values())
              for k in ("rows_read", "rows_kept", "rows_quarantined", "rows_duplicate")}
    for name, r in cleaned.report.items():
        if r["rows_read"] == 0:
            warnings.append(f"source {name!r} has no rows")
    report = {
        "dataset": spec.name,
        "split_method": spec.split.method,
        "read_tasks": sum(len(files) for _, files in sources_files),  # one Ray Data task per file
        **({"groups_total": int(pc.count_distinct(kept.column(spec.group)).as_py())} if spec.group else {}),
        "sources": cleaned.report,
        "totals": totals,
        "splits": splits_report,
        "features": features,
        **({"categorical": {c: [str(v) for v in columns[c].category_values()]
                            for c in features if columns[c].is_categorical()}}
           if any(columns[c].is_categorical() for c in features) else {}),
        **({"imputed": imputed_report} if imputed_report is not None else {}),
        "label": label,
        "warnings": warnings,
    }
    check_rules(spec, report)
    if not spec.rules.fatal:
        warnings.extend(f"data rule (not fatal): {f}" for f in report["rule_failures"])
    return Prepared(features, label, X, y, report, cleaned.quarantine, time.perf_counter() - t0,
                    t_split if times is not None else None)


def feature_values(column: pa.ChunkedArray, spec_column) -> np.ndarray:
    """A feature column as float64: numbers as they are; a categorical column (declared
    categories, or a bool) as the index of its value among the declared categories — fixed
    by the spec, never learned from the data, so every split encodes alike; NaN when missing."""
    if spec_column.is_categorical():
        values = pa.array(spec_column.category_values(), type=column.type)
        codes = pc.index_in(column, value_set=values)
        return codes.to_numpy(zero_copy_only=False).astype(np.float64)
    return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _counts(values: np.ndarray) -> dict:
    """{str(value): count} of a split's labels, ordered by the string (data_report.json's label_counts)."""
    v, c = np.unique(values, return_counts=True)
    return {str(k.item() if isinstance(k, np.generic) else k): int(n)
            for k, n in sorted(zip(v, c), key=lambda kv: str(kv[0].item() if isinstance(kv[0], np.generic) else kv[0]))}


def assign_splits(kept: pa.Table, spec: DatasetSpec) -> np.ndarray:
    """0 train / 1 validation / 2 test for each kept row, by the spec's split method."""
    sp = spec.split
    fractions = (sp.train, sp.validation, sp.test)
    if sp.method == "time":
        return splitting.by_time(kept.column(spec.time).to_numpy(zero_copy_only=False), fractions)
    if sp.method == "group":
        return splitting.by_group(kept.column(spec.group).to_numpy(zero_copy_only=False), fractions, sp.seed)
    labels = kept.column(spec.label.column).to_numpy(zero_copy_only=False)
    bins = 10 if spec.task == "regression" else None
    return splitting.stratified(labels, kept.column("_fhash").to_numpy(), fractions, sp.seed, bins)


def check_rules(spec: DatasetSpec, report: dict) -> None:
    """Evaluate the spec's data rules into report["rule_failures"] (enforce_rules acts on them)."""
    rules = spec.rules
    failures = []
    if rules.max_quarantined_fraction is not None:
        for name, r in report["sources"].items():
            frac = r["rows_quarantined"] / r["rows_read"] if r["rows_read"] else 0.0
            if frac > rules.max_quarantined_fraction:
                failures.append(f"source {name!r}: {frac:.1%} of rows quarantined, over the rule's "
                                f"max_quarantined_fraction {rules.max_quarantined_fraction:g}")
    if rules.min_rows_kept is not None and report["totals"]["rows_kept"] < rules.min_rows_kept:
        failures.append(f"{report['totals']['rows_kept']} rows kept, under the rule's min_rows_kept "
                        f"{rules.min_rows_kept}")
    report["rule_failures"] = failures


def enforce_rules(spec: DatasetSpec, report: dict) -> None:
    """A failed rule marked fatal raises DataRuleError (exit 3)."""
    failures = report.get("rule_failures", [])
    if failures and spec.rules.fatal:
        raise DataRuleError(f"dataset {spec.name!r}: data rule failed: {failures[0]}"
                            + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else "")
                            + "; fix the sources or relax 'rules' in the dataset spec")


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
    import os
    import tempfile

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rows.parquet"
    fd, name = tempfile.mkstemp(prefix=".rows.parquet.", suffix=".tmp", dir=folder)  # O_EXCL: no planted link
    os.close(fd)
    q = prepared.quarantine.drop_columns([c for c in ("_hash", "_fhash") if c in prepared.quarantine.column_names])
    try:
        pq.write_table(q, name)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return path


def _reasons_summary(report: dict) -> str:
    reasons: dict[str, int] = {}
    for r in report.values():
        for k, v in r["rows_quarantined_by_reason"].items():
            reasons[k] = reasons.get(k, 0) + v
    top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
    return ", ".join(f"{k}: {v}" for k, v in top) or "no rows read"


__all__ = ["Prepared", "prepare", "ensure_bundled", "check_sources", "write_quarantine", "rare_class_warnings",
           "enforce_rules", "check_rules", "assign_splits",
           "summary_line", "SPLITS"]
