"""Shared fixtures: an isolated HOME (Ray's auth token never touches a real one), one real
local Ray per test session, and temporary copies of the bundled specs."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
_HOME = tempfile.mkdtemp(prefix="sweep-test-home-")
os.environ["HOME"] = _HOME  # before Ray is imported anywhere: its token lands here
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Where a local Ray started by a test (in this process or a child, e.g. a CLI run) keeps its
# session, so that a test that starts one is seen (_ray_needs_the_slow_marker). Not moved to a
# folder of the suite's own: with RAY_TMPDIR set, inherited by the loopback cluster's nodes, a
# cluster test ran every trial on one node.
_RAY_ROOT = Path(os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()) / "ray"


def _ray_sessions() -> set[str]:
    """Ray session folders of local Rays (RAY_TMPDIR or /tmp/ray), and one name per loopback
    cluster head this process started (tests/raycluster.py: their folders are removed when
    the cluster stops, often before the check)."""
    found = {str(p) for p in _RAY_ROOT.glob("session_2*")} if _RAY_ROOT.exists() else set()
    heads = sys.modules["raycluster"].LoopbackCluster.heads_started if "raycluster" in sys.modules else 0
    return found | {f"loopback cluster head {k}" for k in range(heads)}


# Fixtures that hold a Ray or a run made on one: a test that requests one (directly or
# through another fixture: request.fixturenames is the closure) uses Ray.
_RAY_FIXTURES = {"ray_session", "smoke_run", "cluster"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when == "call":
        item.sweep_call_failed = outcome.get_result().failed


@pytest.fixture(autouse=True)
def _ray_needs_the_slow_marker(request):
    """The `slow` mark says exactly which tests start or use Ray, both ways: `make test-fast`
    (-m "not slow") never waits for a Ray, and runs every test that needs none. A test that
    starts Ray unmarked fails here, and so does a marked test that used none."""
    def ray_up() -> bool:
        return "ray" in sys.modules and sys.modules["ray"].is_initialized()

    before, up_before = _ray_sessions(), ray_up()
    yield
    started = _ray_sessions() - before
    in_process = ray_up() and not up_before
    uses = bool(started) or in_process or bool(_RAY_FIXTURES & set(request.fixturenames))
    marked = request.node.get_closest_marker("slow") is not None
    if not marked and uses:
        how = "in this process" if in_process or not started else sorted(started)[0]
        pytest.fail(f"{request.node.nodeid} starts or uses Ray ({how}) but is not marked slow: add "
                    "@pytest.mark.slow")
    if marked and not uses and not getattr(request.node, "sweep_call_failed", True):
        pytest.fail(f"{request.node.nodeid} is marked slow but started and used no Ray: remove the mark, "
                    "so that `make test-fast` runs it")


@pytest.fixture(scope="session")
def ray_session():
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def digits_spec(tmp_path_factory) -> Path:
    """datasets/digits.yaml with its sources under a temporary folder (written once)."""
    d = tmp_path_factory.mktemp("digits")
    spec = yaml.safe_load((REPO / "datasets" / "digits.yaml").read_text())
    for s in spec["sources"]:
        s["path"] = str(d / "sources" / s["name"])
    path = d / "digits.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, digits_spec):
    """`sweep run --smoke --exhaustive` on the temporary digits spec, in a process of its own,
    once per test session: (run directory, CompletedProcess). Its readers only read it
    (a test that changes a run copies it first)."""
    out = tmp_path_factory.mktemp("smoke") / "run"
    proc = run_cli("run", "--smoke", "--exhaustive", "--num-cpus", "2", "--dataset", str(digits_spec),
                   "--out", str(out), timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out, proc


@pytest.fixture()
def space_file(tmp_path, digits_spec):
    """Write a search space (a dict) to a file that points at the temporary digits spec."""
    def make(space: dict, name: str = "space.yaml") -> Path:
        space = {"dataset": str(digits_spec), **space}
        p = tmp_path / name
        p.write_text(yaml.safe_dump(space, sort_keys=False))
        return p
    return make


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """Run `python -m sweep ARGS` in a fresh process; returns the CompletedProcess."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "sweep", *args], cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout, env=full_env)


def cli_main(*args: str) -> tuple[int, str, str]:
    """`sweep ARGS` in this process (sweep.cli.main): (exit code, stdout, stderr). For what the
    process boundary does not change (parsing, one-line errors, printing); a command that
    needs Ray runs on the session's (ray_session) and leaves it up."""
    import contextlib
    import io

    from sweep.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            rc = exc.code if isinstance(exc.code, int) else 1
    return rc, out.getvalue(), err.getvalue()


def cli_proc(*args: str):
    """cli_main's result shaped as run_cli's (returncode, stdout, stderr)."""
    from types import SimpleNamespace

    rc, out, err = cli_main(*args)
    return SimpleNamespace(returncode=rc, stdout=out, stderr=err)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HOME, ignore_errors=True)
