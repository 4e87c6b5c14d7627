"""Quarantine and de-duplication over harmonised rows, with every row accounted for.

Per source: rows_read = rows_kept + rows_quarantined + rows_duplicate.
- invalid rows (non-empty `_reasons`) are quarantined with their reasons;
- conflicting duplicates (same features, different labels, across or within sources)
  are all quarantined with reason `conflicting_label` (policy `conflicting: quarantine`);
- exact duplicates (same features and label) keep the first row in spec order of the
  sources, so a duplicate across sources is charged to the source listed later.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..spec import DatasetSpec


@dataclass
class Cleaned:
    kept: pa.Table
    quarantine: pa.Table
    report: dict  # per source: rows_read, rows_kept, rows_quarantined, by_reason, rows_duplicate


def clean(table: pa.Table, spec: DatasetSpec) -> Cleaned:
    order = {s.name: i for i, s in enumerate(spec.sources)}
    src = table.column("_source").to_numpy(zero_copy_only=False)
    src_rank = np.array([order[s] for s in src], dtype=np.int64) if len(src) else np.zeros(0, np.int64)
    files = table.column("_file").to_numpy(zero_copy_only=False)
    # A stable order independent of the order read tasks finished in.
    sort_idx = np.lexsort((np.arange(len(src)), files.astype(str), src_rank)) if len(src) else np.zeros(0, np.int64)
    table = table.take(pa.array(sort_idx, type=pa.int64()))
    src = src[sort_idx]
    reasons = table.column("_reasons").to_numpy(zero_copy_only=False).astype(object)
    invalid = reasons != ""

    rhash = table.column("_hash").to_numpy()
    fhash = table.column("_fhash").to_numpy()
    valid = ~invalid
    conflicting = np.zeros(len(src), dtype=bool)
    if spec.dedup.conflicting == "quarantine" and valid.any():
        vi = np.flatnonzero(valid)
        pairs = np.unique(np.stack([fhash[vi], rhash[vi]], axis=1), axis=0)
        f_vals, f_counts = np.unique(pairs[:, 0], return_counts=True)
        bad_f = f_vals[f_counts > 1]
        conflicting[vi] = np.isin(fhash[vi], bad_f)
        reasons = reasons.copy()
        reasons[conflicting] = "conflicting_label"
    survivors = valid & ~conflicting
    duplicate = np.zeros(len(src), dtype=bool)
    if spec.dedup.exact == "drop" and survivors.any():
        si = np.flatnonzero(survivors)
        _, first = np.unique(rhash[si], return_index=True)
        keep = np.zeros(len(si), dtype=bool)
        keep[first] = True
        duplicate[si[~keep]] = True
    kept_mask = survivors & ~duplicate
    quarantined = invalid | conflicting

    report = {}
    for s in spec.sources:
        m = src == s.name
        by_reason: Counter = Counter()
        for r in reasons[m & quarantined]:
            by_reason.update(r.split(";"))
        report[s.name] = {
            "rows_read": int(m.sum()),
            "rows_kept": int((m & kept_mask).sum()),
            "rows_quarantined": int((m & quarantined).sum()),
            "rows_quarantined_by_reason": dict(sorted(by_reason.items())),
            "rows_duplicate": int((m & duplicate).sum()),
        }
    q = table.filter(pa.array(quarantined)).drop_columns(["_reasons"])
    q = q.append_column("_reason", pa.array(reasons[quarantined].tolist(), type=pa.string()))
    kept = table.filter(pa.array(kept_mask))
    return Cleaned(kept=kept, quarantine=q, report=report)


def count(table: pa.Table, column: str) -> dict:
    if table.num_rows == 0:
        return {}
    vc = pc.value_counts(table.column(column)).to_pylist()
    return {str(d["values"]): int(d["counts"]) for d in sorted(vc, key=lambda d: str(d["values"]))}
