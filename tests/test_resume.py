"""Killed drivers, resume, extend and interrupts: real driver processes in their own
sessions, SIGKILLed as a group at random moments; evidence of every fit start is kept
outside the ledger by sweep.testing's estimator (one log line per fit: pid, n, delay)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, cli_main
from raycluster import pids_with_env

pytestmark = pytest.mark.slow
DELAYS = [0.20, 0.21, 0.22, 0.23, 0.24, 0.25]
SIZES = [0.2, 0.5, 1.0]
KILLS = int(os.environ.get("SWEEP_KILL_ROUNDS", "2"))   # two in CI; SWEEP_KILL_ROUNDS=20 for a deeper search


def _space(tmp: Path, digits_spec: Path, log: Path, extra: list | None = None,
           delays: list[float] = DELAYS) -> Path:
    space = {"name": "faults", "dataset": str(digits_spec), "sample_sizes": SIZES,
             "pruning": {"policy": "none"}, "allow": {"path_params": ["log_path"]}, "architectures": [
        {"name": "slow", "estimator": "sweep.testing.SlowClassifier",
         "params": {"log_path": str(log)}, "grid": {"delay": delays}}] + (extra or [])}
    p = tmp / "space.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    return p


def _marked(mark: str, prefix: bool = False) -> list[int]:
    return pids_with_env("SWEEP_TEST_DRIVER", mark, prefix)


@pytest.fixture(autouse=True)
def _no_driver_left():
    """Whatever a test ends with (a failed assertion included), no driver it started, nor
    any Ray process of one, outlives it: found by this session's marker, killed by PID."""
    yield
    prefix = f"drv-{os.getpid()}-"
    for _ in range(3):
        left = _marked(prefix, prefix=True)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not left:
            return
        time.sleep(0.5)


def _driver(args: list[str], mark: str, log: Path, env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "SWEEP_TEST_DRIVER": mark, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "sweep", *args, "--num-cpus", "2"], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def _start_until(space: Path | None, run_dir: Path, k: int, mark: str, log: Path,
                 env_extra: dict | None = None) -> subprocess.Popen:
    """Start `sweep run SPACE --out RUN_DIR` (without SPACE: `sweep resume RUN_DIR`) as a
    marked driver in its own session and wait (up to 180 s) until its ledger holds k pairs
    or the driver has ended."""
    args = ["run", str(space), "--out", str(run_dir)] if space is not None else ["resume", str(run_dir)]
    p = _driver(args, mark, log, env_extra)
    end = time.time() + 180
    while time.time() < end and p.poll() is None and len(_ledger_pairs(run_dir)) < k:
        time.sleep(0.05)
    return p


def _ledger_pairs(run_dir: Path) -> set:
    p = run_dir / "ledger.jsonl"
    if not p.exists():
        return set()
    out = set()
    for line in p.read_text().splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a torn last line
        out.add((r["config_id"], r["rung"]))
    return out


def _fit_starts(log: Path) -> list[tuple[int, int, float]]:
    if not log.exists():
        return []
    return [(int(a), int(b), float(c)) for a, b, c in (line.split() for line in log.read_text().splitlines())]


def _kill_group_and_wait(p: subprocess.Popen, mark: str) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:  # the driver and its group already ended
        pass
    p.wait(timeout=30)
    end = time.time() + 30
    while time.time() < end:  # Ray's processes notice their driver died; any left are ours
        left = _marked(mark)
        if not left:
            return
        if time.time() > end - 20:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.5)
    assert not _marked(mark), "processes of the killed driver are still alive"


CHAIN_DELAYS = [round(0.2 + 0.01 * i, 2) for i in range(14)]  # 14 x 3 rungs = 42 pairs


def test_sigkilled_driver_then_resume_loses_nothing_and_reruns_nothing(tmp_path, digits_spec, ray_session):
    """KILLS rounds: a driver of one run (`sweep run`, then `sweep resume` of it, again and
    again) is SIGKILLed as a group at a random point, after at least one new pair and before
    the last. A final resume completes the run. The run ends with exactly the grid's pairs,
    never marked complete before that, and no driver's trials fitted a pair that was in the
    ledger when that driver started. (Should a driver finish before its kill, that run is
    checked the same way and a new one started.)"""
    rng = random.Random(20261127)
    total = len(CHAIN_DELAYS) * len(SIZES)
    kills, attempts, runs, run = 0, 0, [], None
    while kills < KILLS and attempts < KILLS * 3:
        attempts += 1
        if run is None:
            work = tmp_path / f"run{len(runs)}"
            work.mkdir()
            run = {"dir": work / "run", "fits": work / "fits.log", "drivers": []}
            run["space"] = _space(work, digits_spec, run["fits"], delays=CHAIN_DELAYS)
            runs.append(run)
        before = _ledger_pairs(run["dir"])
        mark = f"drv-{os.getpid()}-{attempts}"
        driver = {"done": before, "start": len(_fit_starts(run["fits"]))}
        p = _start_until(None if run["drivers"] else run["space"], run["dir"], len(before) + rng.randint(1, 3),
                         mark, run["dir"].parent / f"driver{attempts}.log")
        if p.poll() is None:
            time.sleep(rng.random() * 0.3)  # somewhere inside the next fits
        _kill_group_and_wait(p, mark)
        driver["pid"] = p.pid
        run["drivers"].append(driver)
        if p.returncode == 0:  # it finished before the chosen moment: not a kill round
            _check_run(run, total)
            run = None
            continue
        after = _ledger_pairs(run["dir"])
        assert after >= before                                          # nothing recorded is lost
        assert json.loads((run["dir"] / "manifest.json").read_text())["status"] == "running"
        kills += len(before) < len(after) < total
    if run is not None:  # the final resume in this process, on the session's Ray
        driver = {"done": _ledger_pairs(run["dir"]), "start": len(_fit_starts(run["fits"]))}
        rc, out, err = cli_main("resume", str(run["dir"]))
        assert rc == 0, (out + err)[-3000:]
        run["drivers"].append({**driver, "pid": os.getpid()})
        _check_run(run, total)
    assert kills >= KILLS, f"only {kills} kill rounds in {attempts} attempts"


def _check_run(run: dict, total: int) -> None:
    """The run is complete with exactly `total` pairs, and no driver's trials fitted a pair
    that was in the ledger at that driver's start (a driver's own fits, in its own process,
    are the test-split scoring of frontier points)."""
    trials = pd.read_parquet(run["dir"] / "trials.parquet")
    pairs = list(zip(trials["config_id"], trials["rung"]))
    assert len(pairs) == len(set(pairs)) == total                      # the full grid, no duplicates
    m = json.loads((run["dir"] / "manifest.json").read_text())
    assert m["status"] == "complete"
    if len(run["drivers"]) > 1:
        assert m["history"][-1]["action"] == "resume"
    delay = dict(zip(trials["config_id"], trials["param_delay"]))
    n_train = dict(zip(trials["rung"], trials["n_train"]))
    starts = _fit_starts(run["fits"])
    for i, d in enumerate(run["drivers"]):
        end = run["drivers"][i + 1]["start"] if i + 1 < len(run["drivers"]) else len(starts)
        done = {(delay[c], n_train[r]) for c, r in d["done"]}
        rerun = [(n, dl) for pid, n, dl in starts[d["start"]:end] if pid != d["pid"] and (dl, n) in done]
        assert not rerun, f"driver {i}: pairs in the ledger at its start fitted again: {rerun}"


def test_extend_runs_only_the_new_architecture(tmp_path, digits_spec, ray_session):
    """In this process on the session's Ray (no signal or exit code is checked here)."""
    import sweep

    quiet = {"echo": lambda *a, **k: None, "progress_stream": open(os.devnull, "w")}
    fits = tmp_path / "fits.log"
    space = _space(tmp_path, digits_spec, fits)
    run_dir = tmp_path / "run"
    sweep.run(space, out=run_dir, **quiet)
    first = pd.read_parquet(run_dir / "trials.parquet")
    scored_before = (run_dir / "test_scores.jsonl").read_text().splitlines()
    n_fits = len(_fit_starts(fits))

    lr = {"name": "logreg", "estimator": "sklearn.linear_model.LogisticRegression", "scale": True,
          "params": {"max_iter": 300}, "grid": {"C": [0.1, 1.0]}}
    space = _space(tmp_path, digits_spec, fits, extra=[lr])
    sweep.extend(run_dir, space, **quiet)
    # not one fit of the old architecture by a trial (the driver's own are test scoring)
    assert [f for f in _fit_starts(fits)[n_fits:] if f[0] != os.getpid()] == []
    both = pd.read_parquet(run_dir / "trials.parquet")
    assert set(both["architecture"]) == {"slow", "logreg"}
    assert len(both) == len(first) + 2 * len(SIZES)
    old = both[both["architecture"] == "slow"].set_index(["config_id", "rung"]).sort_index()
    pd.testing.assert_series_equal(old["val_accuracy"], first.set_index(["config_id", "rung"]).sort_index()["val_accuracy"])
    # only new frontier members were scored on test: old records kept, none scored twice
    scored = (run_dir / "test_scores.jsonl").read_text().splitlines()
    assert scored[:len(scored_before)] == scored_before
    keys = [(json.loads(s)["config_id"], json.loads(s)["rung"]) for s in scored]
    assert len(keys) == len(set(keys))
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["history"][-1]["action"] == "extend" and m["status"] == "complete"


def test_extend_with_changed_data_is_refused(tmp_path, digits_spec, ray_session):
    fits = tmp_path / "fits.log"
    space = _space(tmp_path, digits_spec, fits)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    manifest = json.dumps({"status": "complete", "data_fingerprint": "0" * 16})
    (run_dir / "manifest.json").write_text(manifest)
    (run_dir / "spec.yaml").write_text("the run's own spec\n")
    rc, _, err = cli_main("run", str(space), "--out", str(run_dir), "--extend")
    assert rc == 2 and "the data changed since this run started" in err, err[-2000:]
    assert "Traceback" not in err
    # the refused extend left the run exactly as it was
    assert sorted(p.name for p in run_dir.iterdir()) == ["manifest.json", "spec.yaml"]
    assert (run_dir / "manifest.json").read_text() == manifest
    assert (run_dir / "spec.yaml").read_text() == "the run's own spec\n"


@pytest.mark.parametrize("presses", [1, 2])
def test_sigint_stops_cleanly_then_resume_completes(tmp_path, digits_spec, presses, ray_session):
    """Ctrl-C (and a second Ctrl-C while Tune stops its trials): exit 130, the resume command
    printed, the run marked interrupted, no process of the driver left; resume completes
    (after one Ctrl-C: the run state both leave is the same)."""
    fits = tmp_path / "fits.log"
    space = _space(tmp_path, digits_spec, fits)
    run_dir = tmp_path / "run"
    mark = f"drv-{os.getpid()}-int{presses}"
    p = _start_until(space, run_dir, 3, mark, tmp_path / "driver.log")
    os.kill(p.pid, signal.SIGINT)
    if presses == 2:
        time.sleep(0.3)
        assert p.poll() is None, "the driver stopped within 0.3 s: the second Ctrl-C would test nothing"
        os.kill(p.pid, signal.SIGINT)
    rc = p.wait(timeout=120)
    out = (tmp_path / "driver.log").read_text()
    assert rc == 130, out[-3000:]
    assert f"sweep resume {run_dir}" in out
    assert "Traceback" not in out, out[-3000:]
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "interrupted"
    assert not (run_dir / "trials.parquet").exists() or m["status"] != "complete"
    end = time.time() + 20
    while _marked(mark) and time.time() < end:  # Ray's processes end with their driver
        time.sleep(0.5)
    assert not _marked(mark), "processes of the interrupted driver are still alive"
    if presses == 2:  # the resume after one Ctrl-C checks the same run state
        return
    rc, out, err = cli_main("resume", str(run_dir))   # in this process, on the session's Ray
    assert rc == 0, (out + err)[-3000:]
    trials = pd.read_parquet(run_dir / "trials.parquet")
    assert len(trials) == len(DELAYS) * len(SIZES)


def test_time_limit_and_retries(tmp_path, digits_spec, ray_session):
    """`sweep run` in this process (sweep.cli.main) on the session's Ray: exit 4, the summary."""
    marker = tmp_path / "flaky.marker"
    space = {"name": "limits", "dataset": str(digits_spec), "sample_sizes": [0.5, 1.0], "max_failures": 1,
             "pruning": {"policy": "none"}, "allow": {"path_params": ["marker_path"]},
             "architectures": [
                 {"name": "sleepy", "estimator": "sweep.testing.SlowClassifier", "time_limit_s": 1.5,
                  "params": {"delay": 4.0}},
                 {"name": "flaky", "estimator": "sweep.testing.FlakyClassifier",
                  "params": {"marker_path": str(marker)}},
                 {"name": "broken", "estimator": "sweep.testing.FailingClassifier"},
                 {"name": "quick", "estimator": "sweep.testing.SlowClassifier", "grid": {"delay": [0.0, 0.01]}}]}
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    run_dir = tmp_path / "run"
    rc, stdout, stderr = cli_main("run", str(p), "--out", str(run_dir))
    out = stdout + stderr
    assert rc == 4, out[-3000:]
    t = pd.read_parquet(run_dir / "trials.parquet")
    by = t.groupby("architecture")["status"].apply(list).to_dict()
    assert by["sleepy"] == ["timed_out"], by                  # its first rung passed the limit
    assert by["broken"] == ["failed"] and by["flaky"] == ["ok", "ok"] and by["quick"] == ["ok"] * 4
    assert "time limit of 1.5 s" in t[t["architecture"] == "sleepy"]["error"].iloc[0]
    assert "RuntimeError: this estimator always fails" in t[t["architecture"] == "broken"]["error"].iloc[0]
    assert marker.exists()                                   # flaky failed once, then was retried
    led = [json.loads(x) for x in (run_dir / "ledger.jsonl").read_text().splitlines()]
    assert [x["attempts"] for x in led if x["architecture"] == "broken"] == [2]   # 1 + max_failures
    assert "timed_out" in out and "sleepy" in out and "broken" in out   # listed in the summary
    html = (run_dir / "report.html").read_text()
    assert "timed_out" in html and "sleepy" in html


def test_disk_full_mid_run_is_a_clear_error_then_resume_completes(tmp_path, digits_spec, ray_session):
    disk = tmp_path / "disk"
    disk.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({r.stderr.strip()[:100]}); needs root")
    p, mark = None, ""
    try:
        fits = tmp_path / "fits.log"
        space = _space(tmp_path, digits_spec, fits)
        run_dir = disk / "run"
        mark = f"drv-{os.getpid()}-full"
        p = _start_until(space, run_dir, 3, mark, tmp_path / "driver.log")
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)  # take every byte left
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        rc = p.wait(timeout=300)
        out = (tmp_path / "driver.log").read_text()
        assert rc == 2, out[-3000:]
        err = [line for line in out.splitlines() if line.startswith("sweep: error:")]
        assert len(err) == 1 and "No space left on device" in err[0] and f"sweep resume {run_dir}" in err[0], out[-2000:]
        assert "Traceback" not in out and "Unhandled error" not in out and 'File "' not in out, out[-3000:]
        _kill_group_and_wait(p, mark)
        before = _ledger_pairs(run_dir)  # whole lines only: a torn one is not a record
        assert not (run_dir / "trials.parquet").exists()
        filler.unlink()
        rc, out2, err2 = cli_main("resume", str(run_dir))   # in this process, on the session's Ray
        assert rc == 0, (out2 + err2)[-3000:]
        trials = pd.read_parquet(run_dir / "trials.parquet")
        pairs = list(zip(trials["config_id"], trials["rung"]))
        assert len(pairs) == len(set(pairs)) == len(DELAYS) * len(SIZES) and set(pairs) >= before
        assert (trials["status"] == "ok").all()
    finally:
        if p is not None and p.poll() is None:  # a failed assertion must not leave the driver running
            _kill_group_and_wait(p, mark)
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_sigkill_mid_batch_loses_no_written_record_and_refits_none(tmp_path, digits_spec, ray_session):
    """Group commit (sweep.ledger.Appender): with fsyncs held back for a minute, the records
    of the trials still running when the whole driver group is SIGKILLed were written but
    not fsynced. Every one of them is in the ledger afterwards, whole, and the resumed run
    fits none of them again. A torn record added after the kill (as after a power loss) is
    passed over with a warning, and does not stop the resume."""
    fits = tmp_path / "fits.log"
    space = _space(tmp_path, digits_spec, fits, delays=CHAIN_DELAYS)
    run_dir = tmp_path / "run"
    mark = f"drv-{os.getpid()}-batch"
    p = _start_until(space, run_dir, 10, mark, tmp_path / "a.log", env_extra={"SWEEP_LEDGER_SYNC_S": "60"})
    assert p.poll() is None, (tmp_path / "a.log").read_text()[-2000:]
    _kill_group_and_wait(p, mark)
    lines = (run_dir / "ledger.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"", "a torn last line: a record was cut mid-write"
    before = _ledger_pairs(run_dir)
    assert len(before) >= 10
    with open(run_dir / "ledger.jsonl", "a") as fh:
        fh.write('{"config_id": "abc", "rung": 12, "stat')
    started = len(_fit_starts(fits))
    rc, out, err = cli_main("resume", str(run_dir))   # in this process, on the session's Ray
    assert rc == 0, (out + err)[-3000:]
    assert "torn or unreadable ledger line" in out + err
    trials = pd.read_parquet(run_dir / "trials.parquet")
    cid = {round(d, 2): c for d, c in zip(trials["param_delay"], trials["config_id"])}
    # the resumed driver's own fits, in its own process, are the test-split scoring of the frontier
    refit = {(cid[round(d, 2)], n) for pid, n, d in _fit_starts(fits)[started:] if pid != os.getpid()} & before
    assert refit == set(), f"recorded pairs fitted again after the kill: {sorted(refit)}"
    pairs = list(zip(trials["config_id"], trials["rung"]))
    assert len(pairs) == len(set(pairs)) == len(CHAIN_DELAYS) * len(SIZES) and (trials["status"] == "ok").all()
