"""A run's provenance, written when it starts: RUN/spec.yaml (the specs `sweep resume` reads
back, through sweep.runfiles) and the manifest it starts with: the command, the spec files,
seeds, metric, address, versions, status running; a resumed or extended run keeps its name
and start and gains one history entry."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from . import __version__
from .rundir import SPEC, RunDir
from .stages import Specs


def manifest_for(s: Specs, run: RunDir, *, argv: list[str] | None, address: str | None,
                 storage: str | None, previous: dict | None = None, action: str | None = None,
                 warm: bool = False) -> dict:
    """The manifest a run starts with (status running); a resumed or extended run keeps its
    name, start and history, and gains one history entry."""
    from .storage import redact

    command = [redact(a) if "://" in a else a for a in (argv if argv is not None else sys.argv)]
    m = {
        "run_name": run.name, "status": "running", "started_at": datetime.now(timezone.utc).isoformat(),
        "command": command, "cwd": str(Path.cwd()),
        "space_file": str(s.space_path.resolve()), "dataset_file": str(s.dataset_path.resolve()),
        "smoke": s.smoke, "repeats": s.repeats or s.space.repeats, "seeds": sorted({c.seed for c in s.configs}),
        "split_seed": s.dataset.split.seed, "metric": s.space.metric, "time_axis": s.space.time_axis,
        "address": address or "local", "runtime": "warm" if warm else ("cluster" if address else "local"),
        "storage": redact(storage), "versions": _versions(),
        "pruning": "none" if s.exhaustive else s.space.pruning.policy,
        "search": _search(s),
    }
    if previous is not None:
        m.update(run_name=previous.get("run_name", run.name), started_at=previous.get("started_at", m["started_at"]),
                 history=previous.get("history", []) + [
                     {"command": m["command"], "at": m["started_at"], "action": action,
                      "previous_status": previous.get("status")}])
    return m


def _search(s: Specs) -> dict:
    """The search method, and for a random search its n, draws' seed and sobol; for a
    model-based one its n, seed, sampler and batch."""
    search = s.space.search
    if search.method == "grid":
        return {"method": "grid"}
    if search.method == "optuna":
        return {"method": "optuna", "n": search.n, "seed": s.space.search_seed,
                "sampler": search.sampler or "tpe", "batch": search.batch_size}
    return {"method": search.method, "n": search.n, "seed": s.space.search_seed, "sobol": search.sobol}


def write_specs(s: Specs, run: RunDir, manifest: dict) -> None:
    """RUN/spec.yaml (what `sweep resume` reads back) and the first manifest."""
    run.write_text(SPEC, yaml.dump(
        {"dataset": s.dataset.model_dump(mode="json"), "search_space": s.space.model_dump(mode="json"),
         "smoke": s.smoke, "repeats": s.repeats or s.space.repeats, "exhaustive": s.exhaustive},
        Dumper=_NoAliases, sort_keys=False))
    run.write_manifest(manifest)


class _NoAliases(yaml.SafeDumper):
    """Writes a value seen twice out again (spec files may hold no aliases: sweep.spec)."""

    def ignore_aliases(self, data) -> bool:
        return True


def _versions() -> dict:
    import numpy
    import pyarrow
    import ray
    import scipy
    import sklearn

    return {"sweep": __version__, "python": platform.python_version(), "ray": ray.__version__,
            "scikit-learn": sklearn.__version__, "scipy": scipy.__version__, "numpy": numpy.__version__,
            "pandas": pd.__version__, "pyarrow": pyarrow.__version__}
