#!/usr/bin/env python3
"""TensorBoard with many configurations: what its server does with one run per configuration.

    python benchmarks/tensorboard_scale.py [--configs 1000 10000] [--smoke]

For each size, N configuration runs are written with sweep's own event writer
(sweep.events.ConfigEvents: the HParams session, 2 rungs of scalars, the session's end),
then a real `tensorboard` server is started on loopback on them and timed:
- write_s: writing the N runs (per configuration: write_ms);
- load_s: from the server's start until /data/runs lists every run;
- experiment_s: the HParams experiment query (/data/plugin/hparams/experiment);
- session_groups_s: the HParams table's first page (100 session groups);
- scalars_s: one run's scalars.
The last line is one JSON object. The server is stopped by its process group.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
TB = str(Path(sys.executable).with_name("tensorboard"))
TAGS = ["val_accuracy", "train_time_s"]


def write_runs(root: Path, n: int) -> float:
    from sweep.events import ConfigEvents

    t0 = time.perf_counter()
    for i in range(n):
        w = ConfigEvents(root, f"{i:016x}", {"architecture": "tree", "max_depth": 1 + i % 20,
                                             "min_samples_leaf": 1 + (i // 20) % 50, "seed": 0}, TAGS)
        for step in (530, 1060):
            w.rung(step, {"val_accuracy": 0.5 + (i % 97) / 200, "train_time_s": 0.001 * step / 530})
        w.close(ok=True)
    return time.perf_counter() - t0


def _get(base: str, path: str, body: dict | None = None, timeout: float = 600):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        out = json.loads(r.read())
    return out, time.perf_counter() - t0


def measure(root: Path, n: int, timeout_s: float) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([TB, "--logdir", str(root), "--host", "127.0.0.1", "--port", str(port),
                             "--reload_interval", "5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    out: dict = {}
    try:
        runs: list = []
        while time.perf_counter() - t0 < timeout_s:
            try:
                runs, _ = _get(base, "/data/runs", timeout=60)
                if len(runs) >= n:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        out["load_s"] = round(time.perf_counter() - t0, 2)
        out["runs_listed"] = len(runs)
        _, out["experiment_s"] = _get(base, "/data/plugin/hparams/experiment", {"experimentName": ""})
        body = {"experimentName": "", "startIndex": 0, "sliceSize": 100, "colParams": [],
                "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]}
        groups, out["session_groups_s"] = _get(base, "/data/plugin/hparams/session_groups", body)
        out["session_groups_total"] = groups.get("totalSize")
        _, out["scalars_s"] = _get(base, f"/data/plugin/scalars/scalars?run={0:016x}&tag=val_accuracy")
        for k in ("experiment_s", "session_groups_s", "scalars_s"):
            out[k] = round(out[k], 3)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for the server to list every run")
    ap.add_argument("--smoke", action="store_true", help="20 configurations (correctness only)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.configs = [20]
    rows = []
    for n in args.configs:
        root = Path(tempfile.mkdtemp(prefix=f"sweep-tb{n}-"))
        try:
            write_s = write_runs(root, n)
            row = {"configs": n, "write_s": round(write_s, 2), "write_ms": round(write_s / n * 1000, 3),
                   **measure(root, n, args.timeout)}
        finally:
            shutil.rmtree(root, ignore_errors=True)
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    print(json.dumps({"benchmark": "tensorboard_scale", "sizes": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
