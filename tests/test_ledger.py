"""The ledger: durable appends, a torn last line ignored, one record per key."""

import json

from sweep import ledger


def test_append_and_read(tmp_path):
    p = tmp_path / "ledger.jsonl"
    ledger.append(p, {"config_id": "a", "rung": 10, "status": "ok", "val_accuracy": 0.5})
    ledger.append(p, {"config_id": "a", "rung": 20, "status": "ok", "val_accuracy": float("nan")})
    recs, skipped = ledger.read(p)
    assert skipped == 0
    assert [(r["config_id"], r["rung"]) for r in recs] == [("a", 10), ("a", 20)]
    assert recs[1]["val_accuracy"] is None  # NaN is written as null, the file stays JSON


def test_torn_last_line_is_ignored(tmp_path):
    p = tmp_path / "ledger.jsonl"
    ledger.append(p, {"config_id": "a", "rung": 10, "status": "ok"})
    whole = json.dumps({"config_id": "b", "rung": 10, "status": "ok"})
    with open(p, "a") as fh:
        fh.write(whole[: len(whole) // 2])  # a crash mid-write: no newline
    recs, skipped = ledger.read(p)
    assert [r["config_id"] for r in recs] == ["a"]
    assert skipped == 1
    assert set(ledger.latest(recs)) == {("a", 10)}
    # a complete record whose newline never made it is not trusted either
    p2 = tmp_path / "l2.jsonl"
    p2.write_text(whole)
    assert ledger.read(p2) == ([], 1)


def test_latest_prefers_ok(tmp_path):
    recs = [{"config_id": "a", "rung": 1, "status": "failed"},
            {"config_id": "a", "rung": 1, "status": "ok", "v": 1},
            {"config_id": "a", "rung": 1, "status": "failed"},
            {"config_id": "b", "rung": 1, "status": "failed"}]
    latest = ledger.latest(recs)
    assert latest[("a", 1)]["status"] == "ok"
    assert latest[("b", 1)]["status"] == "failed"
