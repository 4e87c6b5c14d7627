"""Fuzzing the trust boundaries with hypothesis: hostile space names, `--out` paths and
`--storage` URIs given to `sweep run` and `sweep plan`. Whatever they hold, nothing outside
the run directory (runs/ or `--out`) and the storage folder is created, changed or removed;
every refusal is exit 2 and one line; no Ray starts (the cluster address is a closed
loopback port, so even a spec that passes stops at the connect stage with exit 2; the
suite's autouse check fails this unmarked test if any example started one)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from sweep import cli

PIECES = ["..", "/", "\\", ".", "x", "victim", "runs", "\n", "\x1b[31m", "\x00", "~", "$HOME", " ", "-",
          "é", "<!--<script>", "%2e%2e", "'", "\""]
fragments = st.lists(st.sampled_from(PIECES), min_size=1, max_size=6).map("".join)
names = st.one_of(fragments, st.text(max_size=20))
outs = st.one_of(st.none(), st.lists(st.sampled_from(["..", "out", "victim", "x", ".", "runs", "deep"]),
                                     min_size=1, max_size=4).map("/".join))
secrets_ = st.sampled_from(["", "KEY:SECRETVALUE@", "user@", ":SECRETVALUE@"])
queries = st.sampled_from(["", "?secret_key=SECRETVALUE", "?region=x&session_token=SECRETVALUE"])


def _snapshot(root: Path, allowed: list[Path]) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        if any(p == a or a in p.parents for a in allowed):
            continue
        out[str(p.relative_to(root))] = None if p.is_dir() else (p.read_bytes() if not p.is_symlink() else "link")
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names, out=outs, cred=secrets_, query=queries, command=st.sampled_from(["run", "plan"]),
       use_storage=st.booleans())
def test_hostile_names_paths_and_uris_touch_nothing_outside_the_run(monkeypatch, capsys, name, out, cred, query,
                                                                    command, use_storage):
    box = Path(tempfile.mkdtemp(prefix="sweep-fuzz-"))
    try:
        work = box / "a" / "b" / "work"
        work.mkdir(parents=True)
        (box / "victim").mkdir()
        (box / "victim" / "precious.txt").write_text("keep")
        (box / "a" / "victim").mkdir()
        (box / "a" / "sibling.txt").write_text("keep")
        space = {"name": name, "dataset": str(REPO / "datasets" / "digits.yaml"), "sample_sizes": [0.5, 1.0],
                 "architectures": [{"name": "tree", "estimator": "sklearn.tree.DecisionTreeClassifier"}]}
        (work / "space.yaml").write_text(yaml.safe_dump(space))
        storage_dir = box / "store"
        argv = [command, "space.yaml", "--address", "127.0.0.1:1", "--connect-timeout", "1"]
        if out is not None:
            argv += ["--out", out]
        if use_storage and command == "run":
            argv += ["--storage", f"file://{cred}{storage_dir}{query}"]
        monkeypatch.chdir(work)
        # what the run may touch: runs/ under the working folder, the --out folder, the storage folder
        allowed = [work / "runs", storage_dir, work / "space.yaml"]
        if out is not None:
            allowed.append((work / out).resolve())
        before = _snapshot(box, allowed)
        rc = cli.main(argv)
        err = capsys.readouterr().err
        assert rc == 2, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err, repr(err)
        assert "SECRETVALUE" not in err
        assert _snapshot(box, allowed) == before, (argv, err)
        assert (box / "victim" / "precious.txt").read_text() == "keep"
    finally:
        shutil.rmtree(box, ignore_errors=True)
