"""Bad input through the CLI (sweep.cli.main in this process; the usage errors in a real one):
one line on stderr naming the place and the fix, exit 2,
no traceback, no run directory left behind."""

import pytest
import yaml

from conftest import cli_proc, run_cli

SPACE = {
    "name": "t",
    "sample_sizes": [0.5, 1.0],
    "architectures": [{"name": "lr", "estimator": "sklearn.linear_model.LogisticRegression",
                       "params": {"max_iter": 50}, "grid": {"C": [0.1, 1.0]}}],
}


def _space(**edits):
    s = yaml.safe_load(yaml.safe_dump(SPACE))
    for k, v in edits.items():
        if k == "arch":
            s["architectures"][0].update(v)
        else:
            s[k] = v
    return s


CASES = {
    "missing file": (None, r"nope\.yaml: file not found; check the path"),
    "unknown key": (_space(metrik="accuracy"), r"space\.yaml:\d+:1: unknown key 'metrik'; check the spelling"),
    "wrong type": (_space(repeats="three"), r"key 'repeats' has invalid value 'three': Input should be a valid integer"),
    "bad estimator": (_space(arch={"estimator": "sklearn.linear_model.LogisticRegresion"}),
                      r"architectures\[0\] \(lr\): estimator 'sklearn.linear_model.LogisticRegresion': module "
                      r"'sklearn.linear_model' has no 'LogisticRegresion'; did you mean"),
    "bad module": (_space(arch={"estimator": "sklearnx.linear.Foo"}),
                   r"estimator 'sklearnx.linear.Foo' is not from scikit-learn, LightGBM, XGBoost or "
                   r"sweep.testing; a spec names code"),
    "bad hyperparameter": (_space(arch={"grid": {"Cs": [1.0]}}),
                           r"LogisticRegression takes no hyperparameter 'Cs'; did you mean 'C'\?"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, space_file, tmp_path):
    space, expected = CASES[case]
    path = tmp_path / "nope.yaml" if space is None else space_file(space)
    out = tmp_path / "run"
    proc = cli_proc("run", str(path), "--out", str(out))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    import re
    assert re.search(expected, lines[0]), lines[0]
    assert not out.exists()


def test_dataset_path_that_does_not_exist(space_file, tmp_path, digits_spec):
    d = yaml.safe_load(open(digits_spec))
    d.pop("bundled")
    d["sources"][0]["path"] = str(tmp_path / "missing_lab")
    ds = tmp_path / "ds.yaml"
    ds.write_text(yaml.safe_dump(d))
    out = tmp_path / "run"
    proc = cli_proc("run", str(space_file(SPACE)), "--dataset", str(ds), "--out", str(out))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "source 'lab_a': path" in lines[0] and "missing_lab' does not exist; fix 'path'" in lines[0]
    assert not out.exists()
    proc = cli_proc("run", str(space_file(SPACE)), "--dataset", str(tmp_path / "no.yaml"))
    assert proc.returncode == 2 and "no.yaml: file not found" in proc.stderr


def test_cli_usage_errors(tmp_path):
    proc = run_cli("run", "--max-concurrent", "0")
    assert proc.returncode == 2 and "must be >= 1, but got 0" in proc.stderr
    proc = run_cli("frobnicate")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_out_that_holds_a_run_is_refused(space_file, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    proc = cli_proc("run", str(space_file(SPACE)), "--out", str(out))
    assert proc.returncode == 2
    assert "already holds a run" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "manifest.json").read_text() == "{}"


def test_interrupt_inside_a_finalizer_is_not_echoed_but_other_errors_are():
    """A second Ctrl-C can land inside a finalizer (Ray's ActorHandle.__del__ while Tune stops
    its trials); Python would print it with a traceback. sweep's CLI drops only that echo."""
    import subprocess
    import sys

    code = (
        "import gc, sys\n"
        "from sweep.cli import quiet_interrupted_finalizers\n"
        "class Raises:\n"
        "    def __init__(self, exc): self.exc = exc\n"
        "    def __del__(self): raise self.exc\n"
        "if sys.argv[1] == 'quiet': quiet_interrupted_finalizers()\n"
        "Raises(KeyboardInterrupt()); gc.collect()\n"
        "Raises(ValueError('a real finalizer bug')); gc.collect()\n"
        "print('still running')\n"
    )
    runs = {mode: subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=60)
            for mode in ("quiet", "default")}
    for proc in runs.values():
        assert proc.returncode == 0 and "still running" in proc.stdout, proc.stderr
        assert "ValueError: a real finalizer bug" in proc.stderr
    assert "KeyboardInterrupt" in runs["default"].stderr  # Python's own echo: the premise
    assert "KeyboardInterrupt" not in runs["quiet"].stderr
