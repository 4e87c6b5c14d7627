"""The stages of `sweep run`, in order: specs → connect → data → trials → results → report.

Each stage is a function that takes plain objects and returns one, so a run reads as their
sequence (sweep.api composes them; docs/design.md has the data flow). What a stage writes
to the run directory goes through sweep.rundir; what it prints goes through `echo`.

- specs:    the space and dataset files, validated and checked together, expanded into
            configurations; estimators imported; the sources' footers read. No Ray yet.
- connect:  a local Ray, or the cluster at `--address` (sweep.connect).
- data:     read → harmonise → validate → dedup → split (sweep.data), the sample-size
            ladder, the data report, the quarantine, drift when the data has time.
- trials:   every (config_id, rung) the ledger lacks, as Tune trials (sweep.runner).
- results:  the trials table and stopped.csv from the ledger, the frontier, and the test
            split scored for frontier points only.
- report:   report.html and its figures, the TensorBoard summary, the `--storage` copy.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import __version__
from .errors import ConfigError, DataError, RunInterrupted
from .grid import Configuration, expand, ladder, sizes_for
from .metrics import Objective
from .rundir import COMPLETE, DATA_REPORT, QUARANTINE, SPEC, RunDir
from .spec import DatasetSpec, SearchSpace, resolve_specs


@dataclass
class Specs:
    """What to sweep: the checked specs, their files, and the configurations they expand to."""

    space_path: Path
    space: SearchSpace
    dataset_path: Path
    dataset: DatasetSpec
    configs: list[Configuration]
    smoke: bool = False
    repeats: int | None = None
    exhaustive: bool = False
    sources_files: list = field(default_factory=list)

    @property
    def objective(self) -> Objective:
        return Objective.of(self.space)

    @property
    def rule(self) -> dict | None:
        """The early-stopping rule (sweep.prune.Rule's fields), None when every pair is fitted."""
        if self.exhaustive or self.space.pruning.policy == "none":
            return None
        return self.space.pruning.model_dump()

    @property
    def run_name(self) -> str:
        return self.space.name + ("-smoke" if self.smoke else "")


def specs(space: str | Path | None, dataset: str | Path | None, *, smoke: bool = False,
          repeats: int | None = None, exhaustive: bool = False, echo=print) -> Specs:
    """Stage 1 for a new or extended run: every check that needs no Ray, before any work."""
    space_path, sp, ds_path, ds = resolve_specs(space, dataset)
    return _checked(Specs(space_path, sp, ds_path, ds, [], smoke, repeats, exhaustive), echo)


def specs_of_run(run: RunDir, manifest: dict, echo=print) -> Specs:
    """Stage 1 for `sweep resume`: the specs the run was started with (RUN/spec.yaml)."""
    spec_file = run / SPEC
    if not spec_file.exists():
        raise ConfigError(f"{spec_file}: missing, so the run's specs are unknown; run it again with "
                          "`sweep run SPACE --out NEW_DIR`")
    spec = yaml.safe_load(spec_file.read_text())
    ds = DatasetSpec.model_validate(spec["dataset"])
    sp = SearchSpace.model_validate(spec["search_space"])
    # A run from before `pruning:` existed fitted every pair: it resumes the same way.
    exhaustive = bool(spec.get("exhaustive")) or "pruning" not in spec["search_space"]
    return _checked(Specs(Path(manifest.get("space_file", spec_file)), sp,
                          Path(manifest.get("dataset_file", spec_file)), ds, [], bool(spec.get("smoke")),
                          spec.get("repeats"), exhaustive), echo)


def _checked(s: Specs, echo) -> Specs:
    from . import data

    s.configs = expand(s.space, smoke=s.smoke, repeats=s.repeats)
    check_estimators(s.space, s.space_path)
    if data.ensure_bundled(s.dataset):
        echo(f"wrote the bundled {s.dataset.bundled} sources under {Path(s.dataset.sources[0].path).parent}")
    s.sources_files = data.check_sources(s.dataset)
    return s


def check_estimators(sp: SearchSpace, space_path: Path) -> None:
    """Every estimator imports and takes every hyperparameter named: before any work."""
    from .models import check_encoding, check_params, resolve

    for i, arch in enumerate(sp.architectures):
        where = f"{space_path}: architectures[{i}] ({arch.name})"
        cls = resolve(arch.estimator, where)
        check_params(cls, {**arch.params, **arch.grid}, arch.estimator, where)
        check_encoding(arch.estimator, arch.encode, where)


def manifest_for(s: Specs, run: RunDir, *, argv: list[str] | None, address: str | None,
                 storage: str | None, previous: dict | None = None, action: str | None = None) -> dict:
    """The manifest a run starts with (status running); a resumed or extended run keeps its
    name, start and history, and gains one history entry."""
    m = {
        "run_name": run.name, "status": "running", "started_at": datetime.now(timezone.utc).isoformat(),
        "command": argv if argv is not None else sys.argv, "cwd": str(Path.cwd()),
        "space_file": str(s.space_path.resolve()), "dataset_file": str(s.dataset_path.resolve()),
        "smoke": s.smoke, "repeats": s.repeats or s.space.repeats, "seeds": sorted({c.seed for c in s.configs}),
        "split_seed": s.dataset.split.seed, "metric": s.space.metric, "time_axis": s.space.time_axis,
        "address": address or "local", "storage": storage, "versions": _versions(),
        "pruning": "none" if s.exhaustive else s.space.pruning.policy,
    }
    if previous is not None:
        m.update(run_name=previous.get("run_name", run.name), started_at=previous.get("started_at", m["started_at"]),
                 history=previous.get("history", []) + [
                     {"command": m["command"], "at": m["started_at"], "action": action,
                      "previous_status": previous.get("status")}])
    return m


def write_specs(s: Specs, run: RunDir, manifest: dict) -> None:
    """RUN/spec.yaml (what `sweep resume` reads back) and the first manifest."""
    run.write_text(SPEC, yaml.safe_dump(
        {"dataset": s.dataset.model_dump(mode="json"), "search_space": s.space.model_dump(mode="json"),
         "smoke": s.smoke, "repeats": s.repeats or s.space.repeats, "exhaustive": s.exhaustive},
        sort_keys=False))
    run.write_manifest(manifest)


def _versions() -> dict:
    import numpy
    import pyarrow
    import ray
    import sklearn

    return {"sweep": __version__, "python": platform.python_version(), "ray": ray.__version__,
            "scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
            "pandas": pd.__version__, "pyarrow": pyarrow.__version__}


@dataclass
class Connection:
    started: bool  # this process started a local Ray (and stops it in close)
    seconds: float

    def close(self) -> None:
        from .connect import shutdown

        shutdown(self.started)


def connect(address: str | None, num_cpus: int | None, timeout_s: float) -> Connection:
    """Stage 2: a local Ray, or the cluster at `address` (probed first)."""
    from .connect import start_ray

    return Connection(*start_ray(address, num_cpus, timeout_s))


@dataclass
class Data:
    """The data stage's output: the prepared splits, the ladder, and drift (when profiled)."""

    prepared: Any  # sweep.data.Prepared
    rungs: list[int]
    drift: dict | None = None
    test_windows: Any = None

    @property
    def report(self) -> dict:
        return self.prepared.report


def data(s: Specs, run: RunDir, manifest: dict, previous: dict | None, echo=print) -> Data:
    """Stage 3: the splits, the sample-size ladder (rung = n_train), RUN/data_report.json,
    the quarantine, and RUN/drift.json for a dataset with a time column."""
    from . import data as data_stage

    ds = s.dataset
    prepared = data_stage.prepare(ds, sources_files=s.sources_files)
    data_stage.enforce_rules(ds, prepared.report)
    rungs = ladder(sizes_for(s.space, s.smoke), len(prepared.y["train"]))
    if ds.task == "classification":
        prepared.report["warnings"] += data_stage.rare_class_warnings(prepared.report, rungs[0])
    manifest["data_s"] = round(prepared.seconds, 3)
    if previous is not None and previous.get("data_fingerprint") not in (None, prepared.fingerprint):
        raise ConfigError(
            f"{run.path}: the data changed since this run started (fingerprint "
            f"{previous['data_fingerprint']}, now {prepared.fingerprint}); its results would "
            "not compare. Restore the sources and the dataset spec as they were, or start a "
            "new run (without --extend)")
    manifest.update(data_fingerprint=prepared.fingerprint, rungs=rungs, n_configs=len(s.configs))
    run.write_json(DATA_REPORT, prepared.report)
    data_stage.write_quarantine(prepared, run / QUARANTINE)
    run.write_manifest(manifest)
    echo(data_stage.summary_line(prepared.report, prepared.seconds))
    for w in prepared.report["warnings"]:
        echo(f"warning: {w}")
    drift, test_windows = profile_drift(ds, prepared, run, echo)
    return Data(prepared, rungs, drift, test_windows)


def profile_drift(ds: DatasetSpec, prepared, run: RunDir | None, echo) -> tuple[dict | None, Any]:
    """Drift over the prepared data (datasets with a time column): RUN/drift.json and a summary.

    Returns (result, the time window of each test row), or (None, None) when the dataset has
    no time column or a single window of time (a warning then)."""
    from . import drift

    if ds.time is None:
        return None, None
    try:
        result, test_windows = drift.profile(prepared, ds)
    except DataError as exc:
        echo(f"warning: drift not profiled: {exc}")
        return None, None
    if run is not None:
        run.write_json(drift.DRIFT_FILE, result)
    for line in drift.summary_lines(result):
        echo(line)
    return result, test_windows


def trials(s: Specs, d: Data, run: RunDir, manifest: dict, *, max_concurrent: int | None = None,
           progress_stream=None, echo=print) -> None:
    """Stage 4: every (config_id, rung) the ledger lacks, fitted (or stopped early) in Tune
    trials. Raises RunInterrupted when Tune returned with pairs left (an interrupt)."""
    from . import runner

    configs, rungs = s.configs, d.rungs
    adaptive = s.rule is not None
    echo(f"sweeping {len(configs)} configurations x {len(rungs)} rungs {rungs} "
         f"({'at most ' if adaptive else ''}{len(configs) * len(rungs)} fits"
         f"{'; adaptive: a configuration stops once it cannot reach the frontier' if adaptive else ''})"
         f" -> {run.path}")
    progress = runner.Progress(len(configs), len(configs) * len(rungs), s.objective, stream=progress_stream)
    manifest["trials_started_at_s"], wall = runner.run_trials(
        configs, rungs, d.prepared, s.dataset.task, run.path, progress, objective=s.objective,
        max_concurrent=max_concurrent, impute=bool(s.dataset.imputed_features()),
        features=s.dataset.feature_layout(), rule=s.rule)
    manifest["trials_wall_s"] = round(wall, 3)
    missing = runner.missing_pairs(run.path, configs, rungs)
    if missing:  # Tune stopped early (an interrupt) without raising: never report it as done
        raise RunInterrupted(run.path, f"{len(missing)} (config_id, rung) pair(s) did not run")


@dataclass
class Results:
    trials: pd.DataFrame  # one row per fitted (config_id, rung)
    stops: pd.DataFrame   # one row per configuration stopped early
    frontier: pd.DataFrame


def results(s: Specs, d: Data, run: RunDir) -> Results:
    """Stage 5: RUN/trials.parquet (+ .csv) and stopped.csv from the ledger, the frontier,
    and the test split scored for the frontier's points only (RUN/test_scores.jsonl)."""
    from . import report, runner

    table = runner.collect_results(run.path, s.configs)
    run.write_trials(table)
    stops = runner.collect_stops(run.path)
    run.write_stops(stops)
    front = report.frontier_of(table, s.objective)
    impute, features = bool(s.dataset.imputed_features()), s.dataset.feature_layout()
    cfg_dicts = {c.config_id: runner.configuration_dict(c, impute, features) for c in s.configs}
    X, y = d.prepared.X, d.prepared.y
    front = report.score_frontier(front, cfg_dicts, X["train"], y["train"], X["test"], y["test"],
                                  s.dataset.task, run.path, d.test_windows, d.drift and d.drift["windows"])
    return Results(table, stops, front)


def report(s: Specs, d: Data, r: Results, run: RunDir, manifest: dict, *, storage: str | None = None,
           echo=print) -> None:
    """Stage 6: report.html, frontier.csv and the figures, the TensorBoard summary, the
    manifest's final state (status complete), and the `--storage` copy."""
    from . import report as report_stage
    from . import storage as store

    t0 = time.perf_counter()
    manifest["test_split_scored"] = report_stage.times_scored(run.path)
    manifest["ended_at"] = datetime.now(timezone.utc).isoformat()
    if not r.stops.empty:
        from .prune import compute_saved

        saved = compute_saved(r.trials, r.stops, d.rungs, s.space.time_axis)
        manifest["stopped"] = {"configurations": len(r.stops), **{k: round(v, 3) for k, v in saved.items()}}
    summary = report_stage.summary_lines(r.trials, r.frontier, r.stops, s.objective, manifest)
    report_stage.write_report(run.path, r.trials, r.frontier, s.objective, d.report, manifest, summary)
    tensorboard_summary(run, r.frontier, s.objective)
    manifest["report_s"] = round(time.perf_counter() - t0, 3)
    manifest["status"] = COMPLETE
    run.write_manifest(manifest)
    if storage:
        echo(f"run directory copied to {store.upload(run.path, storage)}")


def tensorboard_summary(run: RunDir, front: pd.DataFrame, objective: Objective) -> None:
    """The TensorBoard `summary` run: the frontier table, pareto.png, drift's advice and PSI."""
    from .drift import DRIFT_FILE
    from .events import write_summary
    from .report import drift_advice, frontier_rows, markdown_table

    text, psi = None, None
    drift_file = run / DRIFT_FILE
    if drift_file.exists():
        result = json.loads(drift_file.read_text())
        text = drift_advice(run.path, front, objective) or "No drift over the thresholds."
        psi = {}
        for c in result["comparisons"]:
            if c["comparison"] == "consecutive" and c["psi"] is not None:
                psi.setdefault(c["column"], []).append((c["cur"], c["psi"]))
    write_summary(run.tensorboard, markdown_table(frontier_rows(front, objective.metric, objective.time_axis)),
                  run / "pareto.png", text, psi)
