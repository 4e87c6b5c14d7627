"""Generated sources with a known number of each fault: exact counts, every row accounted
for; URIs (file://, s3:// on a loopback moto server) give the same result as plain paths."""

import socket
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import cli_proc
from sweep import data
from sweep.errors import DataRuleError
from sweep.spec import load_dataset

pytestmark = pytest.mark.slow

N_A, N_B = 120, 80
FAULTS = {"out_of_range": 3, "unknown_category": 2, "missing_label": 4, "dup_within": 5,
          "unparseable": 3, "dup_across": 6, "conflicting": 2, "missing_value": 3}
DAYS = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]


def _features(rng, n):
    return {f"f{i}": rng.uniform(0, 10, n).round(6) for i in range(4)}


def make_sources(root: Path) -> dict:
    """Write sources a (hive by day), b (renamed, strings), c (empty); return their folders."""
    rng = np.random.default_rng(42)
    f = FAULTS
    a = _features(rng, N_A)
    a["color"] = rng.choice(["red", "green", "blue"], N_A).astype(object)
    a["y"] = rng.integers(0, 3, N_A).astype(float)
    a["sample_id"] = np.arange(N_A)
    a["day"] = rng.choice(DAYS, N_A)
    i = 0
    a["f2"][i:i + f["out_of_range"]] = 99.0
    i += f["out_of_range"]
    a["color"][i:i + f["unknown_category"]] = "purple"
    i += f["unknown_category"]
    a["y"][i:i + f["missing_label"]] = np.nan
    i += f["missing_label"]
    a["f3"][i:i + f["missing_value"]] = np.nan
    i += f["missing_value"]
    clean = np.arange(i, N_A)
    dup = clean[: f["dup_within"]]
    across = clean[f["dup_within"]: f["dup_within"] + f["dup_across"]]
    conflict = clean[f["dup_within"] + f["dup_across"]: f["dup_within"] + f["dup_across"] + f["conflicting"]]
    a_tab = {k: np.concatenate([v, v[dup]]) for k, v in a.items()}

    b = _features(rng, N_B)
    b["color"] = rng.choice(["red", "green", "blue"], N_B).astype(object)
    b["y"] = rng.integers(0, 3, N_B).astype(float)
    b["sample_id"] = np.arange(1000, 1000 + N_B)
    b = {k: np.concatenate([v, a[k][across], a[k][conflict]]) for k, v in b.items()}
    nb = len(b["y"])
    b["y"][-f["conflicting"]:] = (b["y"][-f["conflicting"]:] + 1) % 3
    f1 = np.array([f"{v}" for v in b["f1"]], dtype=object)
    f1[: f["unparseable"]] = "n/a"
    b_tab = {"feat_0": b["f0"], "f1": f1, "f2": b["f2"], "f3": b["f3"], "color": b["color"],
             "label": b["y"].astype(np.int64), "sample_id": b["sample_id"]}
    assert nb == N_B + f["dup_across"] + f["conflicting"]

    dirs = {n: root / n for n in "abc"}
    for day in DAYS:
        m = a_tab["day"] == day
        (dirs["a"] / f"day={day}").mkdir(parents=True)
        pq.write_table(pa.table({k: v[m] for k, v in a_tab.items() if k != "day"}),
                       dirs["a"] / f"day={day}" / "part-0.parquet")
    dirs["b"].mkdir()
    half = nb // 2
    pq.write_table(pa.table({k: v[:half] for k, v in b_tab.items()}), dirs["b"] / "part-0.parquet")
    pq.write_table(pa.table({k: v[half:] for k, v in b_tab.items()}), dirs["b"] / "part-1.parquet")
    dirs["c"].mkdir()
    pq.write_table(pa.table({k: v[:0] for k, v in a_tab.items() if k != "day"}), dirs["c"] / "part-0.parquet")
    return dirs


def spec_dict(dirs: dict, **paths) -> dict:
    return {
        "name": "faults",
        "sources": [
            {"name": "a", "path": paths.get("a", str(dirs["a"])), "partitioning": "hive"},
            {"name": "b", "path": paths.get("b", str(dirs["b"])), "partitioning": "none",
             "rename": {"feat_0": "f0", "label": "y"}, "casts": {"f1": "float"}},
            {"name": "c", "path": str(dirs["c"]), "partitioning": "none"},
        ],
        "columns": [
            {"name": "f{0..3}", "type": "float", "min": 0, "max": 10},
            {"name": "color", "type": "str", "categories": ["red", "green", "blue"], "role": "metadata"},
            {"name": "sample_id", "type": "int", "role": "metadata"},
            {"name": "day", "type": "str", "role": "metadata", "nullable": True},
        ],
        "label": {"column": "y", "type": "int", "values": [0, 1, 2]},
        "split": {"method": "stratified", "train": 0.6, "validation": 0.2, "test": 0.2, "seed": 3},
    }


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return make_sources(tmp_path_factory.mktemp("faults"))


def _spec(tmp_path, d: dict, name="faults.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d))
    return load_dataset(p)


@pytest.fixture(scope="module")
def prepared(sources, tmp_path_factory, ray_session):
    return data.prepare(_spec(tmp_path_factory.mktemp("spec"), spec_dict(sources)))


def test_exact_counts_per_fault(prepared):
    f = FAULTS
    a, b, c = (prepared.report["sources"][n] for n in "abc")
    for r in (a, b, c):
        assert r["rows_read"] == r["rows_kept"] + r["rows_quarantined"] + r["rows_duplicate"]
    ra = a["rows_quarantined_by_reason"]
    assert a["rows_read"] == N_A + f["dup_within"]
    assert ra == {"out_of_range:f2": f["out_of_range"], "unknown_category:color": f["unknown_category"],
                  "missing_label": f["missing_label"], "missing:f3": f["missing_value"],
                  "conflicting_label": f["conflicting"]}
    assert a["rows_duplicate"] == f["dup_within"]
    assert b["rows_read"] == N_B + f["dup_across"] + f["conflicting"]
    # the renamed columns were found; the strings were parsed, "n/a" quarantined
    assert b["rows_quarantined_by_reason"] == {"cast_failed:f1": f["unparseable"],
                                               "conflicting_label": f["conflicting"]}
    assert b["rows_duplicate"] == f["dup_across"]            # charged to the later source
    assert c == {"rows_read": 0, "rows_kept": 0, "rows_quarantined": 0,
                 "rows_quarantined_by_reason": {}, "rows_duplicate": 0}
    assert "source 'c' has no rows" in prepared.report["warnings"]


def test_quarantine_keeps_source_partition_and_reason(prepared):
    q = prepared.quarantine.to_pandas()
    assert len(q) == sum(r["rows_quarantined"] for r in prepared.report["sources"].values())
    oor = q[q["_reason"] == "out_of_range:f2"]
    assert (oor["_source"] == "a").all() and oor["_file"].str.match(r"day=2026-01-0\d/part-0.parquet").all()
    assert set(q[q["_source"] == "b"]["_file"]) <= {"part-0.parquet", "part-1.parquet"}
    assert (q["_reason"].str.len() > 0).all()


def test_partition_key_is_a_column(prepared, sources, tmp_path, ray_session):
    d = spec_dict(sources)
    d["time"] = "day"
    d["split"]["method"] = "time"
    d["sources"] = d["sources"][:1]
    p = data.prepare(_spec(tmp_path, d))
    tr = {k: v["time_range"] for k, v in p.report["splits"].items()}
    assert tr["train"][1] < tr["validation"][0] <= tr["validation"][1] < tr["test"][0]


def test_group_split_keeps_groups(sources, tmp_path, ray_session):
    d = spec_dict(sources)
    d["group"] = "sample_id"
    d["split"]["method"] = "group"
    p = data.prepare(_spec(tmp_path, d))
    # a group in two splits would be counted twice
    assert sum(v["groups"] for v in p.report["splits"].values()) == p.report["groups_total"] > 100


def test_impute_keeps_rows_with_missing_values(sources, tmp_path, ray_session):
    d = spec_dict(sources)
    d["columns"][0] = {"name": "f{0..3}", "type": "float", "min": 0, "max": 10, "missing": "impute"}
    p = data.prepare(_spec(tmp_path, d))
    assert "missing:f3" not in p.report["sources"]["a"]["rows_quarantined_by_reason"]
    assert sum(np.isnan(x).any(axis=1).sum() for x in p.X.values()) == FAULTS["missing_value"]


def test_fatal_rule_exits_3(sources, tmp_path, ray_session):
    d = spec_dict(sources)
    d["rules"] = {"max_quarantined_fraction": 0.05, "fatal": True}
    spec = _spec(tmp_path, d)
    p = data.prepare(spec)
    with pytest.raises(DataRuleError, match=r"source 'a': \d+\.\d% of rows quarantined, over the rule's "
                                            r"max_quarantined_fraction 0.05"):
        data.enforce_rules(spec, p.report)
    out = tmp_path / "check"
    proc = cli_proc("data", "check", str(tmp_path / "faults.yaml"), "--out", str(out))
    assert proc.returncode == 3, proc.stderr
    assert "a: read 125 = kept" in proc.stdout
    assert (out / "data_report.json").exists() and (out / "quarantine" / "rows.parquet").exists()
    d["rules"]["fatal"] = False
    p = data.prepare(_spec(tmp_path, d, "lenient.yaml"))
    assert any(w.startswith("data rule (not fatal)") for w in p.report["warnings"])


def test_file_uri_same_as_path(sources, prepared, tmp_path, ray_session):
    d = spec_dict(sources, a=sources["a"].as_uri())
    p = data.prepare(_spec(tmp_path, d))
    assert p.report["sources"] == prepared.report["sources"]
    assert p.fingerprint == prepared.fingerprint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_s3_uri_against_local_moto_same_as_path(sources, prepared, tmp_path, ray_session, monkeypatch):
    from moto.server import ThreadedMotoServer
    import pyarrow.fs as pafs

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                     "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(k, v)
        s3 = pafs.S3FileSystem(access_key="testing", secret_key="testing", region="us-east-1",
                               endpoint_override=f"127.0.0.1:{port}", scheme="http", allow_bucket_creation=True)
        s3.create_dir("bucket")
        for f in sources["b"].rglob("*.parquet"):
            pafs.copy_files(str(f), f"bucket/lab_b/{f.relative_to(sources['b'])}",
                            source_filesystem=pafs.LocalFileSystem(), destination_filesystem=s3)
        uri = (f"s3://testing:testing@bucket/lab_b?endpoint_override=127.0.0.1:{port}"
               "&scheme=http&region=us-east-1")
        p = data.prepare(_spec(tmp_path, spec_dict(sources, b=uri)))
        assert p.report["sources"] == prepared.report["sources"]
        assert p.fingerprint == prepared.fingerprint
    finally:
        server.stop()
