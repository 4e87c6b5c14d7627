"""Existing clusters: a real 2-node loopback cluster (separate `ray start` processes, token
auth on), `sweep run --address`, `sweep submit --follow`, `sweep jobs`, the security checks,
connect timeouts, and the cluster manifests against Ray's own schema."""

from __future__ import annotations

import copy
import json
import os
import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, run_cli
from raycluster import LoopbackCluster

SMOKE_SPACE = "search_spaces/default.yaml"


@pytest.fixture(scope="module")
def cluster():
    c = LoopbackCluster(token_auth=True)
    try:
        c.start_head(num_cpus=1)
        c.add_worker(num_cpus=1)
        yield c
    finally:
        left = c.stop()
        assert not left, f"processes of the test cluster still alive: {left}"


@pytest.fixture(scope="module")
def local_run(smoke_run):
    """The same smoke sweep on a local Ray of its own (conftest's session run): the reference
    for identical metrics (config_id and the data's rows do not depend on where the sources lie)."""
    return smoke_run[0]


def _metrics(run_dir: Path) -> pd.DataFrame:
    t = pd.read_parquet(run_dir / "trials.parquet")
    cols = ["config_id", "rung"] + sorted(c for c in t.columns if c.startswith("val_"))
    return t[cols].sort_values(["config_id", "rung"]).reset_index(drop=True)


@pytest.mark.slow
def test_run_with_address_matches_a_local_run(cluster, local_run, tmp_path):
    out = tmp_path / "run"
    r = run_cli("run", SMOKE_SPACE, "--smoke", "--exhaustive", "--address", cluster.address, "--out", str(out),
                env=cluster.env)
    assert r.returncode == 0, r.stderr[-3000:] + cluster.log_tail()
    t = pd.read_parquet(out / "trials.parquet")
    assert (t["status"] == "ok").all()
    pd.testing.assert_frame_equal(_metrics(out), _metrics(local_run))
    m = json.loads((out / "manifest.json").read_text())
    assert m["address"] == cluster.address and m["status"] == "complete"
    assert {p.name for p in (out / "tensorboard").iterdir()} >= set(t["config_id"])


def _slow_space(tmp_path: Path, digits_spec: Path, name: str, sizes: list, delay: float) -> Path:
    """A space of 6 SlowClassifier configurations (delays delay, delay + 0.01, ...), every pair fitted."""
    space = {"name": name, "dataset": str(digits_spec), "sample_sizes": sizes, "pruning": {"policy": "none"},
             "architectures": [{"name": "slow", "estimator": "sweep.testing.SlowClassifier",
                                "grid": {"delay": [round(delay + 0.01 * k, 2) for k in range(6)]}}]}
    p = tmp_path / "space.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    return p


@pytest.mark.slow
def test_run_with_address_spreads_over_both_nodes(cluster, tmp_path, digits_spec):
    # Trials that keep the head's one CPU busy for seconds: the smoke grid's millisecond trials
    # can all finish on the head (Tune reuses its actor) before the worker's first actor is up,
    # which says nothing about placement.
    p = _slow_space(tmp_path, digits_spec, "spread", [0.5, 1.0], 1.0)
    out = tmp_path / "run"
    r = run_cli("run", str(p), "--address", cluster.address, "--out", str(out), env=cluster.env)
    assert r.returncode == 0, r.stderr[-3000:] + cluster.log_tail()
    t = pd.read_parquet(out / "trials.parquet")
    assert len(t) == 12 and (t["status"] == "ok").all()
    assert t["node_id"].nunique() == 2, t["node_id"].value_counts()
    # trials on the worker node wrote through the recorder: every configuration has its TensorBoard run
    assert {p.name for p in (out / "tensorboard").iterdir()} >= set(t["config_id"])


@pytest.mark.slow
def test_submit_follow_matches_a_local_run_and_keeps_the_token_secret(cluster, local_run, tmp_path):
    store = tmp_path / "store"
    seen_args: list[str] = []
    stop = threading.Event()

    def watch_argv():  # every process's argument list, while the job runs
        while not stop.is_set():
            for d in Path("/proc").iterdir():
                if d.name.isdigit():
                    try:
                        seen_args.append((d / "cmdline").read_bytes().decode(errors="replace"))
                    except OSError:
                        pass
            time.sleep(0.3)

    th = threading.Thread(target=watch_argv, daemon=True)
    th.start()
    try:
        r = run_cli("submit", SMOKE_SPACE, "--smoke", "--exhaustive", "--address", cluster.dashboard, "--follow",
                    "--storage", f"file://{store}", env=cluster.env)
    finally:
        stop.set()
        th.join()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "SUCCEEDED" in r.stdout
    runs = list(store.iterdir())
    assert len(runs) == 1, runs
    pd.testing.assert_frame_equal(_metrics(runs[0]), _metrics(local_run))
    local_fp = json.loads((local_run / "manifest.json").read_text())["data_fingerprint"]
    assert json.loads((runs[0] / "manifest.json").read_text())["data_fingerprint"] == local_fp

    # the token is in no process's argv, in nothing sweep printed, in no Ray log, in no run file
    assert seen_args and not any(cluster.token in a for a in seen_args)
    assert cluster.token not in r.stdout + r.stderr
    logs = [p for pattern in ("*.log", "*.out", "*.err") for p in cluster.root.rglob(pattern)]
    assert len(logs) > 20  # Ray's session logs of both nodes, and the `ray start` output
    for p in logs + [p for p in runs[0].rglob("*") if p.is_file()]:
        assert cluster.token.encode() not in p.read_bytes(), p


@pytest.mark.slow
def test_token_auth(cluster, tmp_path):
    empty = tmp_path / "home"
    (empty / ".ray").mkdir(parents=True)
    env = {k: v for k, v in cluster.env.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")}
    # run_cli starts from this process's environment, where an earlier in-process ray.init
    # (Ray's token default) may have set RAY_AUTH_MODE: blank it, so that no token is implied
    env.update(HOME=str(empty), RAY_AUTH_MODE="")
    r = run_cli("jobs", "list", "--address", cluster.dashboard, env=env)
    assert r.returncode == 2 and "requires a token and none was found" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    wrong = tmp_path / "wrong_token"
    wrong.write_text("not-the-token")
    r = run_cli("jobs", "list", "--address", cluster.dashboard, env={**env, "RAY_AUTH_TOKEN_PATH": str(wrong)})
    assert r.returncode == 2 and "rejected this machine's token" in r.stderr, r.stderr
    right = tmp_path / "right_token"
    right.write_text(cluster.token)
    r = run_cli("jobs", "list", "--address", cluster.dashboard, env={**env, "RAY_AUTH_TOKEN_PATH": str(right)})
    assert r.returncode == 0, r.stderr
    # the cluster's own listing, whatever jobs other tests ran (none, in a run of this test alone)
    own = run_cli("jobs", "list", "--address", cluster.dashboard, env=cluster.env)
    assert own.returncode == 0 and r.stdout == own.stdout, (r.stdout, own.stdout)
    assert cluster.token not in r.stdout + r.stderr


@pytest.mark.slow
def test_failed_job_exits_nonzero_with_its_last_lines(cluster):
    r = run_cli("submit", "--smoke", "--address", cluster.dashboard, "--follow",
                "--storage", "file:///proc/no-such-dir", env=cluster.env)
    assert r.returncode == 5, r.stdout + r.stderr          # EXIT_JOB_FAILED, not 1 (a bug)
    assert "ended FAILED; its last log lines:" in r.stdout
    tail = r.stdout.split("its last log lines:", 1)[1]
    assert "--storage 'file:///proc/no-such-dir' is not writable" in tail


@pytest.mark.slow
def test_jobs_status_logs_stop(cluster):
    r = run_cli("submit", "--smoke", "--address", cluster.dashboard, env=cluster.env)
    assert r.returncode == 0, r.stderr
    job_id = r.stdout.split("submitted job ", 1)[1].split()[0]
    r = run_cli("jobs", "stop", job_id, "--address", cluster.dashboard, env=cluster.env)
    assert r.returncode == 0 and job_id in r.stdout, r.stderr
    for _ in range(60):
        r = run_cli("jobs", "status", job_id, "--address", cluster.dashboard, env=cluster.env)
        if "STOPPED" in r.stdout or "SUCCEEDED" in r.stdout or "FAILED" in r.stdout:
            break
        time.sleep(1)
    assert "STOPPED" in r.stdout, r.stdout
    r = run_cli("jobs", "logs", job_id, "--address", cluster.dashboard, env=cluster.env)
    assert r.returncode == 0


# --- no cluster needed -------------------------------------------------------------------

def test_plain_http_to_another_host_is_refused_before_any_connection():
    from sweep import cluster as cl
    from sweep.errors import ConfigError

    with pytest.raises(ConfigError, match="refusing plain http:// to 10.1.2.3"):
        cl.dashboard_url("http://10.1.2.3:8265")
    assert cl.dashboard_url("http://10.1.2.3:8265", insecure=True) == "http://10.1.2.3:8265"
    assert cl.dashboard_url("127.0.0.1:8265") == "http://127.0.0.1:8265"
    assert cl.dashboard_url("https://ray.example.org") == "https://ray.example.org"
    assert cl.dashboard_url("http://localhost:8265/") == "http://localhost:8265"
    # through the CLI: one line, exit 2, and quicker than any connect could time out
    t0 = time.time()
    r = run_cli("submit", "--address", "http://10.1.2.3:8265", "--connect-timeout", "30")
    assert r.returncode == 2 and "ssh -L 8265" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert time.time() - t0 < 20


def test_unreachable_address_fails_after_the_connect_timeout(tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens: refused at once
    r = run_cli("run", "--smoke", "--address", f"127.0.0.1:{port}", "--connect-timeout", "2",
                "--out", str(tmp_path / "a"))
    assert r.returncode == 2 and f"127.0.0.1:{port}" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "a").exists()

    silent = socket.socket()  # accepts connections, never answers: only a timeout ends the wait
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        t0 = time.time()
        r = run_cli("jobs", "list", "--address", f"http://127.0.0.1:{port}", "--connect-timeout", "2")
        took = time.time() - t0
        assert r.returncode == 2 and f"http://127.0.0.1:{port}" in r.stderr and "within 2 s" in r.stderr
        assert took < 15, took
        t0 = time.time()
        r = run_cli("run", "--smoke", "--address", f"127.0.0.1:{port}", "--connect-timeout", "2",
                    "--out", str(tmp_path / "b"))
        took = time.time() - t0
        assert r.returncode == 2 and f"127.0.0.1:{port}" in r.stderr, r.stderr[-2000:]
        assert "Traceback" not in r.stderr
        assert took < 25, took
    finally:
        silent.close()


def test_submitted_working_dir_keeps_secrets_out():
    from sweep import cluster as cl

    env = cl.runtime_env(Path("/tmp/staged"), cl.project_root())
    assert env["working_dir"] == "/tmp/staged" and "excludes" not in env  # the package is an allow-list
    assert "pip" not in env
    deps = cl.runtime_env(Path("/tmp/staged"), cl.project_root(), with_pip=True)["pip"]["packages"]
    assert deps and not any(d.lower().startswith("ray") for d in deps)
    cmd = cl.entrypoint(str(REPO / SMOKE_SPACE), None, "s3://b/runs", REPO, smoke=True)
    assert cmd == "python -m sweep run search_spaces/default.yaml --address auto --storage s3://b/runs --smoke"
    from sweep.errors import ConfigError
    with pytest.raises(ConfigError, match="must lie inside the uploaded project"):
        cl.entrypoint("/etc/hosts", None, None, REPO)


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_launcher_configs_pass_rays_schema(name):
    from ray.autoscaler._private.util import prepare_config, validate_config

    cfg = yaml.safe_load((REPO / "cluster" / name).read_text())
    validate_config(prepare_config(copy.deepcopy(cfg)))
    assert any("ray[default,tune,data]==2.60.0" in c for c in cfg["setup_commands"])
    assert any("sweep_frontier-" in c and ".whl" in c for c in cfg["setup_commands"])
    assert not any("pip install sweep" in c.replace("-q ", "") for c in cfg["setup_commands"])
    assert {"head", "cpu_worker", "gpu_worker"} <= set(cfg["available_node_types"])

    import jsonschema
    bad = copy.deepcopy(cfg)
    bad["setup_comands"] = bad.pop("setup_commands")  # misspelt
    with pytest.raises(jsonschema.ValidationError, match="setup_comands"):
        validate_config(prepare_config(bad))
    bad = copy.deepcopy(cfg)
    bad["available_node_types"]["cpu_worker"]["max_worker"] = 3  # misspelt inside a node type
    with pytest.raises(jsonschema.ValidationError, match="max_worker"):
        validate_config(prepare_config(bad))


def test_rayjob_manifest():
    import ray

    doc = yaml.safe_load((REPO / "cluster" / "kuberay-rayjob.yaml").read_text())
    assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == "RayJob"
    assert doc["spec"]["entrypoint"].startswith("python -m sweep run ")
    spec = doc["spec"]["rayClusterSpec"]
    assert spec["rayVersion"] == ray.__version__
    assert spec["headGroupSpec"]["template"]["spec"]["containers"]
    assert spec["workerGroupSpecs"][0]["template"]["spec"]["containers"]
    env = spec["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]
    token = [e for e in env if e["name"] == "RAY_AUTH_TOKEN"][0]
    assert "secretKeyRef" in token["valueFrom"] and "value" not in token


def test_runtime_env_yaml_matches_the_submit_defaults():
    env = yaml.safe_load((REPO / "cluster" / "runtime_env.yaml").read_text())
    from sweep import cluster as cl

    assert env["excludes"][:2] == ["/*", "!."]  # everything left out at the top level, then let back in:
    assert {f"!/{n}" for n in cl.PACKAGE} <= set(env["excludes"])
    assert set(cl.SECRETS) - {"__pycache__"} <= set(env["excludes"])


@pytest.mark.slow
def test_lost_worker_node_trials_retried_on_the_rest(tmp_path, digits_spec):
    c = LoopbackCluster(token_auth=True)
    try:
        c.start_head(num_cpus=1)
        worker = c.add_worker(num_cpus=1)
        p = _slow_space(tmp_path, digits_spec, "nodeloss", [0.2, 0.5, 1.0], 0.5)
        out = tmp_path / "run"
        import subprocess
        import sys
        drv = subprocess.Popen([sys.executable, "-m", "sweep", "run", str(p), "--address", c.address,
                                "--out", str(out)], cwd=REPO, env=c.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
        # wait until a trial on the worker node has recorded a rung, then kill that node
        end = time.time() + 180
        killed = False
        while time.time() < end and drv.poll() is None:
            led = out / "ledger.jsonl"
            recs = [json.loads(x) for x in led.read_text().splitlines()] if led.exists() else []
            nodes = {r["node_id"] for r in recs}
            if len(nodes) == 2:  # both nodes have recorded: the worker runs trials now
                c.kill_group(worker)
                killed = True
                break
            time.sleep(0.1)
        assert killed, "no trial ran on the worker node before the end"
        stdout, _ = drv.communicate(timeout=300)
        assert drv.returncode == 0, stdout[-3000:]
        t = pd.read_parquet(out / "trials.parquet")
        assert len(t) == 18 and (t["status"] == "ok").all() and t.duplicated(["config_id", "rung"]).sum() == 0
    finally:
        left = c.stop()
        assert not left, left


@pytest.mark.slow
def test_plan_with_address_uses_the_clusters_cpus(cluster, tmp_path):
    out = tmp_path / "plan"
    r = run_cli("plan", SMOKE_SPACE, "--smoke", "--json", "--address", cluster.address, "--out", str(out),
                env=cluster.env)
    assert r.returncode == 0, r.stderr[-3000:] + cluster.log_tail()
    plan = json.loads(r.stdout.strip().splitlines()[-1])
    assert plan["cores"] == plan["cluster_cpus"] == 2  # the head's one CPU and the worker's
