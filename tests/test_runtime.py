"""The warm runtime's record and checks (sweep.runtime), without Ray: a record is found and its
address used; a stale, foreign or unreadable one is refused with one line before any work;
`sweep down` stops what the record names. The real `sweep up` → warm run → `sweep down`, with the
warm run's ledger compared to a cold one's, is benchmarks/overhead.py's smoke test."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from conftest import cli_main
from sweep import runtime
from sweep.errors import ConfigError

SERVER = ("import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
          "print(s.getsockname()[1], flush=True); time.sleep(600)")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def _write(rt: runtime.Runtime) -> None:
    runtime.record_path().parent.mkdir(parents=True, exist_ok=True)
    runtime.record_path().write_text(json.dumps(asdict(rt)))


@pytest.fixture
def live(home):
    """A stand-in head: a process in its own session, carrying a runtime's marker and listening
    on a loopback port, recorded as the warm runtime with this process's versions."""
    rid = secrets.token_hex(8)
    p = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, runtime.MARKER: rid}, start_new_session=True)
    port = int(p.stdout.readline())
    ray_v, sweep_v = runtime._versions()
    rt = runtime.Runtime(address=f"127.0.0.1:{port}", pid=p.pid, num_cpus=2, temp_dir=str(home / "rt"),
                         python=sys.executable, ray_version=ray_v, sweep_version=sweep_v, uid=os.getuid(),
                         started_at=time.time(), id=rid)
    (home / "rt").mkdir()
    _write(rt)
    yield rt, p
    if p.poll() is None:
        p.kill()
    p.wait(timeout=30)


def test_no_record_means_a_new_local_ray(home):
    assert runtime.read() is None
    assert runtime.warm_address(None, None, cold=False) is None
    assert runtime.warm_address("127.0.0.1:6379", None, cold=False) == "127.0.0.1:6379"


def test_a_usable_record_gives_its_address_unless_cold_or_an_address(live):
    rt, _ = live
    assert runtime.warm_address(None, None, cold=False) == rt.address
    assert runtime.warm_address(None, 2, cold=False) == rt.address   # --num-cpus equal to its CPUs
    assert runtime.warm_address(None, None, cold=True) is None
    assert runtime.warm_address("10.1.2.3:6379", None, cold=False) == "10.1.2.3:6379"


@pytest.mark.parametrize("change, why", [
    (dict(sweep_version="0.0.0-other"), "started by sweep 0.0.0-other"),
    (dict(ray_version="1.0.0"), "runs Ray 1.0.0"),
    (dict(python="/usr/bin/python-elsewhere"), "not this Python"),
    (dict(uid=os.getuid() + 1), f"belongs to uid {os.getuid() + 1}"),
])
def test_a_foreign_runtime_is_refused(live, change, why):
    rt, _ = live
    _write(replace(rt, **change))
    with pytest.raises(ConfigError, match="cannot be used") as e:
        runtime.warm_address(None, None, cold=False)
    assert why in str(e.value) and "sweep down" in str(e.value) and "--cold" in str(e.value)


def test_another_cpu_count_is_refused(live):
    with pytest.raises(ConfigError, match="it has 2 CPUs, not the 1 that --num-cpus asks for"):
        runtime.warm_address(None, 1, cold=False)


def test_a_stale_record_is_refused_before_any_work(live, tmp_path):
    rt, p = live
    p.kill()
    p.wait(timeout=30)
    out = tmp_path / "run"
    rc, stdout, err = cli_main("run", "--smoke", "--out", str(out))
    assert rc == 2 and stdout == ""
    assert err.count("\n") == 1 and f"its head process {rt.pid} is gone" in err and "Traceback" not in err
    assert not out.exists()                                   # nothing written
    # a reused PID is not taken for the head: the marker is checked, not only the PID's life
    _write(replace(rt, pid=os.getpid()))
    with pytest.raises(ConfigError, match=f"its head process {os.getpid()} is gone"):
        runtime.warm_address(None, None, cold=False)


def test_a_head_that_does_not_answer_is_stale(live):
    rt, _ = live
    _write(replace(rt, address="127.0.0.1:1"))
    with pytest.raises(ConfigError, match="nothing answers at 127.0.0.1:1"):
        runtime.warm_address(None, None, cold=False)


def test_an_unreadable_record_is_refused(home):
    runtime.record_path().parent.mkdir(parents=True)
    runtime.record_path().write_text("{not json")
    with pytest.raises(ConfigError, match=r"runtime.json: not a warm-runtime record .* `sweep down`"):
        runtime.warm_address(None, None, cold=False)


def test_down_stops_the_recorded_processes_and_forgets_them(live):
    rt, p = live
    rc, out, err = cli_main("down")
    assert rc == 0 and f"stopped the warm runtime at {rt.address}" in out, err
    assert p.wait(timeout=30) is not None
    assert not runtime.record_path().exists() and not Path(rt.temp_dir).exists()
    rc, out, _ = cli_main("down")
    assert rc == 0 and "no warm runtime is recorded" in out


def test_up_refuses_over_a_stale_record(live):
    rt, p = live
    p.kill()
    p.wait(timeout=30)
    rc, out, err = cli_main("up")
    assert rc == 2 and "is not running" in err and "run `sweep down` first" in err
