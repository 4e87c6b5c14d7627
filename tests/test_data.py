"""The data stage on real Parquet through a real local Ray: every row accounted for."""

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from sweep import data
from sweep.data import bundled
from sweep.errors import DataError
from sweep.spec import load_dataset



@pytest.fixture(scope="module")
def spec(digits_spec):
    s = load_dataset(digits_spec)
    data.ensure_bundled(s)
    return s


@pytest.fixture(scope="module")
def prepared(spec, ray_session):
    return data.prepare(spec)


def test_bundled_sources_are_hive_partitioned_and_deterministic(spec, tmp_path):
    a = sorted(p.relative_to(spec.sources[0].path).as_posix()
               for p in Path(spec.sources[0].path).rglob("*.parquet"))
    assert a == [f"day={d}/part-0.parquet" for d in bundled.DAYS]
    # a second write elsewhere gives identical tables
    other = {s.name: str(tmp_path / s.name) for s in spec.sources}
    bundled.write_digits(other)
    for s in spec.sources:
        for f in Path(s.path).rglob("*.parquet"):
            rel = f.relative_to(s.path)
            assert pq.read_table(f).to_pandas().equals(pq.read_table(tmp_path / s.name / rel).to_pandas())
    # the faults real sources have: a renamed label, numbers stored as strings
    b = pq.read_table(next(Path(spec.sources[1].path).rglob("*.parquet")))
    assert "target" in b.column_names and "digit" not in b.column_names
    assert b.schema.field("pixel_20").type == pa.string()


@pytest.mark.slow
def test_every_row_accounted_for(prepared):
    f = bundled.FAULTS
    src = prepared.report["sources"]
    for name, r in src.items():
        assert r["rows_read"] == r["rows_kept"] + r["rows_quarantined"] + r["rows_duplicate"]
    a, b = src["lab_a"], src["lab_b"]
    assert a["rows_read"] == bundled.N_LAB_A + f["lab_a"]["duplicate_within"]
    assert a["rows_duplicate"] == f["lab_a"]["duplicate_within"]
    reasons_a = a["rows_quarantined_by_reason"]
    assert sum(v for k, v in reasons_a.items() if k.startswith("missing:")) == f["lab_a"]["missing"]
    assert sum(v for k, v in reasons_a.items() if k.startswith("out_of_range:")) == f["lab_a"]["out_of_range"]
    assert reasons_a["conflicting_label"] == f["lab_b"]["conflicting_label"]
    assert b["rows_duplicate"] == f["lab_b"]["duplicate_across"]   # charged to the later source
    assert b["rows_quarantined_by_reason"] == {
        "cast_failed:pixel_20": f["lab_b"]["unparseable_string"],
        "conflicting_label": f["lab_b"]["conflicting_label"]}
    assert prepared.quarantine.num_rows == a["rows_quarantined"] + b["rows_quarantined"]
    assert set(prepared.quarantine.column("_reason").to_pylist()) >= {"conflicting_label", "cast_failed:pixel_20"}


@pytest.mark.slow
def test_splits_disjoint_complete_stratified(prepared):
    rows = {s: prepared.report["splits"][s]["rows"] for s in data.SPLITS}
    assert sum(rows.values()) == prepared.report["totals"]["rows_kept"]
    keys = {s: {r.tobytes() for r in prepared.X[s]} for s in data.SPLITS}
    assert not (keys["train"] & keys["validation"]) and not (keys["train"] & keys["test"]) \
        and not (keys["validation"] & keys["test"])
    n = rows["train"] + rows["validation"] + rows["test"]
    for s, frac in (("train", 0.6), ("validation", 0.2), ("test", 0.2)):
        assert abs(rows[s] / n - frac) < 0.01
        counts = np.unique(prepared.y[s], return_counts=True)[1]
        assert len(counts) == 10


@pytest.mark.slow
def test_same_split_whatever_the_file_order(spec, prepared, ray_session):
    files = data.check_sources(spec)
    shuffled = [(s, list(reversed(f))) for s, f in reversed(files)]
    again = data.prepare(spec, sources_files=shuffled)
    # the later source in the spec is still charged with cross-source duplicates
    assert again.report["sources"] == prepared.report["sources"]
    assert again.fingerprint == prepared.fingerprint


def _write_spec(tmp_path, spec_path, edit):
    d = yaml.safe_load(open(spec_path))
    edit(d)
    d.pop("bundled", None)
    p = tmp_path / "d.yaml"
    p.write_text(yaml.safe_dump(d))
    return load_dataset(p)


def test_missing_path_is_a_clear_error(tmp_path, digits_spec):
    s = _write_spec(tmp_path, digits_spec, lambda d: d["sources"][1].update(path=str(tmp_path / "nowhere")))
    with pytest.raises(DataError, match=r"source 'lab_b': path '.*nowhere' does not exist; fix 'path'"):
        data.check_sources(s)


def test_missing_column_names_source_and_column(tmp_path, digits_spec):
    s = _write_spec(tmp_path, digits_spec, lambda d: d["sources"][1].update(rename={}))
    with pytest.raises(DataError, match=r"source 'lab_b': required column\(s\) digit not found"):
        data.check_sources(s)


def test_corrupt_parquet_names_the_file(tmp_path, spec, digits_spec):
    src = tmp_path / "lab_a"
    shutil.copytree(spec.sources[0].path, src)
    bad = src / "day=2026-11-02" / "part-0.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    s = _write_spec(tmp_path, digits_spec, lambda d: d["sources"][0].update(path=str(src)))
    with pytest.raises(DataError, match=r"file .*day=2026-11-02/part-0.parquet is not readable Parquet"):
        data.check_sources(s)
