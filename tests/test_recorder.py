"""Where a trial's records go (sweep.recorder): the ledger and TensorBoard events written on
the driver's node, what a configuration already has recorded, and which sink a trial gets.
Real files, no Ray (the Recorder actor's body is a plain class)."""

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from sweep import ledger
from sweep.recorder import LocalSink, Recorder, RemoteSink, sink_for


def recorded(path, config_id: str) -> dict[int, str]:
    """rung -> status of one configuration, as a trial sees it (sweep.ledger.index)."""
    return ledger.index(path, [config_id]).get(config_id, {})

TAGS = ["val_accuracy", "train_time_s"]


def rec(cid, rung, status="ok", **extra):
    return {"config_id": cid, "rung": rung, "n_train": rung, "status": status, **extra}


def events(run_dir):
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return acc


def hparams_of(acc) -> dict:
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {k: (v.string_value if v.HasField("string_value") else v.number_value) for k, v in start.hparams.items()}


def session_status(acc) -> str:
    from tensorboard.plugins.hparams import api_pb2

    content = acc.PluginTagToContent("hparams")["_hparams_/session_end_info"]
    return api_pb2.Status.Name(plugin_data_pb2.HParamsPluginData.FromString(content).session_end_info.status)


def test_local_sink_appends_read_back_exactly(tmp_path):
    path = tmp_path / "ledger.jsonl"
    sink = LocalSink(str(path), None)
    written = [rec("a", 10, val_accuracy=0.5, train_time_s=0.012, params={"C": 1.0, "layers": [8, 4]}),
               rec("a", 20, status="failed", error="ValueError: boom"),
               rec("b", 10, val_accuracy=0.75, roc_auc=None)]
    for r in written:
        sink.append(r)
    records, skipped = ledger.read(path)
    assert skipped == 0
    assert records == written                                   # every field, in order
    assert len(path.read_text().splitlines()) == 3              # one line per record
    assert sink.recorded_index(["a", "b"]) == {"a": {10: "ok", 20: "failed"}, "b": {10: "ok"}}


def test_local_sink_writes_events_readable_by_tensorboard(tmp_path):
    tb = tmp_path / "tensorboard"
    sink = LocalSink(str(tmp_path / "ledger.jsonl"), str(tb))
    sink.open("cfg1", {"C": 0.5, "max_depth": None, "architecture": "lr"}, TAGS)
    sink.rung(100, {"val_accuracy": 0.8, "train_time_s": 0.25})
    sink.rung(400, {"val_accuracy": 0.9, "train_time_s": float("nan")})  # not finite: not written
    sink.close(ok=True, stopped=True)
    assert sink.writer is None
    assert [p.name for p in tb.iterdir()] == ["cfg1"]                     # a run per configuration
    assert all(f.name.startswith("events.out.tfevents.") for f in (tb / "cfg1").iterdir())
    acc = events(tb / "cfg1")
    assert [(e.step, round(e.value, 6)) for e in acc.Scalars("val_accuracy")] == [(100, 0.8), (400, 0.9)]
    assert [(e.step, round(e.value, 6)) for e in acc.Scalars("train_time_s")] == [(100, 0.25)]
    assert [(e.step, e.value) for e in acc.Scalars("outcome/stopped")] == [(400, 1.0)]
    assert hparams_of(acc) == {"C": 0.5, "max_depth": "None", "architecture": "lr"}
    assert session_status(acc) == "STATUS_SUCCESS"
    assert not (tmp_path / "ledger.jsonl").exists()                       # events never touch the ledger


def test_local_sink_failed_run_is_a_failure_session_not_stopped(tmp_path):
    tb = tmp_path / "tb"
    sink = LocalSink(str(tmp_path / "ledger.jsonl"), str(tb))
    sink.open("cfg2", {"C": 1.0}, TAGS)
    sink.rung(50, {"val_accuracy": 0.6, "train_time_s": 0.1})
    sink.close(ok=False)
    acc = events(tb / "cfg2")
    assert session_status(acc) == "STATUS_FAILURE"
    assert [(e.step, e.value) for e in acc.Scalars("outcome/stopped")] == [(50, 0.0)]


def test_local_sink_without_events_dir_writes_no_events(tmp_path):
    sink = LocalSink(str(tmp_path / "ledger.jsonl"), None)
    sink.open("cfg", {"C": 1.0}, TAGS)
    sink.rung(10, {"val_accuracy": 0.5})
    sink.close(ok=True)
    sink.append(rec("cfg", 10))
    assert sink.writer is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ledger.jsonl"]


def test_local_sink_events_failure_is_not_fatal(tmp_path, capsys):
    blocked = tmp_path / "tb"
    blocked.write_text("a file where the events folder should be")
    sink = LocalSink(str(tmp_path / "ledger.jsonl"), str(blocked))
    sink.open("cfg", {"C": 1.0}, TAGS)
    sink.rung(10, {"val_accuracy": 0.5})   # held in memory (sweep.events.HOLD_S): no error yet
    sink.close(ok=True)                    # the write fails here: said once, never raised
    assert sink.writer is None
    sink.append(rec("cfg", 10))
    assert sink.recorded_index(["cfg"]) == {"cfg": {10: "ok"}}             # the ledger is unaffected
    err = capsys.readouterr().err
    assert err.count("warning: TensorBoard events not written (") == 1
    assert "the ledger is unaffected" in err


def test_local_sink_ledger_failure_is_fatal(tmp_path):
    sink = LocalSink(str(tmp_path / "no-such-dir" / "ledger.jsonl"), None)
    with pytest.raises(ledger.LedgerError, match=r"no-such-dir/ledger.jsonl: cannot append a record"):
        sink.append(rec("a", 10))


def test_recorded_one_configuration_only(tmp_path):
    path = tmp_path / "ledger.jsonl"
    for r in (rec("a", 10), rec("b", 10), rec("a", 20, status="failed"), rec("b", 20, status="timed_out"),
              rec("a", 40, status="stopped", stopped_after=20, reason="dominated")):
        ledger.append(path, r)
    assert recorded(path, "a") == {10: "ok", 20: "failed", 40: "stopped"}
    assert recorded(path, "b") == {10: "ok", 20: "timed_out"}
    assert recorded(path, "c") == {}


def test_recorded_ok_wins_over_failure_and_status_defaults_to_ok(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger.append(path, rec("a", 10, status="failed"))
    ledger.append(path, rec("a", 10, status="ok"))
    ledger.append(path, rec("a", 10, status="failed"))       # a retry after an ok: ok stands
    ledger.append(path, rec("a", 20, status="failed"))
    ledger.append(path, rec("a", 20, status="timed_out"))    # neither ok: the last
    ledger.append(path, {"config_id": "a", "rung": 30})        # no status field: ok
    assert recorded(path, "a") == {10: "ok", 20: "timed_out", 30: "ok"}


def test_recorded_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger.append(path, rec("a", 10))
    whole = json.dumps(rec("a", 20))
    with open(path, "a") as fh:
        fh.write(whole[:-5])                                   # a crash mid-write
    assert recorded(path, "a") == {10: "ok"}
    # the torn record is not done even when only its newline is missing
    with open(path, "a") as fh:
        fh.write(whole[-5:])
    assert recorded(path, "a") == {10: "ok"}


def test_recorded_of_a_missing_ledger_is_empty(tmp_path):
    assert recorded(tmp_path / "ledger.jsonl", "a") == {}


def test_sink_for_is_local_on_the_drivers_node(tmp_path):
    handle = object()  # stands for a Recorder actor handle; a RemoteSink only keeps it
    lp, ev = str(tmp_path / "ledger.jsonl"), str(tmp_path / "tb")
    for node, recorder in (("driver", handle), ("driver", None), ("other", None)):
        sink = sink_for(node, "driver", recorder, lp, ev)
        assert type(sink) is LocalSink
        assert (sink.ledger_path, sink.events_dir) == (lp, ev)
    remote = sink_for("other", "driver", handle, lp, None)
    assert type(remote) is RemoteSink
    assert (remote.recorder, remote.ledger_path, remote.events_dir) == (handle, lp, None)


def test_recorder_body_writes_the_same_files(tmp_path):
    """The actor's class body, used without Ray: the same ledger and TensorBoard runs."""
    path, tb = str(tmp_path / "ledger.jsonl"), str(tmp_path / "tb")
    r = Recorder()
    assert r.open(tb, "x", {"C": 1.0}, TAGS) is True
    assert r.open(tb, "y", {"C": 2.0}, TAGS) is True
    r.rung("x", 10, {"val_accuracy": 0.5})
    r.rung("y", 10, {"val_accuracy": 0.25})
    r.rung("never-opened", 10, {"val_accuracy": 1.0})          # ignored, no run made
    assert r.append(path, rec("x", 10)) is True
    assert r.append(path, rec("y", 10, status="failed")) is True
    assert r.close("x", ok=True) is True
    assert r.close("y", ok=False, stopped=True) is True
    assert r.close("x", ok=True) is True                        # closing twice is harmless
    assert r.writers == {}
    assert ledger.read(path) == ([rec("x", 10), rec("y", 10, status="failed")], 0)
    assert r.recorded_index(path, ["y"]) == {"y": {10: "failed"}}
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["x", "y"]
    x, y = events(tmp_path / "tb" / "x"), events(tmp_path / "tb" / "y")
    assert [(e.step, e.value) for e in x.Scalars("val_accuracy")] == [(10, 0.5)]
    assert [(e.step, e.value) for e in y.Scalars("val_accuracy")] == [(10, 0.25)]
    assert [e.value for e in y.Scalars("outcome/stopped")] == [1.0]
    assert (session_status(x), session_status(y)) == ("STATUS_SUCCESS", "STATUS_FAILURE")


def test_a_cheap_first_rung_is_shown_when_the_next_will_end_past_the_hold(tmp_path):
    """Events are held while a configuration is quick, but a first rung whose successor is
    expected to end past HOLD_S is written at once, so a long second rung does not hide it."""
    from sweep import events

    w = events.ConfigEvents(tmp_path, "c", {"a": 1}, ["val_accuracy"])
    w.rung(10, {"val_accuracy": 0.5}, next_step=20)
    assert not (tmp_path / "c").exists()  # expected to end well within the hold: held
    w.t0 -= 0.3  # as if the first rung had taken 0.3 s: the next, 100 x larger, will end past 1 s
    w.rung(20, {"val_accuracy": 0.6}, next_step=2000)
    files = list((tmp_path / "c").glob("events.out.tfevents.*"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    w.close(ok=True)
