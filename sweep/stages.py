"""The stages of `sweep run`, in order: specs → connect → data → trials → results → report.

Each stage is a function that takes plain objects and returns one, so a run reads as their
sequence (sweep.api composes them; docs/design.md has the data flow). What a stage writes
to the run directory goes through sweep.rundir; what it prints goes through `echo`.

- specs:    the space and dataset files, validated and checked together, expanded into
            configurations; estimators imported; the sources' footers read. No Ray yet.
- connect:  a local Ray, or the cluster at `--address` (sweep.connect).
- data:     read → harmonise → validate → dedup → split (sweep.data), the sample-size
            ladder, the data report, the quarantine, drift when the data has time.
- trials:   every (config_id, rung) the ledger lacks, as Tune trials (sweep.runner, packed by
            sweep.packing), with the progress line (sweep.progress).
- results:  the trials table and stopped.csv from the ledger (sweep.collect), the
            frontier, and the test split scored for frontier points only.
- report:   report.html and its figures, the TensorBoard summary, the `--storage` copy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from .budget import Deadline
from .errors import ConfigError, DataError, RunInterrupted
from .grid import Configuration, expand, ladder, sizes_for
from .metrics import Objective
from .rundir import COMPLETE, DATA_REPORT, MANIFEST, QUARANTINE, SPEC, RunDir
from .runfiles import read_run_spec, timing_manifest, validation_rows
from .spec import DatasetSpec, SearchSpace, locate, resolve_specs


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

    def configuration_dict(self, c: Configuration) -> dict:
        """What a trial needs of configuration `c` (sweep.runner.configuration_dict), with
        this dataset's imputation and feature layout."""
        from .runner import configuration_dict

        if not hasattr(self, "_layout"):
            self._layout = (bool(self.dataset.imputed_features()), self.dataset.feature_layout(), self.space.metric)
        return configuration_dict(c, *self._layout)

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
    from .spec.sampling import check_same_sobol

    spec_file = run / SPEC
    spec, ds, sp = read_run_spec(run)
    check_same_sobol(sp.search.method == "random" and sp.search.sobol, manifest.get("versions") or {}, str(run.path))
    # A run from before `pruning:` existed fitted every pair: it resumes the same way.
    exhaustive = bool(spec.get("exhaustive")) or "pruning" not in spec["search_space"]
    return _checked(Specs(Path(manifest.get("space_file", spec_file)), sp,
                          Path(manifest.get("dataset_file", spec_file)), ds, [], bool(spec.get("smoke")),
                          spec.get("repeats"), exhaustive), echo)


def _checked(s: Specs, echo) -> Specs:
    from . import data

    check_estimators(s.space, s.space_path)  # names and paths first: before anything is drawn
    s.configs = expand(s.space, smoke=s.smoke, repeats=s.repeats)
    if data.ensure_bundled(s.dataset):
        echo(f"wrote the bundled {s.dataset.bundled} sources under {Path(s.dataset.sources[0].path).parent}")
    s.sources_files = data.check_sources(s.dataset)
    return s


def check_estimators(sp: SearchSpace, space_path: Path) -> None:
    """Every estimator is from an allowed module, imports, and takes every hyperparameter
    named, and none names a path unless allowed: before any work."""
    from .models import check_encoding, check_estimator, check_params, check_path_params

    for i, arch in enumerate(sp.architectures):
        where = f"{space_path}: architectures[{i}] ({arch.name})"
        cls = check_estimator(arch.estimator, sp.allow.modules, where)
        places = {name: f"{space_path}{locate(space_path, ('architectures', i, key, name))}: key "
                        f"'architectures[{i}].{key}.{name}' ({arch.name})"
                  for key in ("params", "grid", "distributions") for name in getattr(arch, key)}
        check_params(cls, {**arch.params, **arch.grid, **arch.distributions}, arch.estimator, where, places)
        check_path_params(arch.params, arch.searched_values(), sp.allow.path_params, where)
        check_encoding(arch.estimator, arch.encode, where)


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
    if run.has(MANIFEST):  # a plan's directory has none (a run may start in it)
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


def budget(s: Specs, d: Data, run: RunDir, manifest: dict, seconds: float, started_at: float,
           echo=print) -> Deadline:
    """Stage 3b, with --time-budget: pilot fits (each architecture's cheapest configuration, for
    architectures the ledger has none of: sweep.pilots), the cost model (sweep.cost), and the deadline for starting rungs: the
    budget's end less the predicted post-trial phase. A budget below the cheapest useful
    sweep (each architecture's cheapest configuration at the smallest rung) is refused."""
    import numpy as np
    import ray

    from . import forecast, ledger, packing, pilots
    from .cost import CostModel
    from .rundir import LEDGER

    pilots.pilot(s.configs, d.rungs, d.prepared, s.dataset.task, run / LEDGER, s.configuration_dict, echo,
                 few=True)
    records, _ = ledger.read(run / LEDGER)
    observed = [r for r in ledger.latest(records).values() if r.get("status") == "ok"]
    model = CostModel.fit(s.configs, observed)
    cores = packing.slots(s.configs, int(ray.cluster_resources().get("CPU", 1)))
    elapsed = time.time() - started_at
    minimum = forecast.minimum_wall_s(model, s.configs, d.rungs, cores, elapsed)
    if seconds < minimum:
        need = math.ceil(minimum)
        raise ConfigError(f"--time-budget {seconds:g} s is shorter than the cheapest useful sweep here "
                          f"(each architecture's cheapest configuration at the smallest sample size, after "
                          f"{elapsed:.1f} s of start-up and data): it needs at least {need} s; give "
                          f"--time-budget {need} or more")
    pairs = forecast.pair_table(model, s.configs, d.rungs, 1, forecast.Overheads())
    obj = s.objective
    post = forecast.post_phase_s(pairs, forecast.extrapolated_metrics(s.configs, d.rungs, observed, obj.metric,
                                                                       obj.maximise), obj.metric, obj.maximise,
                                 forecast.Overheads())
    deadline = started_at + seconds * (1 - forecast.BUDGET_MARGIN) - post
    # a rung starts only if even a slow fit (the 90% quantile of its prediction) ends in time
    slow = model.table(s.configs, d.rungs) * np.exp([[forecast.Z80 * model.sigma(c.config_id)] for c in s.configs])
    cost_s = {c.config_id: dict(zip(d.rungs, row.tolist())) for c, row in zip(s.configs, slow)}
    manifest.update(time_budget_s=seconds, time_budget_minimum_s=round(minimum, 3),
                    time_budget_deadline_s=round(deadline - started_at, 3))
    echo(f"time budget {seconds:g} s: rungs start while predicted to end by {deadline - started_at:.1f} s "
         f"into the run ({post:.1f} s kept for results and report; the cheapest useful sweep needs {minimum:.1f} s)")
    return Deadline(seconds, started_at, deadline, cost_s, minimum)


def trials(s: Specs, d: Data, run: RunDir, manifest: dict, *, max_concurrent: int | None = None,
           progress_stream=None, echo=print, budget: Deadline | None = None) -> None:
    """Stage 4: every (config_id, rung) the ledger lacks, fitted (or stopped early) in Tune
    trials, with a live ETA (sweep.forecast.Eta); with a `budget`, cheapest first and none
    started past its deadline (those are recorded skipped_budget). Raises RunInterrupted
    when Tune returned with pairs left (an interrupt)."""
    import ray

    from . import forecast, ledger, packing, runner
    from .events import EtaEvents
    from .progress import Progress
    from .rundir import LEDGER

    configs, rungs = s.configs, d.rungs
    adaptive = s.rule is not None
    echo(f"sweeping {len(configs)} configurations x {len(rungs)} rungs {rungs} "
         f"({'at most ' if adaptive else ''}{len(configs) * len(rungs)} fits"
         f"{'; adaptive: a configuration stops once it cannot reach the frontier' if adaptive else ''})"
         f" -> {run.path}")
    records, _ = ledger.read(run / LEDGER)
    held = ledger.latest(records)
    eta = forecast.Eta(configs, rungs, [r for r in held.values() if r.get("status") == "ok"],
                       deadline=budget.deadline if budget else None)
    eta.observe(time.perf_counter(), [], sorted({cid for (cid, _), r in held.items() if r.get("status") != "ok"}))
    eta.t_first = None  # that was the ledger, not a fit of this attempt
    try:
        events = EtaEvents(run.tensorboard)
    except OSError as exc:
        echo(f"warning: the ETA is not written to TensorBoard ({exc}); the run is unaffected")
        events = None
    progress = Progress(len(configs), len(configs) * len(rungs), s.objective, stream=progress_stream,
                        eta=eta, cores=packing.slots(configs, int(ray.cluster_resources().get("CPU", 1)),
                                                     max_concurrent), events=events)
    manifest["trials_started_at_s"], wall = runner.run_trials(
        configs, rungs, d.prepared, s.dataset.task, run.path, progress, objective=s.objective,
        max_concurrent=max_concurrent, impute=bool(s.dataset.imputed_features()),
        features=s.dataset.feature_layout(), rule=s.rule,
        deadline=budget.deadline if budget else None, cost_s=budget.cost_s if budget else None)
    manifest["trials_wall_s"] = round(wall, 3)
    missing = runner.missing_pairs(run.path, configs, rungs,
                                   skipped_since=manifest["trials_started_at_s"] if budget else None)
    if missing:  # Tune stopped early (an interrupt) without raising: never report it as done
        raise RunInterrupted(run.path, f"{len(missing)} (config_id, rung) pair(s) did not run")


@dataclass
class Results:
    trials: pd.DataFrame  # one row per fitted (config_id, rung)
    stops: pd.DataFrame   # one row per configuration stopped early
    frontier: pd.DataFrame
    skipped: pd.DataFrame = field(default_factory=pd.DataFrame)  # pairs a --time-budget left unstarted


def results(s: Specs, d: Data, run: RunDir) -> Results:
    """Stage 5: RUN/trials.parquet (+ .csv) and stopped.csv from the ledger, the frontier,
    and the test split scored for the frontier's points only (RUN/test_scores.jsonl)."""
    from . import collect, report

    table = collect.collect_results(run.path, s.configs)
    run.write_trials(table)
    stops = collect.collect_stops(run.path)
    run.write_stops(stops)
    skipped = collect.collect_skipped(run.path)
    run.write_skipped(skipped)
    n_val = validation_rows(d.report)
    rows = report.intervals.load_rows(run.path, s.objective.metric, n_val)
    front = report.frontier_of(table, s.objective, rows, n_val)
    cfg_dicts = {c.config_id: s.configuration_dict(c) for c in s.configs}
    X, y = d.prepared.X, d.prepared.y
    front = report.score_frontier(front, cfg_dicts, X["train"], y["train"], X["test"], y["test"],
                                  s.dataset.task, run.path, d.test_windows, d.drift and d.drift["windows"])
    return Results(table, stops, front, skipped)


def report(s: Specs, d: Data, r: Results, run: RunDir, manifest: dict, *, storage: str | None = None,
           echo=print) -> None:
    """Stage 6: report.html, frontier.csv and the figures, the TensorBoard summary, the
    manifest's final state (status complete), and the `--storage` copy."""
    from . import report as report_stage
    from . import storage as store
    from .report.tensorboard import tensorboard_summary

    t0 = time.perf_counter()
    manifest["test_split_scored"] = report_stage.times_scored(run.path)
    manifest["ended_at"] = datetime.now(timezone.utc).isoformat()
    manifest.pop("skipped_budget", None)
    if not r.skipped.empty:
        manifest["skipped_budget"] = len(r.skipped)
    if not r.stops.empty:
        from .prune import compute_saved

        saved = compute_saved(r.trials, r.stops, d.rungs, s.space.time_axis)
        manifest["stopped"] = {"configurations": len(r.stops), **{k: round(v, 3) for k, v in saved.items()}}
    manifest["timing"] = timing_manifest(r.trials)
    summary = report_stage.summary_lines(r.trials, r.frontier, r.stops, s.objective, manifest)
    report_stage.write_report(run.path, r.trials, r.frontier, s.objective, d.report, manifest, summary)
    tensorboard_summary(run, r.frontier, s.objective)
    manifest["report_s"] = round(time.perf_counter() - t0, 3)
    manifest["status"] = COMPLETE
    run.write_manifest(manifest)
    if storage:
        echo(f"run directory copied to {store.upload(run.path, storage)}")
