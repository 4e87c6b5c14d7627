"""Per-batch harmonisation and validation (pure pandas/pyarrow; runs inside Ray Data tasks).

A batch from one source comes in with that source's names and types; it leaves with the
canonical columns, every value cast to its declared type, and these bookkeeping columns:
`_source`, `_file`, `_reasons` (";"-joined, empty when the row is valid), `_hash` (the
row's features + label, uint64) and `_fhash` (features only).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ..spec import DatasetSpec, Source



def harmonise_batch(batch: pa.Table, spec: DatasetSpec, source: Source) -> pa.Table:
    df = batch.to_pandas()
    df = df.rename(columns=source.rename)
    n = len(df)
    columns = spec.expanded_columns()
    reasons = np.zeros(n, dtype=object)
    reasons[:] = ""
    out: dict[str, object] = {}

    def flag(mask: np.ndarray, reason: str) -> None:
        if mask.any():
            reasons[mask] = reasons[mask] + (reason + ";")

    for name, col in columns.items():
        raw = df[name] if name in df.columns else pd.Series([None] * n, dtype=object)  # absent: nullable
        values, failed = _cast_from(raw, source.casts.get(name), col.type)
        missing = _missing(values)
        if not col.nullable and col.missing == "quarantine":
            flag(missing & ~failed, f"missing:{name}")
        flag(failed, f"cast_failed:{name}")
        flag(_out_of_range(values, col.min, col.max), f"out_of_range:{name}")
        if col.categories is not None:
            flag(~missing & ~values.isin(col.categories).to_numpy(), f"unknown_category:{name}")
        out[name] = values

    lab = spec.label
    y, failed = _cast_from(df[lab.column], source.casts.get(lab.column), lab.type)
    ymiss = _missing(y)
    flag(ymiss & ~failed, "missing_label")
    flag(failed, "cast_failed:label")
    if lab.values is not None:
        flag(~ymiss & ~failed & ~y.isin(lab.values).to_numpy(), "unknown_label")
    flag(_out_of_range(y, lab.min, lab.max), "label_out_of_range")
    out[lab.column] = y

    feats = spec.feature_names()
    frame = pd.DataFrame({c: out[c] for c in feats})
    fhash = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    frame[lab.column] = out[lab.column]
    rhash = pd.util.hash_pandas_object(frame, index=False).to_numpy()

    arrays = {c: _arrow(out[c], columns[c].type if c in columns else lab.type) for c in out}
    arrays["_source"] = pa.array([source.name] * n, type=pa.string())
    files = df["path"].astype(str).to_numpy() if "path" in df.columns else np.full(n, "", dtype=object)
    arrays["_file"] = pa.array(files, type=pa.string())
    arrays["_reasons"] = pa.array([r.rstrip(";") for r in reasons], type=pa.string())
    arrays["_hash"] = pa.array(rhash, type=pa.uint64())
    arrays["_fhash"] = pa.array(fhash, type=pa.uint64())
    return pa.table(arrays)


def _cast_from(raw: pd.Series, source_kind: str | None, kind: str) -> tuple[pd.Series, np.ndarray]:
    """The source's own cast (its `casts` entry) first, if any, then the declared type."""
    pre_failed = np.zeros(len(raw), dtype=bool)
    if source_kind is not None:
        raw, pre_failed = _cast(raw, source_kind)
    values, failed = _cast(raw, kind)
    return values, failed | pre_failed


def _out_of_range(values: pd.Series, low: float | None, high: float | None) -> np.ndarray:
    bad = np.zeros(len(values), dtype=bool)
    if low is None and high is None:
        return bad
    v = values.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        if low is not None:
            bad |= v < low
        if high is not None:
            bad |= v > high
    return bad


def _cast(series: pd.Series, kind: str) -> tuple[pd.Series, np.ndarray]:
    """Cast to the declared type. Returns (values, failed) where failed marks values that
    were present but could not be cast (a quarantine reason, never a crash)."""
    present = ~_missing(series)
    if kind in ("float", "int"):
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            values = series.astype("float64")
            failed = np.zeros(len(series), dtype=bool)
        else:
            values = pd.to_numeric(series.astype("string").str.strip(), errors="coerce").astype("float64")
            failed = present & values.isna().to_numpy()
        if kind == "int":
            v = values.to_numpy()
            with np.errstate(invalid="ignore"):
                frac = np.isfinite(v) & (np.floor(v) != v)
            failed = failed | frac
            values = values.where(~frac)
        return values, failed
    if kind == "bool":
        lowered = series.astype("string").str.strip().str.lower()
        mapped = lowered.map({"true": True, "false": False, "1": True, "0": False,
                              "1.0": True, "0.0": False, "yes": True, "no": False})
        failed = present & mapped.isna().to_numpy()
        return mapped.astype("boolean"), failed
    values = series.astype("string").astype(object).where(present, None)
    return values, np.zeros(len(series), dtype=bool)


def _missing(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy()


def _arrow(values: pd.Series, kind: str) -> pa.Array:
    if kind == "int":
        v = values.to_numpy(dtype="float64", na_value=np.nan)
        mask = ~np.isfinite(v)
        return pa.array(np.where(mask, 0, v).astype(np.int64), mask=mask, type=pa.int64())
    if kind == "float":
        return pa.array(values.to_numpy(dtype="float64", na_value=np.nan), type=pa.float64())
    if kind == "bool":
        return pa.array(values, type=pa.bool_(), from_pandas=True)
    return pa.array(values, type=pa.string(), from_pandas=True)


def canonical_schema(spec: DatasetSpec) -> pa.Schema:
    kinds = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(), "str": pa.string()}
    fields = [pa.field(n, kinds[c.type]) for n, c in spec.expanded_columns().items()]
    fields.append(pa.field(spec.label.column, kinds[spec.label.type]))
    fields += [pa.field("_source", pa.string()), pa.field("_file", pa.string()),
               pa.field("_reasons", pa.string()), pa.field("_hash", pa.uint64()),
               pa.field("_fhash", pa.uint64())]
    return pa.schema(fields)
