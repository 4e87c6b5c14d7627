"""The import layers of pyproject.toml's [tool.importlinter] contract, checked by
import-linter (`lint-imports`), and no import cycle anywhere in the package (grimp's graph,
imports inside functions included)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

from conftest import REPO

LINT = str(Path(sys.executable).with_name("lint-imports"))


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # `sweep` resolves to root/sweep
    return subprocess.run([LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(REPO / "sweep", root / "sweep", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_layers_contract_is_kept():
    r = _lint(REPO)
    assert r.returncode == 0 and "1 kept, 0 broken" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


def test_an_upward_import_breaks_the_contract(tmp_path):
    root = _copy(tmp_path)
    with open(root / "sweep" / "grid.py", "a") as f:  # a low layer importing the top
        f.write("\n\ndef _upward():\n    from . import api\n    return api\n")
    r = _lint(root)
    assert r.returncode == 1 and "sweep.grid is not allowed to import sweep.api" in r.stdout, r.stdout[-3000:]


def test_a_sibling_import_breaks_the_contract(tmp_path):
    root = _copy(tmp_path)
    with open(root / "sweep" / "ledger.py", "a") as f:  # ledger and rundir share a layer: independent
        f.write("\nfrom . import rundir  # noqa\n")
    r = _lint(root)
    assert r.returncode == 1 and "sweep.ledger is not allowed to import sweep.rundir" in r.stdout, r.stdout[-3000:]


def test_a_new_module_must_be_given_a_layer(tmp_path):
    root = _copy(tmp_path)
    (root / "sweep" / "newcomer.py").write_text('"""Not in any layer yet."""\n')
    r = _lint(root)
    assert r.returncode == 1 and "sweep.newcomer" in r.stdout, r.stdout[-3000:]


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on, stack, out = set(), [], []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycle():
    assert _cycles(grimp.build_graph("sweep", cache_dir=None)) == []


def test_the_cycle_finder_finds_one(tmp_path):
    root = _copy(tmp_path)
    with open(root / "sweep" / "errors.py", "a") as f:  # errors <- metrics? no: errors -> ledger -> errors
        f.write("\n\ndef _late():\n    from . import ledger\n    return ledger\n")
    code = ("import grimp, json, sys; sys.path.insert(0, %r); from test_layers import _cycles; "
            "print(json.dumps(_cycles(grimp.build_graph('sweep', cache_dir=None))))" % str(REPO / "tests"))
    r = subprocess.run([sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert '["sweep.errors", "sweep.ledger"]' in r.stdout, r.stdout
