"""benchmarks/lcdb.py on a few tables: it runs without Ray and its last line has the issue's
keys with plausible values (on a small synthetic LCDB-shaped file, and on the shared one
when this checkout has it)."""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO

SHARED = REPO.parent / "shared" / "data" / "lcdb-curves.parquet"
KEYS = ("lcdb_tables", "lcdb_hv_ratio_median", "lcdb_hv_ratio_p05", "lcdb_hv_ratio_worst",
        "lcdb_compute_ratio_median", "lcdb_dominated_by_halving")


def _run(*args: str) -> dict:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "lcdb.py"), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _synthetic(path, datasets=(3, 5, 7, 11), learners=6, seed=0):
    """LCDB's columns: per dataset and seed, learners with rising, flattening curves."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in datasets:
        for outer in (0, 1):
            for inner in (0, 1):
                for k in range(learners):
                    top, c, t0 = rng.uniform(0.6, 0.95), rng.uniform(0.2, 0.8), rng.uniform(1e-4, 1e-2)
                    for n in (16, 23, 32, 45, 64, 91, 128, 181, 256):
                        acc = top - (top - 0.3) * (n / 16) ** -c + rng.normal(0, 0.01)
                        rows.append({"openmlid": d, "learner": f"sklearn.fake.L{k}", "size_train": n,
                                     "size_test": 30, "outer_seed": outer, "inner_seed": inner,
                                     "traintime": t0 * (n / 16) ** rng.uniform(0.5, 1.5),
                                     "score_train": 1.0, "score_valid": float(np.clip(acc, 0, 1)),
                                     "score_test": float(np.clip(acc, 0, 1))})
    pd.DataFrame(rows).to_parquet(path)


def _check(out: dict, tables: int):
    for key in KEYS:
        for suffix in ("", "_all"):
            assert key + suffix in out, key + suffix
    assert out["lcdb_tables"] == out["lcdb_tables_all"] == tables
    assert out.get("lcdb_tables_heldout", 0) + out.get("lcdb_tables_tune", 0) == tables
    assert 0 < out["lcdb_hv_ratio_worst"] <= out["lcdb_hv_ratio_p05"] <= out["lcdb_hv_ratio_median"] <= 1 + 1e-9
    assert 0 < out["lcdb_compute_ratio_median"] <= 1
    assert 0 <= out["lcdb_dominated_by_halving"] <= tables
    assert 0 < out["lcdb_halving_compute_ratio_median"] <= 1


def test_lcdb_benchmark_on_a_synthetic_file(tmp_path):
    path = tmp_path / "curves.parquet"
    _synthetic(path)
    out = _run(str(path))
    _check(out, 16)
    # the exhaustive policy fits everything: ratios of exactly 1
    none = _run(str(path), "--policy", "none", "--tables", "3")
    assert none["lcdb_none_hv_ratio_worst"] == 1.0 and none["lcdb_none_compute_ratio_median"] == 1.0
    assert "lcdb_hv_ratio_median" not in none and math.isfinite(none["wall_s"])


@pytest.mark.skipif(not SHARED.exists(), reason="the shared LCDB file is not in this checkout")
def test_lcdb_benchmark_on_a_few_shared_tables():
    out = _run("--tables", "12")
    _check(out, 12)
    assert out["lcdb_hv_ratio_median"] >= 0.9     # the rule keeps most of the hypervolume
