"""The bundled datasets, written on first use as messy Parquet sources.

Digits (the default): scikit-learn's digits as two labs.

Written once, deterministically, on first use, with the faults real sources have:
- `lab_a` (hive-partitioned by `day`): canonical names; some missing pixels; some
  out-of-range pixels; a few exact duplicates within the source.
- `lab_b` (hive-partitioned by `batch`): the label column is called `target`;
  `pixel_20` is stored as strings, a few of them unparseable ("n/a"); exact duplicates
  of lab_a rows; a few rows with lab_a's features and a different label (conflicts).
Counts are fixed (FAULTS) so the data report can be checked against them.

Penguins (mixed types): the Palmer penguins' field data (the `palmerpenguins` package ships
it; 344 birds, three seasons) as two stations, hive-partitioned by `season`: `station_a`
(PAL0708, PAL0809) with the field sheet's column names ("Culmen Length (mm)", ...);
`station_b` (PAL0910) with snake-case names and flipper length stored as text. Categorical
island, sex, clutch completion and species; missing values as the data has them (2 birds
without measurements, 11 without sex, 13-14 without isotope ratios).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20261127
N_LAB_A = 1000
FAULTS = {
    "lab_a": {"missing": 15, "out_of_range": 4, "duplicate_within": 10},
    "lab_b": {"unparseable_string": 6, "duplicate_across": 40, "conflicting_label": 5},
}
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
BATCHES = [1, 2, 3]


def digits_tables() -> dict[str, dict[str, pa.Table]]:
    """{source: {partition value: table}} for the bundled digits sources."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(len(y))
    a_idx, b_idx = perm[:N_LAB_A], perm[N_LAB_A:]
    pix = [f"pixel_{i}" for i in range(X.shape[1])]

    # lab_a: missing values, out-of-range values, duplicates within the source.
    Xa, ya, ida = X[a_idx].astype(np.float64), y[a_idx].astype(np.int64), a_idx.astype(np.int64)
    f = FAULTS["lab_a"]
    rows = rng.choice(N_LAB_A, f["missing"] + f["out_of_range"], replace=False)
    for r in rows[: f["missing"]]:
        Xa[r, rng.integers(64)] = np.nan
    for r in rows[f["missing"]:]:
        Xa[r, rng.integers(64)] = 99.0
    clean = np.setdiff1d(np.arange(N_LAB_A), rows)
    dup_in = rng.choice(clean, f["duplicate_within"], replace=False)
    Xa = np.vstack([Xa, Xa[dup_in]])
    ya = np.concatenate([ya, ya[dup_in]])
    ida = np.concatenate([ida, ida[dup_in]])

    # lab_b: copies of clean lab_a rows (exact duplicates across sources) and
    # conflicts (lab_a's features with another label); pixel_20 as strings.
    f = FAULTS["lab_b"]
    pool = np.setdiff1d(clean, dup_in)
    picked = rng.choice(pool, f["duplicate_across"] + f["conflicting_label"], replace=False)
    across, conflict = picked[: f["duplicate_across"]], picked[f["duplicate_across"]:]
    Xb = np.vstack([X[b_idx].astype(np.float64), Xa[across], Xa[conflict]])
    yb = np.concatenate([y[b_idx], ya[across], (ya[conflict] + 1) % 10]).astype(np.int64)
    idb = np.concatenate([b_idx, ida[across], ida[conflict]]).astype(np.int64)
    p20 = np.array([f"{v:.1f}" for v in Xb[:, 20]], dtype=object)
    bad = rng.choice(len(b_idx), f["unparseable_string"], replace=False)  # original lab_b rows only
    p20[bad] = "n/a"

    a_cols = {name: Xa[:, j] for j, name in enumerate(pix)}
    a_cols.update(digit=ya, sample_id=ida)
    b_cols = {name: (p20 if name == "pixel_20" else Xb[:, j]) for j, name in enumerate(pix)}
    b_cols.update(target=yb, sample_id=idb)

    out: dict[str, dict[str, pa.Table]] = {"lab_a": {}, "lab_b": {}}
    part_a = rng.integers(len(DAYS), size=len(ya))
    for k, day in enumerate(DAYS):
        m = part_a == k
        out["lab_a"][f"day={day}"] = pa.table({c: _col(v[m]) for c, v in a_cols.items()})
    part_b = rng.integers(len(BATCHES), size=len(yb))
    for k, batch in enumerate(BATCHES):
        m = part_b == k
        out["lab_b"][f"batch={batch}"] = pa.table({c: _col(v[m]) for c, v in b_cols.items()})
    return out


def _col(values: np.ndarray) -> pa.Array:
    if values.dtype == object:
        return pa.array(list(values), type=pa.string())
    return pa.array(values)


def write_digits(paths: dict[str, str]) -> bool:
    """Write the digits sources to `paths` ({source name: folder}) unless all exist.

    Each folder is written to a temporary sibling and renamed into place, so a folder
    that exists is complete. Returns True when anything was written.
    """
    return _write_missing(paths, digits_tables)


def _write_missing(paths: dict[str, str], make_tables) -> bool:
    """Write each source of `make_tables()` whose folder in `paths` does not exist yet."""
    todo = {name: Path(p) for name, p in paths.items() if not Path(p).exists()}
    if not todo:
        return False
    tables = make_tables()
    for name, dest in todo.items():
        if name in tables:
            write_partitions(dest, tables[name])
    return True


def write_partitions(dest: Path, tables: dict[str, pa.Table]) -> None:
    """Write {"key=value": table} as hive-partitioned Parquet at `dest`: into a temporary
    sibling, then renamed into place, so a folder that exists is complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        for part, table in tables.items():
            (tmp / part).mkdir()
            pq.write_table(table, tmp / part / "part-0.parquet")
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another run wrote it first: its copy is complete
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


_PENGUIN_COLUMNS = {  # the field sheet's names (station_a keeps them) -> snake case (station_b)
    "Species": "species", "Island": "island", "Individual ID": "individual_id",
    "Clutch Completion": "clutch_completion", "Date Egg": "date_egg",
    "Culmen Length (mm)": "culmen_length_mm", "Culmen Depth (mm)": "culmen_depth_mm",
    "Flipper Length (mm)": "flipper_length_mm", "Body Mass (g)": "body_mass_g", "Sex": "sex",
    "Delta 15 N (o/oo)": "delta_15n", "Delta 13 C (o/oo)": "delta_13c",
}


def penguins_tables() -> dict[str, dict[str, pa.Table]]:
    """{source: {partition: table}} of the Palmer penguins' field data, by season in two stations."""
    from palmerpenguins import load_penguins_raw

    df = load_penguins_raw()
    out: dict[str, dict[str, pa.Table]] = {"station_a": {}, "station_b": {}}
    for season, part in df.groupby("studyName", sort=True):
        part = part[list(_PENGUIN_COLUMNS)].reset_index(drop=True)
        cols = {c: part[c].to_numpy() for c in part.columns}
        if season == "PAL0910":
            cols = {_PENGUIN_COLUMNS[c]: v for c, v in cols.items()}
            cols["flipper_length_mm"] = np.array(
                [None if v != v else f"{v:.0f}" for v in cols["flipper_length_mm"]], dtype=object)
            source = "station_b"
        else:
            source = "station_a"
        out[source][f"season={season}"] = pa.table({c: _nullable(v) for c, v in cols.items()})
    return out


def _nullable(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "f":
        return pa.array(values, mask=np.isnan(values))
    return pa.array([None if v is None or v != v else str(v) for v in values], type=pa.string())


def write_penguins(paths: dict[str, str]) -> bool:
    """Write the penguins sources to `paths` ({source name: folder}) unless all exist."""
    return _write_missing(paths, penguins_tables)
