"""The trust boundaries (docs/specs.md, "Security model"): a run touches only what it created;
a spec names only allowed code; nothing is written through a link; no token in clear text to
another host; credentials never shown. One test per finding of the issue that asked for
them; none starts Ray (every refusal comes before it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from sweep import cli
from sweep.errors import ConfigError

DIGITS = REPO / "datasets" / "digits.yaml"


def _space(tmp: Path, name: str = "s", **extra) -> Path:
    space = {"name": name, "dataset": str(DIGITS), "sample_sizes": [0.5, 1.0],
             "architectures": [{"name": "tree", "estimator": "sklearn.tree.DecisionTreeClassifier",
                                "grid": {"max_depth": [2, 4]}}], **extra}
    p = tmp / f"space-{abs(hash(name)) % 10**6}.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    return p


def _main(capsys, *argv: str) -> tuple[int, str]:
    rc = cli.main(list(argv))
    err = capsys.readouterr().err
    return rc, err


def _tree(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


@pytest.fixture()
def victim(tmp_path):
    v = tmp_path / "victim"
    v.mkdir()
    (v / "precious.txt").write_text("do not delete")
    return v


def _intact(victim: Path) -> bool:
    return (victim / "precious.txt").read_text() == "do not delete"


# -- a run touches only what it created -------------------------------------------------

@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_space_name_with_dotdot_is_refused_and_deletes_nothing(tmp_path, victim, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    space = _space(tmp_path, "x/../../victim")
    rc, err = _main(capsys, command, str(space), "--address", "127.0.0.1:1", "--connect-timeout", "1")
    assert rc == 2 and "a search space's name must be 1 to 100 letters" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _intact(victim) and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_failure_before_the_trials_keeps_an_empty_out_folder_it_did_not_make(tmp_path, monkeypatch, capsys,
                                                                              command, victim):
    """--out names a folder that exists (empty): a failure removes only what this process put there."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "mine"
    out.mkdir()
    rc, err = _main(capsys, command, str(_space(tmp_path)), "--out", str(out), "--address", "127.0.0.1:1",
                    "--connect-timeout", "1")
    assert rc == 2 and "cannot reach the Ray cluster at 127.0.0.1:1" in err, err
    assert out.is_dir() and not any(out.iterdir()) and _intact(victim)


def _crafted_run(tmp: Path, space_name: str = "s", estimator: str = "sklearn.tree.DecisionTreeClassifier",
                 spec_text: str | None = None) -> Path:
    """A run directory as a hostile sender could hand it over: a manifest and a spec.yaml."""
    run = tmp / "crafted"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"status": "failed", "metric": "accuracy",
                                                   "time_axis": "train_time_s"}))
    if spec_text is None:
        ds = yaml.safe_load(DIGITS.read_text())
        for s in ds["sources"]:
            s["path"] = str((DIGITS.parent / s["path"]).resolve())
        spec_text = yaml.safe_dump({"dataset": ds, "search_space": {
            "name": space_name, "sample_sizes": [0.5, 1.0],
            "architectures": [{"name": "m", "estimator": estimator}]}})
    (run / "spec.yaml").write_text(spec_text)
    return run


def test_resume_and_extend_of_a_crafted_run_delete_nothing(tmp_path, victim, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = _crafted_run(tmp_path, "x/../../victim")
    rc, err = _main(capsys, "resume", str(run), "--address", "127.0.0.1:1", "--connect-timeout", "1")
    assert rc == 2 and "spec.yaml" in err and "a search space's name must be" in err, err
    rc, err = _main(capsys, "run", str(_space(tmp_path, "y/../../../victim")), "--extend", "--out", str(run),
                    "--address", "127.0.0.1:1", "--connect-timeout", "1")
    assert rc == 2 and "a search space's name must be" in err, err
    assert _intact(victim) and (run / "spec.yaml").exists()


def test_a_damaged_spec_yaml_on_resume_is_bad_input(tmp_path, monkeypatch, capsys):
    run = _crafted_run(tmp_path, spec_text="dataset: {name: [unclosed\n")
    rc, err = _main(capsys, "resume", str(run))
    assert rc == 2 and "spec.yaml:" in err and "YAML syntax error" in err and "Traceback" not in err, err


# -- a spec names only allowed code ----------------------------------------------------------

def test_an_estimator_outside_the_allowed_packages_is_not_imported(tmp_path, capsys):
    """`this.X` printed the Zen of Python: importing alone ran code."""
    rc = cli.main(["run", str(_space_with(tmp_path, "this.X")), "--address", "127.0.0.1:1"])
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    assert rc == 2 and "is not from scikit-learn, LightGBM, XGBoost or sweep.testing" in err, err
    assert "Beautiful is better than ugly" not in out + err


def _space_with(tmp: Path, estimator: str, params: dict | None = None, allow: dict | None = None) -> Path:
    space = {"name": "s", "dataset": str(DIGITS), "sample_sizes": [0.5, 1.0],
             "architectures": [{"name": "m", "estimator": estimator, "params": params or {}}]}
    if allow:
        space["allow"] = allow
    p = tmp / "space.yaml"
    p.write_text(yaml.safe_dump(space, sort_keys=False))
    return p


def test_a_module_in_the_working_directory_never_runs(tmp_path):
    """With `python -m sweep` and PYTHONPATH=. (what a job runs), a module beside the spec
    named by it ran during `sweep run` and `sweep resume` of a crafted run directory."""
    (tmp_path / "evil.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('x')\n"
                                      "class Model: pass\n")
    space = _space_with(tmp_path, "evil.Model")
    run = _crafted_run(tmp_path, estimator="evil.Model")
    env = {**os.environ, "PYTHONPATH": ".", "HOME": str(tmp_path)}
    for args in (["run", str(space), "--address", "127.0.0.1:1"], ["resume", str(run), "--address", "127.0.0.1:1"]):
        r = subprocess.run([sys.executable, "-m", "sweep", *args], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2 and "allow: {modules: [evil]}" in r.stderr, r.stderr
        assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("estimator, params, expected", [
    ("sklearn.preprocessing.FunctionTransformer", {}, "is not a scikit-learn estimator with fit and predict"),
    ("sklearn.cluster.AgglomerativeClustering", {"memory": "/tmp/cache"}, "is not a scikit-learn estimator"),
    ("sklearn.cluster.FeatureAgglomeration", {}, "is not a scikit-learn estimator with fit and predict"),
    ("sweep.testing.MajorityClassifier", {"log_path": "/tmp/anywhere.log"},
     r"hyperparameter 'log_path' = '/tmp/anywhere.log' names a path.*allow: \{path_params: \[log_path\]\}"),
    ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 3, "criterion": "../x"}, "names a path"),
])
def test_non_predictors_and_path_parameters_are_refused(tmp_path, capsys, estimator, params, expected):
    rc, err = _main(capsys, "run", str(_space_with(tmp_path, estimator, params)), "--address", "127.0.0.1:1")
    assert rc == 2 and err.count("\n") == 1, err
    import re
    assert re.search(expected, err), err


def test_an_allowed_module_and_path_parameter_pass_the_spec_stage(tmp_path):
    from sweep import stages

    (tmp_path / "mine.py").write_text("from sklearn.tree import DecisionTreeClassifier as Model\n")
    sys.path.insert(0, str(tmp_path))
    try:
        s = stages.specs(_space_with(tmp_path, "mine.Model", allow={"modules": ["mine"]}), None, echo=lambda *a: None)
        assert s.configs and s.space.allow.modules == ["mine"]
        p = _space_with(tmp_path, "sweep.testing.MajorityClassifier", {"log_path": str(tmp_path / "l")},
                        allow={"path_params": ["log_path"]})
        assert stages.specs(p, None, echo=lambda *a: None).configs
    finally:
        sys.path.remove(str(tmp_path))


# -- no writes through links ------------------------------------------------------------------

def test_atomic_write_never_writes_through_a_planted_temporary(tmp_path):
    from sweep.rundir import atomic_write

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    run = tmp_path / "run"
    run.mkdir()
    (run / ".frontier.csv.tmp.csv").symlink_to(victim)  # the old fixed temporary name
    atomic_write(run / "frontier.csv", lambda p: p.write_text("new"))
    assert victim.read_text() == "keep" and (run / "frontier.csv").read_text() == "new"


def test_the_ledger_is_not_appended_through_a_link(tmp_path):
    from sweep import ledger

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "ledger.jsonl").symlink_to(victim)
    with pytest.raises(ledger.LedgerError, match="is a symbolic link, which sweep never makes"):
        ledger.append(tmp_path / "ledger.jsonl", {"config_id": "a", "rung": 1, "status": "ok"})
    assert victim.read_text() == "keep"


@pytest.mark.parametrize("command", ["report", "resume"])
def test_a_run_directory_holding_a_link_is_refused(tmp_path, capsys, command):
    from test_load import make_run

    run = make_run(tmp_path / "run")
    (tmp_path / "victim.txt").write_text("keep")
    (run / "report.html").symlink_to(tmp_path / "victim.txt")
    rc, err = _main(capsys, command, str(run))
    assert rc == 2 and "holds a symbolic link (report.html)" in err, err
    assert (tmp_path / "victim.txt").read_text() == "keep"


def test_the_storage_copy_skips_links(tmp_path):
    from sweep import storage

    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "id_rsa").write_text("KEY")
    run = tmp_path / "run-1"
    run.mkdir()
    (run / "ledger.jsonl").write_text("{}\n")
    (run / "keys").symlink_to(secret)
    (run / "key.txt").symlink_to(secret / "id_rsa")
    where = storage.upload(run, (tmp_path / "store").as_uri())
    copied = sorted(p.relative_to(tmp_path / "store" / "run-1").as_posix()
                    for p in (tmp_path / "store" / "run-1").rglob("*"))
    assert copied == ["ledger.jsonl"] and where.endswith("/run-1")


def test_the_job_package_is_an_allow_list(tmp_path):
    from sweep import cluster

    root = tmp_path / "proj"
    for f in ("sweep/a.py", "sweep/sub/b.py", "datasets/d.yaml", "search_spaces/s.yaml", "pyproject.toml",
              ".kube/config", ".netrc", ".aws/credentials", "id_ecdsa", "id_ecdsa.pub", "notes/secret.txt",
              "sweep/id_ed25519", "sweep/.env", "mydata/x.parquet", "mine.py"):
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text("x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "key").write_text("KEY")
    (root / "sweep" / "linked").symlink_to(tmp_path / "outside")
    (root / "datasets" / "k").symlink_to(tmp_path / "outside" / "key")
    into = tmp_path / "staged"
    copied = cluster.package(root, into, [root / "mydata", root / "mine.py"])
    assert copied == ["datasets/d.yaml", "mine.py", "mydata/x.parquet", "pyproject.toml", "search_spaces/s.yaml",
                      "sweep/a.py", "sweep/sub/b.py"]
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file()) == copied


def test_the_runtime_env_yaml_uploads_only_the_package(tmp_path):
    """cluster/runtime_env.yaml (for Ray's own CLI) as Ray's own upload walk reads it."""
    from ray._private.runtime_env.packaging import _dir_travel, _get_excludes

    root = tmp_path / "proj"
    for f in ("sweep/a.py", "datasets/d.yaml", "search_spaces/s.yaml", "pyproject.toml", ".kube/config",
              ".netrc", ".aws/credentials", "id_ecdsa", "sweep/auth_token", "runs/r/ledger.jsonl", ".git/HEAD"):
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text("x")
    excludes = yaml.safe_load((REPO / "cluster" / "runtime_env.yaml").read_text())["excludes"]
    seen: list[str] = []
    _dir_travel(root, [_get_excludes(root, excludes)], lambda p: seen.append(p.relative_to(root).as_posix()),
                include_gitignore=False)
    assert sorted(s for s in seen if (root / s).is_file()) == ["datasets/d.yaml", "pyproject.toml",
                                                                "search_spaces/s.yaml", "sweep/a.py"]


# -- transport -------------------------------------------------------------------------------------

@pytest.mark.parametrize("address, host, loopback", [
    ("127.0.0.1:6379", "127.0.0.1", True), ("127.8.9.10:6379", "127.8.9.10", True),
    ("localhost:6379", "localhost", True), ("[::1]:6379", "::1", True), ("ray://127.0.0.1:10001", "127.0.0.1", True),
    ("ray://cluster.invalid:10001", "cluster.invalid", False), ("10.0.0.5:6379", "10.0.0.5", False),
    ("cluster.invalid:6379", "cluster.invalid", False), ("localhost.evil.invalid:1", "localhost.evil.invalid", False),
    ("auto", None, None), ("local", None, None),
])
def test_the_address_classification(address, host, loopback):
    from sweep.connect import address_host, is_loopback

    assert address_host(address) == host
    if host is not None:
        assert is_loopback(host) is loopback


def test_check_transport_refuses_a_remote_address_without_tls(monkeypatch, capsys):
    from sweep.connect import check_transport

    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    for address in ("cluster.invalid:6379", "ray://cluster.invalid:10001"):
        with pytest.raises(ConfigError, match="refusing to connect to cluster.invalid without TLS.*--insecure"):
            check_transport(address)
    check_transport("127.0.0.1:6379")
    check_transport("cluster.invalid:6379", insecure=True)  # allowed, said on stderr
    assert "--insecure: connecting to cluster.invalid without TLS" in capsys.readouterr().err
    monkeypatch.setenv("RAY_USE_TLS", "1")
    check_transport("cluster.invalid:6379")


@pytest.mark.parametrize("command", [["run", "SPACE"], ["plan", "SPACE"], ["resume", "RUN"],
                                     ["data", "check", str(DIGITS)], ["data", "drift", str(DIGITS)]])
def test_every_command_refuses_a_remote_address_before_connecting(tmp_path, capsys, monkeypatch, command):
    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    from test_load import make_run

    args = [a.replace("SPACE", str(_space(tmp_path))).replace("RUN", str(make_run(tmp_path / "r"))) for a in command]
    rc, err = _main(capsys, *args, "--address", "cluster.invalid:6379")
    assert rc == 2 and "refusing to connect to cluster.invalid without TLS" in err, err


# -- the lower findings ------------------------------------------------------------------------

def test_credentials_in_a_storage_uri_are_never_shown_or_written(tmp_path, capsys):
    from sweep import provenance, stages, storage
    from sweep.rundir import RunDir

    uri = "s3://AKIAKEY:SuperSecret@bucket/runs?region=x&secret_key=Hush&session_token=Tok"
    shown = storage.redact(uri)
    assert "SuperSecret" not in shown and "Hush" not in shown and "Tok" not in shown and "AKIAKEY" not in shown
    assert "bucket/runs" in shown and "region=x" in shown
    rc, err = _main(capsys, "run", str(_space(tmp_path)), "--storage", "foo://AKIAKEY:SuperSecret@host/x")
    assert rc == 2 and "SuperSecret" not in err and "AKIAKEY" not in err and "--storage" in err, err
    s = stages.specs(_space(tmp_path), None, echo=lambda *a: None)
    m = provenance.manifest_for(s, RunDir(tmp_path / "r"), argv=["sweep", "run", "--storage", uri], address=None,
                                storage=uri)
    assert "SuperSecret" not in json.dumps(m) and "Hush" not in json.dumps(m)
    from sweep import cluster
    with pytest.raises(ConfigError, match="--storage carries a credential"):
        cluster.submit("http://127.0.0.1:1", storage=uri)


def test_script_json_escapes_what_could_end_or_open_a_script():
    from sweep.report.interactive import embed, script_json

    payload = script_json({"name": "<!--<script>x</script>&"})
    assert "<" not in payload and ">" not in payload and "&" not in payload
    assert json.loads(payload) == {"name": "<!--<script>x</script>&"}
    html = embed("f", {"data": [{"name": "<!--<script"}], "layout": {}})
    assert "<!--" not in html


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, capsys):
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
        f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8))
    p = tmp_path / "bomb.yaml"
    p.write_text(bomb)
    rc, err = _main(capsys, "run", str(p))
    assert rc == 2 and "an alias (*a) is not allowed in a spec" in err and f"{p}:2:" in err, err


def test_duplicate_keys_are_refused(tmp_path, capsys):
    p = tmp_path / "dup.yaml"
    p.write_text(_space(tmp_path).read_text() + "name: other\n")
    rc, err = _main(capsys, "run", str(p))
    assert rc == 2 and "key 'name' is given twice in this mapping (first at line 1); keep one" in err, err


def test_control_characters_never_reach_stderr_raw(tmp_path, capsys):
    p = _space(tmp_path)
    p.write_text(p.read_text().replace("name: tree", "name: \"tree\\e[31mRED\\x07\""))
    rc, err = _main(capsys, "run", str(p))
    assert rc == 2 and "\x1b" not in err and "\x07" not in err and err.count("\n") == 1, repr(err)


@pytest.mark.parametrize("edit, expected", [
    ({"sample_sizes": [float("nan"), 1.0]}, "each sample size must be a fraction in (0, 1] or a row count"),
    ({"sample_sizes": [0.5, 10**23]}, "a row count must be at most 1,000,000,000"),
    ({"seed": 10**26}, "less than or equal to 4294966295"),
])
def test_nan_huge_seeds_and_sizes_are_refused_at_the_spec_stage(tmp_path, capsys, edit, expected):
    rc, err = _main(capsys, "run", str(_space(tmp_path, **edit)))
    assert rc == 2 and expected in err, err


def test_nothing_is_created_before_the_spec_is_valid(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    deep = tmp_path / "new" / "deep"
    rc, err = _main(capsys, "run", str(_space(tmp_path, "bad name")), "--storage", deep.as_uri())
    assert rc == 2 and not (tmp_path / "new").exists() and not (tmp_path / "runs").exists(), err
    rc, err = _main(capsys, "data", "check", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out"))
    assert rc == 2 and not (tmp_path / "out").exists(), err


def test_report_budget_is_checked_before_the_report_is_rewritten(tmp_path, capsys):
    from test_load import make_run

    run = make_run(tmp_path / "run")
    (run / "report.html").write_text("before")
    for bad in ("nan", "-1", "0"):
        with pytest.raises(SystemExit) as e:
            cli.main(["report", str(run), "--budget", bad])
        assert e.value.code == 2
    assert (run / "report.html").read_text() == "before"


def test_pyarrow_floor_excludes_the_vulnerable_release():
    import tomllib

    from packaging.requirements import Requirement

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    req = next(Requirement(d) for d in deps if d.startswith("pyarrow"))
    assert "14.0.0" not in req.specifier and "14.0.1" in req.specifier
