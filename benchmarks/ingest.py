#!/usr/bin/env python3
"""Ingestion benchmark: sweep's data stage against a plain single-process pyarrow + pandas pipeline.

    python benchmarks/ingest.py [--rows N] [--rounds K] [--smoke]

Data (fixed seed): N rows x 20 float features + a 5-class label, in 3 sources x 10 hive
partitions; source s1 names feature x0 `feat0`, source s2 stores x1 as strings; a known
number of exact duplicates (within and across sources) and of missing values.
- sweep: `sweep.data.prepare` (Ray Data read tasks -> harmonise -> validate -> de-duplicate
  -> split -> arrays ready for trials) on a Ray started beforehand (`ray_start_s`, apart).
- plain, as a user would write it, in a fresh process: pyarrow.dataset read of every
  source -> to_pandas -> rename/cast -> dropna on the required columns ->
  drop_duplicates(features + label) -> sklearn train_test_split (stratified).
Both must keep the same rows (count and content checked). Peak memory, sampled every 50 ms
over the driver and every process under it (raylet with the object store, GCS, agents,
workers): `peak_rss_sweep_mb` sums their RSS, which counts a shared page (the object
store's, a library's) once per process that maps it; `peak_pss_sweep_mb` sums their PSS,
which counts every page once (shared pages split between the processes mapping them).
`idle_ray_pss_mb` is the local Ray's own footprint before the data stage. Plain's is its
process's max RSS. Last line: one JSON object (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

N_FEATURES, N_SOURCES, N_PARTS = 20, 3, 10
FEATURES = [f"x{i}" for i in range(N_FEATURES)]


def generate(root: Path, rows: int) -> dict:
    """Write the sources; return the fault counts planted."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    X = rng.normal(size=(rows, N_FEATURES)).round(5)
    y = rng.integers(0, 5, rows)
    n_dup, n_nan = rows // 100, rows // 200
    dst = rng.choice(rows, 2 * n_dup, replace=False)
    X[dst[:n_dup]], y[dst[:n_dup]] = X[dst[n_dup:]], y[dst[n_dup:]]       # exact duplicates
    nan_rows = rng.choice(np.setdiff1d(np.arange(rows), dst), n_nan, replace=False)
    X[nan_rows, 3] = np.nan                                              # missing values
    src = rng.integers(0, N_SOURCES, rows)
    part = rng.integers(0, N_PARTS, rows)
    for s in range(N_SOURCES):
        for p in range(N_PARTS):
            m = (src == s) & (part == p)
            cols = {f: X[m, i] for i, f in enumerate(FEATURES)}
            if s == 1:
                cols["feat0"] = cols.pop("x0")
            if s == 2:
                cols["x1"] = np.array([repr(float(v)) for v in cols["x1"]], dtype=object)
            cols["label"] = y[m]
            d = root / f"s{s}" / f"day={p}"
            d.mkdir(parents=True)
            pq.write_table(pa.table({k: (pa.array(list(v), pa.string()) if v.dtype == object else v)
                                     for k, v in cols.items()}), d / "part-0.parquet")
    return {"duplicates": n_dup, "missing": n_nan, "files": N_SOURCES * N_PARTS}


def spec_file(root: Path) -> Path:
    import yaml

    spec = {"name": "ingest", "sources": [
        {"name": "s0", "path": str(root / "s0")},
        {"name": "s1", "path": str(root / "s1"), "rename": {"feat0": "x0"}},
        {"name": "s2", "path": str(root / "s2"), "casts": {"x1": "float"}}],
        "columns": [{"name": f"x{{0..{N_FEATURES - 1}}}", "type": "float"}],
        "label": {"column": "label", "type": "int", "values": [0, 1, 2, 3, 4]},
        "dedup": {"exact": "drop", "conflicting": "keep"},
        "split": {"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 0}}
    p = root / "spec.yaml"
    p.write_text(yaml.safe_dump(spec))
    return p


def checksum(df) -> int:
    import pandas as pd

    return int(pd.util.hash_pandas_object(df[FEATURES + ["label"]].astype("float64"), index=False)
               .astype("uint64").sum() % (2**61 - 1))


def plain(root: Path) -> dict:
    """The single-process pipeline a user would write."""
    import pandas as pd
    import pyarrow.dataset as pads
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    frames = []
    for s in range(N_SOURCES):
        df = pads.dataset(root / f"s{s}", format="parquet", partitioning="hive").to_table().to_pandas()
        df = df.rename(columns={"feat0": "x0"})
        df["x1"] = pd.to_numeric(df["x1"], errors="coerce")
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df = df.dropna(subset=FEATURES + ["label"])
    df = df.drop_duplicates(subset=FEATURES + ["label"])
    train, rest = train_test_split(df, train_size=0.6, stratify=df["label"], random_state=0)
    val, test = train_test_split(rest, train_size=0.5, stratify=rest["label"], random_state=0)
    X = {k: v[FEATURES].to_numpy() for k, v in (("train", train), ("validation", val), ("test", test))}
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "rows_kept": len(df), "checksum": checksum(df),
            "rows": {k: len(v) for k, v in X.items()}}


class PeakRSS:
    """Peaks of the memory of this process and all its descendants (the driver and the whole
    local Ray: raylet with the object store, GCS, agents, workers), sampled every 50 ms:
    - `peak`: the summed RSS. It counts a page once per process that maps it, so the object
      store's pages (mapped by the raylet and by every worker that reads them) and shared
      libraries are counted several times: an overstatement.
    - `peak_pss`: the summed PSS (proportional set size: a page shared by k processes counts
      1/k in each), i.e. the memory all these processes use together, each page once.
    """

    def __init__(self):
        import psutil

        self.proc, self.peak, self.peak_pss, self._stop = psutil.Process(), 0, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> tuple[int, int]:
        import psutil

        rss = pss = 0
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                rss += p.memory_info().rss
                pss += p.memory_full_info().pss
            except psutil.Error:
                pass
        return rss, pss

    def _run(self):
        while not self._stop.is_set():
            rss, pss = self.sample()
            self.peak = max(self.peak, rss)
            self.peak_pss = max(self.peak_pss, pss)
            time.sleep(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--smoke", action="store_true", help="20,000 rows, one round (correctness only)")
    ap.add_argument("--plain-only", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.plain_only:
        out = plain(Path(args.plain_only))
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return 0
    if args.smoke:
        args.rows, args.rounds = 20_000, 1

    import logging

    import numpy as np
    import pandas as pd
    import ray

    from sweep import data as data_stage
    from sweep.spec import load_dataset

    with tempfile.TemporaryDirectory(prefix="sweep-ingest-") as tmp:
        root = Path(tmp)
        faults = generate(root, args.rows)
        spec = load_dataset(spec_file(root))
        plain_runs = []
        for _ in range(args.rounds):
            proc = subprocess.run([sys.executable, __file__, "--plain-only", str(root)],
                                  capture_output=True, text=True, check=True)
            plain_runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        t0 = time.perf_counter()
        ray.init(num_cpus=args.cores, include_dashboard=False, logging_level=logging.WARNING)
        ray_start_s = time.perf_counter() - t0
        idle_rss, idle_pss = PeakRSS().sample()  # the local Ray before any data: its own footprint
        sweep_runs = []
        for k in range(args.rounds):
            with PeakRSS() as rss:
                t0 = time.perf_counter()
                prepared = data_stage.prepare(spec)
                wall = time.perf_counter() - t0
            kept = pd.DataFrame(np.vstack([prepared.X[s] for s in data_stage.SPLITS]), columns=FEATURES)
            kept["label"] = np.concatenate([prepared.y[s] for s in data_stage.SPLITS])
            sweep_runs.append({"wall_s": wall, "peak_rss_mb": rss.peak / 2**20,
                               "peak_pss_mb": rss.peak_pss / 2**20, "rows_kept": len(kept),
                               "checksum": checksum(kept), "read_tasks": prepared.report["read_tasks"]})
            print(f"round {k}: sweep {wall:6.2f} s  plain {plain_runs[k]['wall_s']:6.2f} s", flush=True)
            del prepared, kept  # each round starts without the last one's arrays, as plain's fresh process does
        ray.shutdown()

    p0, s0 = plain_runs[0], sweep_runs[0]
    assert s0["rows_kept"] == p0["rows_kept"] == args.rows - faults["duplicates"] - faults["missing"], \
        (s0["rows_kept"], p0["rows_kept"], faults)
    assert s0["checksum"] == p0["checksum"], "sweep and the plain pipeline kept different rows"
    med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
    out = {
        "rows": args.rows, "rows_kept": s0["rows_kept"], "rounds": args.rounds, "cores": args.cores,
        "wall_sweep_s": round(med(sweep_runs, "wall_s"), 3), "wall_pyarrow_s": round(med(plain_runs, "wall_s"), 3),
        "ratio": round(med(sweep_runs, "wall_s") / med(plain_runs, "wall_s"), 3),
        "wall_sweep_first_s": round(s0["wall_s"], 3),
        "ray_start_s": round(ray_start_s, 3), "read_tasks": s0["read_tasks"], "file_partitions": faults["files"],
        "peak_rss_sweep_mb": round(max(r["peak_rss_mb"] for r in sweep_runs), 1),
        "peak_rss_pyarrow_mb": round(max(r["peak_rss_mb"] for r in plain_runs), 1),
        # each page counted once (PSS), and what the idle local Ray used before the data stage
        "peak_pss_sweep_mb": round(max(r["peak_pss_mb"] for r in sweep_runs), 1),
        "idle_ray_pss_mb": round(idle_pss / 2**20, 1), "idle_ray_rss_mb": round(idle_rss / 2**20, 1),
        "pss_ratio": round(max(r["peak_pss_mb"] for r in sweep_runs) / max(r["peak_rss_mb"] for r in plain_runs), 3),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
