"""TensorBoard: a real server over loopback shows one run per configuration plus the summary
run, the scalars of trials.parquet, and an HParams table with every hyperparameter — for a
finished sweep and for one still running."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sweep
from conftest import REPO

TB = str(Path(sys.executable).parent / "tensorboard")

SPACE = {"name": "tb", "sample_sizes": [0.3, 1.0], "pruning": {"policy": "none"}, "architectures": [
    {"name": "tree", "estimator": "sklearn.tree.DecisionTreeClassifier",
     "params": {"min_samples_leaf": 2}, "grid": {"max_depth": [None, 3]}},
    {"name": "mlp", "estimator": "sklearn.neural_network.MLPClassifier", "scale": True,
     "params": {"max_iter": 30, "hidden_layer_sizes": [8, 4]}}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Board:
    def __init__(self, logdir: Path):
        self.port = free_port()
        self.proc = subprocess.Popen([TB, "--logdir", str(logdir), "--host", "127.0.0.1", "--port",
                                      str(self.port), "--reload_interval", "1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return json.loads(r.read())

    def post(self, path, body):
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def wait_runs(self, wanted: set, timeout=90):
        end = time.time() + timeout
        while time.time() < end:
            try:
                runs = set(self.get("/data/runs"))
                if wanted <= runs:
                    return runs
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"TensorBoard never listed {wanted}")

    def scalars(self, run, tag):
        return self.get(f"/data/plugin/scalars/scalars?run={run}&tag={tag}")

    def sessions(self):
        body = {"experimentName": "", "startIndex": 0, "sliceSize": 1000, "colParams": [],
                "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]}
        return self.post("/data/plugin/hparams/session_groups", body)

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, ray_session, digits_spec):
    import yaml
    d = tmp_path_factory.mktemp("tb")
    (d / "space.yaml").write_text(yaml.safe_dump({"dataset": str(digits_spec), **SPACE}))
    res = sweep.run(d / "space.yaml", out=d / "run", progress_stream=open(os.devnull, "w"), echo=lambda *a: None)
    return res


@pytest.mark.slow
def test_finished_sweep_in_a_real_tensorboard(finished):
    trials = finished.trials
    ids = set(trials["config_id"])
    board = Board(finished.run_dir / "tensorboard")
    try:
        runs = board.wait_runs(ids | {"summary"})
        assert runs == ids | {"summary"}
        for cid, g in trials.groupby("config_id"):
            g = g.sort_values("n_train")
            for tag in ("val_accuracy", "train_time_s", "predict_time_s", "val_f1_macro"):
                pts = board.scalars(cid, tag)
                assert [p[1] for p in pts] == g["n_train"].tolist()
                np.testing.assert_array_equal(np.float32([p[2] for p in pts]), np.float32(g[tag]))
        exp = board.post("/data/plugin/hparams/experiment", {"experimentName": ""})
        names = {h["name"] for h in exp["hparamInfos"]}
        assert {"architecture", "config_id", "seed", "max_depth", "min_samples_leaf", "hidden_layer_sizes",
                "max_iter"} <= names
        groups = board.sessions()["sessionGroups"]
        sessions = [s for g in groups for s in g["sessions"]]
        assert sorted(s["name"] for s in sessions) == sorted(ids)       # one session per configuration
        by_id = {g["hparams"]["config_id"]: g["hparams"] for g in groups}
        tree_none = trials[(trials["architecture"] == "tree") & (trials["param_max_depth"] == "null")]
        assert by_id[tree_none["config_id"].iloc[0]]["max_depth"] == "None"     # None kept, as text
        mlp = trials[trials["architecture"] == "mlp"]["config_id"].iloc[0]
        assert by_id[mlp]["hidden_layer_sizes"] == "[8, 4]"                      # a list kept, as text
        texts = board.get("/data/plugin/text/tags")
        assert any(t.startswith("frontier") for t in texts.get("summary", []))
        images = board.get("/data/plugin/images/tags")
        assert any(t.startswith("pareto") for t in images.get("summary", {}))
        done = board.scalars("summary", "progress/fits_done")   # the live ETA's stream, step = fits done
        eta = board.scalars("summary", "progress/eta_s")
        assert done and eta and [p[1] for p in done] == sorted(p[1] for p in done)
        assert all(p[2] >= 0 for p in eta)
    finally:
        board.stop()


@pytest.mark.slow
def test_no_duplicate_event_streams(finished):
    files = list(Path(finished.run_dir).rglob("events.out.tfevents*"))
    tb = finished.run_dir / "tensorboard"
    assert all(f.parent.parent == tb for f in files)                 # nothing from Tune's loggers
    per_run = pd.Series([f.parent.name for f in files]).value_counts()
    assert set(per_run.index) == set(finished.trials["config_id"]) | {"summary"}
    assert (per_run.drop("summary") == 1).all()
    # the summary run: the live ETA's stream (written while the trials ran) and the final summary
    assert sorted(f.name.endswith(".eta") for f in files if f.parent.name == "summary") == [False, True]


@pytest.mark.slow
def test_running_sweep_shows_finished_rungs(tmp_path, digits_spec):
    import yaml
    space = {"dataset": str(digits_spec), "name": "live", "sample_sizes": [0.2, 0.5, 1.0],
             "pruning": {"policy": "none"}, "architectures": [
        {"name": "slow", "estimator": "sweep.testing.SlowClassifier", "grid": {"delay": [4.0]}},
        {"name": "tree", "estimator": "sklearn.tree.DecisionTreeClassifier", "grid": {"max_depth": [3]}}]}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(tmp_path / "space.yaml"), "--out", str(out),
                             "--num-cpus", "2"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    board = None
    try:
        ledger = out / "ledger.jsonl"
        end = time.time() + 180
        slow_done = []
        while time.time() < end:
            if ledger.exists():
                recs = [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]
                slow_done = [r for r in recs if r["architecture"] == "slow"]
                if slow_done:
                    break
            time.sleep(0.2)
        assert slow_done and proc.poll() is None, "the slow configuration should be mid-way"
        cid = slow_done[0]["config_id"]
        board = Board(out / "tensorboard")
        board.wait_runs({cid}, timeout=60)
        end = time.time() + 30
        pts = []
        while time.time() < end and not pts:
            try:
                pts = board.scalars(cid, "val_accuracy")
            except urllib.error.HTTPError:   # 404 until TensorBoard has loaded the tag
                time.sleep(0.5)
        assert pts and pts[0][1] == slow_done[0]["n_train"]
        sessions = [s["name"] for g in board.sessions()["sessionGroups"] for s in g["sessions"]]
        assert cid in sessions
        assert proc.poll() is None              # the sweep was still running while we looked
    finally:
        if board:
            board.stop()
        try:  # the live view was what this checks: stop the sweep (Ctrl-C) rather than wait for it
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGINT)
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.mark.slow
def test_sweep_tensorboard_command(finished):
    proc = subprocess.Popen([sys.executable, "-m", "sweep", "tensorboard", str(finished.run_dir), "--port", "0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert "at http://127.0.0.1:" in line, line
        url = line.split(" at ")[1].split()[0].rstrip("/")
        end = time.time() + 60
        runs = []
        while time.time() < end and "summary" not in runs:
            with urllib.request.urlopen(url + "/data/runs", timeout=10) as r:
                runs = json.loads(r.read())
            time.sleep(0.5)
        assert set(runs) == set(finished.trials["config_id"]) | {"summary"}
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_sweep_tensorboard_on_a_wrong_folder(tmp_path):
    from conftest import run_cli
    proc = run_cli("tensorboard", str(tmp_path))
    assert proc.returncode == 2 and "no tensorboard/ folder" in proc.stderr and "Traceback" not in proc.stderr


def test_event_writer_does_not_import_torch(tmp_path):
    """tensorboardX's writer runs `import torch` where torch is installed (seconds in every
    trial process); sweep's writer hides it for that import only. A stand-in `torch` that
    leaves a mark shows the plain import takes it, sweep's does not, and a later import of
    torch still works."""
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    mark = tmp_path / "torch-imported"
    (fake / "__init__.py").write_text(f"open({str(mark)!r}, 'a').write('x')\nTensor = object\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{REPO}"}

    def run(code: str) -> str:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert run("import tensorboardX, sys; print('torch' in sys.modules)") == "True" and mark.exists()
    mark.unlink()
    got = run(f"""
import sys
from sweep.events import ConfigEvents, write_summary
ev = ConfigEvents({str(tmp_path / 'tb')!r}, 'c1', {{'max_depth': 3}}, ['val_accuracy'])
ev.rung(10, {{'val_accuracy': 0.5}})
ev.close()
write_summary({str(tmp_path / 'tb')!r}, '| frontier |', None)
print('torch' in sys.modules)
import torch
print('torch' in sys.modules)
""")
    assert got.split() == ["False", "True"], got
    assert mark.read_text() == "x"  # only the explicit import at the end reached torch
    runs = sorted(p.name for p in (tmp_path / "tb").iterdir())
    assert runs == ["c1", "summary"] and any((tmp_path / "tb" / "c1").iterdir())
