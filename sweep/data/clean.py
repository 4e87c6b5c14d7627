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
    # Source and file as small integer codes (not a Python string per row): the driver's
    # memory stays near the table's own size.
    src_codes, src_names = _codes(table.column("_source"))
    file_codes, _ = _codes(table.column("_file"))
    order = {s.name: i for i, s in enumerate(spec.sources)}
    src_rank = np.array([order[n] for n in src_names], dtype=np.int64)[src_codes] if len(src_codes) \
        else np.zeros(0, np.int64)
    # A stable order independent of the order read tasks finished in.
    n = table.num_rows
    sort_idx = np.lexsort((np.arange(n), file_codes, src_rank)) if n else np.zeros(0, np.int64)
    src = src_codes[sort_idx]
    invalid = pc.not_equal(table.column("_reasons"), "").to_numpy(zero_copy_only=False)[sort_idx]

    rhash = table.column("_hash").to_numpy()[sort_idx]
    fhash = table.column("_fhash").to_numpy()[sort_idx]
    valid = ~invalid
    conflicting = np.zeros(n, dtype=bool)
    if spec.dedup.conflicting == "quarantine" and valid.any():
        vi = np.flatnonzero(valid)
        pairs = np.unique(np.stack([fhash[vi], rhash[vi]], axis=1), axis=0)
        f_vals, f_counts = np.unique(pairs[:, 0], return_counts=True)
        bad_f = f_vals[f_counts > 1]
        conflicting[vi] = np.isin(fhash[vi], bad_f)
    survivors = valid & ~conflicting
    duplicate = np.zeros(n, dtype=bool)
    if spec.dedup.exact == "drop" and survivors.any():
        si = np.flatnonzero(survivors)
        _, first = np.unique(rhash[si], return_index=True)
        keep = np.zeros(len(si), dtype=bool)
        keep[first] = True
        duplicate[si[~keep]] = True
    kept_mask = survivors & ~duplicate
    quarantined = invalid | conflicting
    q_rows = sort_idx[quarantined]
    reasons = np.array(table.column("_reasons").take(pa.array(q_rows, type=pa.int64())).to_pylist(), dtype=object)
    reasons[conflicting[quarantined]] = "conflicting_label"
    q_src = src[quarantined]

    report = {}
    for s in spec.sources:
        code = src_names.index(s.name) if s.name in src_names else -1
        m = src == code
        by_reason: Counter = Counter()
        for r in reasons[q_src == code]:
            by_reason.update(r.split(";"))
        report[s.name] = {
            "rows_read": int(m.sum()),
            "rows_kept": int((m & kept_mask).sum()),
            "rows_quarantined": int((m & quarantined).sum()),
            "rows_quarantined_by_reason": dict(sorted(by_reason.items())),
            "rows_duplicate": int((m & duplicate).sum()),
        }
    q = table.take(pa.array(q_rows, type=pa.int64())).drop_columns(["_reasons"])
    q = q.append_column("_reason", pa.array(reasons.tolist(), type=pa.string()))
    kept = table.take(pa.array(sort_idx[kept_mask], type=pa.int64()))
    return Cleaned(kept=kept, quarantine=q, report=report)


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """(for each row, the rank of its value among the sorted distinct values; those values)."""
    values = sorted(pc.unique(column).to_pylist())
    if not values:
        return np.zeros(0, np.int64), []
    codes = pc.index_in(column, value_set=pa.array(values, type=column.type))
    return codes.to_numpy(zero_copy_only=False).astype(np.int64), values
