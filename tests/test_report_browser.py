"""The HTML report in real headless Chromium: it draws, logs no error, fetches nothing, and
its Pareto figure holds exactly one marker per (config_id, rung) point."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import sweep
from conftest import REPO

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=8000"]


def chromium(url: str, *extra: str, profile: Path) -> str:
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
                          capture_output=True, text=True, timeout=120)
    return proc.stdout


def status(dom: str) -> dict:
    m = re.search(r'<div id="sweep-status"([^>]*)>', dom)
    assert m, "the report's status element is missing"
    return dict(re.findall(r'data-([a-z]+)="([^"]*)"', m.group(1).replace("&quot;", '"')))


@pytest.fixture(scope="module")
def run(smoke_run):
    """The session's smoke run (conftest), read back."""
    return sweep.load(smoke_run[0])


def test_report_in_headless_chromium(run, tmp_path):
    page = (run.run_dir / "report.html").resolve().as_uri()
    st = status(chromium(page, "--dump-dom", profile=tmp_path / "p1"))
    ok = run.trials[run.trials["status"] == "ok"]
    assert st["plotted"] == "yes"
    assert st["errors"] == "0"
    assert json.loads(st["resources"]) == []          # nothing fetched: not even file: or data: requests
    assert int(st["markers"]) == len(ok) == len(set(zip(ok["config_id"], ok["rung"])))
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report.png"
    chromium(page, "--window-size=1200,1800", f"--screenshot={shot}", profile=tmp_path / "p2")
    assert shot.stat().st_size > 20_000


def test_pareto_figure_data_matches_trials(run):
    html = (run.run_dir / "report.html").read_text()
    fig = json.loads(re.search(r'var fig=(\{.*?\});window.SWEEP_FIGURES=window.SWEEP_FIGURES\|\|\{\};'
                               r'window.SWEEP_FIGURES\["pareto"\]', html).group(1).replace("<\\/", "</"))
    keys = [tuple(c) for t in fig["data"] if "markers" in t["mode"] for c in t["customdata"]]
    ok = run.trials[run.trials["status"] == "ok"]
    assert sorted(keys) == sorted(zip(ok["config_id"], ok["rung"].astype(int)))
    assert sum(s == "star" for t in fig["data"] if "markers" in t["mode"] for s in t["marker"]["symbol"]) == 1


def test_the_harness_sees_errors_and_requests(run, tmp_path):
    """A control: the same page with a script error and an outside image must be caught."""
    bad = (run.run_dir / "report.html").read_text().replace(
        "</body>", '<img src="http://127.0.0.1:9/x.png"><script>undefinedFunction();</script></body>')
    page = tmp_path / "bad.html"
    page.write_text(bad)
    st = status(chromium(page.as_uri(), "--dump-dom", profile=tmp_path / "p3"))
    assert int(st["errors"]) >= 2                     # the ReferenceError and the blocked image
