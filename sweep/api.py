"""The Python API (for notebooks), and `sweep run | resume | extend` as the sequence of
their stages (sweep.stages: specs → connect → data → trials → results → report).

    import sweep
    result = sweep.run("search_spaces/default.yaml", smoke=True)
    result.trials      # one row per (config_id, rung)
    result.frontier    # the Pareto frontier, with is_knee and test_<metric>
    result.run_dir
    sweep.load(result.run_dir)   # the same object for a finished run
    sweep.resume(result.run_dir) # a run whose driver died: only the missing pairs run
    sweep.extend(run_dir, "bigger_space.yaml")  # a finished run, grown: only the new pairs run
"""

from __future__ import annotations

import errno
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import planning, runfiles, searching, stages
from .errors import EXIT_OK, EXIT_PARTIAL, ConfigError, RunInterrupted, StorageError
from .metrics import Objective
from .options import Options
from .provenance import manifest_for, write_specs
from .rundir import COMPLETE, DATA_REPORT, FRONTIER, MANIFEST, PLAN, SPEC, STOPPED, TRIALS, RunDir

_STORAGE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES}


@dataclass
class SweepResult:
    run_dir: Path
    trials: pd.DataFrame
    frontier: pd.DataFrame
    manifest: dict = field(default_factory=dict)
    data_report: dict = field(default_factory=dict)

    @property
    def failed(self) -> pd.DataFrame:
        return self.trials[self.trials["status"] != "ok"]

    @property
    def exit_code(self) -> int:
        return EXIT_PARTIAL if len(self.failed) else EXIT_OK

    @property
    def knee(self) -> pd.Series | None:
        k = self.frontier[self.frontier["is_knee"]] if "is_knee" in self.frontier else self.frontier.iloc[0:0]
        return k.iloc[0] if len(k) else None


def run(space: str | Path | None = None, dataset: str | Path | None = None, out: str | Path | None = None, *,
        smoke: bool = False, repeats: int | None = None, exhaustive: bool = False,
        plan: str | Path | None = None, **options) -> SweepResult:
    """Run a new sweep end to end and return its result (see the module docstring).

    `exhaustive` fits every pair whatever the space's `pruning:` says. `plan`: a `sweep plan`
    directory whose pilot fits the run keeps (as does `out` naming one). `options`:
    sweep.options.Options's fields — `address` (an existing Ray cluster), `num_cpus`,
    `max_concurrent`, `storage` (a URI that receives a copy of the run directory,
    sweep.storage), `time_budget_s` (the whole run, from `started_at`, within that many
    seconds: stages.budget), `connect_timeout_s`, `insecure`, `argv`, `echo`, `progress_stream`."""
    o = Options(**options)
    plan_dir = _plan_dir(plan) if plan is not None else None
    s = stages.specs(space, dataset, smoke=smoke, repeats=repeats, exhaustive=exhaustive, echo=o.echo)
    searching.refuse_unsupported(s, "--time-budget" if o.time_budget_s is not None else
                                 "--plan" if plan is not None else None)
    _check_storage(o.storage)
    run_dir = RunDir.new(out, s.run_name)
    if plan_dir is None and run_dir.has(PLAN):
        plan_dir = run_dir.path
    return _execute(s, run_dir, None, None, o, plan_dir=plan_dir)


def resume(run_dir: str | Path, **options) -> SweepResult:
    """Continue a run whose driver died or was stopped: every (config_id, rung) in its ledger
    is kept and not recomputed; the rest runs (specs from RUN/spec.yaml, data checked
    against the run's fingerprint, fitting every pair or not as the run was started). Pairs
    an earlier --time-budget left unstarted run too, within `time_budget_s` when given.
    `options`: sweep.options.Options's fields, as `run` takes them."""
    o = Options(**options)
    run, previous = RunDir.existing(run_dir, "sweep resume")
    s = stages.specs_of_run(run, previous, echo=o.echo)
    searching.refuse_unsupported(s, "--time-budget" if o.time_budget_s is not None else None)
    _check_storage(o.storage)
    return _execute(s, run, previous, "resume", o)


def extend(run_dir: str | Path, space: str | Path | None = None, dataset: str | Path | None = None, *,
           smoke: bool = False, repeats: int | None = None, exhaustive: bool = False, **options) -> SweepResult:
    """Grow a finished run: `space` gained architectures, values, sample sizes or a random
    search's draws (a larger search.n keeps the first draws); only the
    (config_id, rung) pairs the run's ledger lacks run, and the frontier is rebuilt over all
    of them (an adaptive space judges the new configurations against every record).
    `options`: sweep.options.Options's fields, as `run` takes them, but no time budget."""
    o = Options(**options)
    o.refuse("--extend", time_budget_s="extend the run, then `sweep resume RUN --time-budget D` if it "
             "must fit in a budget")
    s = stages.specs(space, dataset, smoke=smoke, repeats=repeats, exhaustive=exhaustive, echo=o.echo)
    searching.refuse_unsupported(s, "--extend")
    run, previous = RunDir.existing(run_dir, "--extend")
    _check_storage(o.storage)
    return _execute(s, run, previous, "extend", o)


def _check_storage(storage: str | None) -> None:
    """After the specs passed: `--storage` is writable (its check writes a probe object there)."""
    from . import storage as store

    if storage:
        store.check(storage)


def _execute(s: stages.Specs, run: RunDir, previous: dict | None, action: str | None, o: Options,
             plan_dir: Path | None = None) -> SweepResult:
    """The stages after specs, and what a run leaves when one of them fails:
    - before any trial, a new run leaves nothing, and a resumed or extended run its files as
      they were (a refused extend must leave the run as it was);
    - after trials started, the manifest says failed or interrupted (the ledger keeps every
      finished pair: `sweep resume` continues), and `--storage` gets a copy."""
    in_plan = run.has(PLAN)  # a run started in a `sweep plan` directory: on failure, left a plan
    entries = run.entries()
    made = run.make()
    manifest = manifest_for(s, run, argv=o.argv, address=o.address, storage=o.storage,
                            previous=previous, action=action, warm=o.warm)
    before = run.snapshot() if previous is not None or in_plan else {}
    trials_started = False
    try:
        write_specs(s, run, manifest)
        conn = stages.connect(o.address, o.num_cpus, o.connect_timeout_s)
        manifest["ray_start_s"] = round(conn.seconds, 3)
        try:
            d = stages.data(s, run, manifest, previous, o.echo)
            if plan_dir is not None:
                planning.adopt_plan(plan_dir, run, s, d, o.echo)
            b = None
            if o.time_budget_s is not None:
                b = stages.budget(s, d, run, manifest, o.time_budget_s, o.started_at, o.echo)
            trials_started = True
            s = searching.trials(s, d, run, manifest, max_concurrent=o.max_concurrent,
                                 progress_stream=o.progress_stream, echo=o.echo, budget=b)
            t0 = time.perf_counter()
            r = stages.results(s, d, run)
            manifest["results_s"] = round(time.perf_counter() - t0, 3)
        finally:
            conn.close()
        stages.report(s, d, r, run, manifest, storage=o.storage, echo=o.echo)
    except BaseException as exc:
        if not trials_started and previous is None and not in_plan:
            run.remove_created(made, entries)  # nothing ran: leave no half-made run, touch nothing else
        elif not trials_started:
            run.restore(before)
        else:
            manifest["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            manifest["error"] = f"{type(exc).__name__}: {exc}"[:500]
            _record_failure(run, manifest, o.storage, o.echo)
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, RunInterrupted):
            raise RunInterrupted(run.path) from None
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            raise StorageError(f"{exc.filename or run.path}: {exc.strerror}; free space or fix the "
                               f"permissions, then continue with `sweep resume {run.path}`") from None
        raise
    return SweepResult(run.path, r.trials, r.frontier, manifest, d.report)


def _plan_dir(plan: str | Path) -> Path:
    p = Path(plan)
    if not (p / PLAN).exists():
        raise ConfigError(f"--plan {p}: no {PLAN} there, so not a `sweep plan` directory; give the folder "
                          "that `sweep plan` printed")
    return p.resolve()


def plan(space: str | Path | None = None, dataset: str | Path | None = None, out: str | Path | None = None, *,
         cores: int | None = None, budget_s: float | None = None, smoke: bool = False,
         repeats: int | None = None, exhaustive: bool = False, **options) -> dict:
    """`sweep plan`: the data stage, pilot fits, the cost model and the predicted wall of the
    whole `sweep run` on `cores` (default: the local Ray's or the cluster's CPUs), exhaustive
    and adaptive, with an 80% interval; with `budget_s`, what fits in it. Writes
    OUT/plan.json and the pilots' records (OUT/ledger.jsonl): `sweep run --out OUT` or
    `--plan OUT` keeps them. Returns the plan (sweep.forecast.predict's keys and more).
    `options`: sweep.options.Options's fields that connect (`address`, `num_cpus`,
    `connect_timeout_s`, `insecure`), `started_at` and `echo`."""
    o = Options(**options)
    o.refuse("sweep plan", time_budget_s="give the budget to plan as budget_s (--budget)",
             storage="a plan is not copied; give --storage to the run")
    if budget_s is not None and not budget_s > 0:
        raise ConfigError(f"--budget must be a positive duration, but got {budget_s!r} s")
    if out is not None and Path(out).exists() and (not Path(out).is_dir() or any(Path(out).iterdir())):
        raise ConfigError(f"--out {out}: already holds files (a plan or a run); choose a new directory")
    s = stages.specs(space, dataset, smoke=smoke, repeats=repeats, exhaustive=exhaustive, echo=o.echo)
    searching.refuse_unsupported(s, "sweep plan")
    run = RunDir.new(out, s.run_name + "-plan")
    entries = run.entries()
    made = run.make()
    try:
        result = planning.plan(s, run, o, cores=cores, budget_s=budget_s)
    except BaseException:
        run.remove_created(made, entries)  # no half-made plan; nothing this process did not make
        raise
    result["plan_s"] = round(time.time() - o.started_at, 3)
    result["plan_dir"] = str(run.path)
    run.write_json(PLAN, result)
    return result


def _record_failure(run: RunDir, manifest: dict, storage: str | None, echo) -> None:
    """On a failing or interrupted run: write its manifest (status failed / interrupted) and
    copy the run to `storage`. Either failing is said in one warning line (the run's own
    error is what propagates), never swallowed."""
    from . import storage as store

    try:
        run.write_manifest(manifest)
    except OSError as exc:
        echo(f"warning: could not write {run / 'manifest.json'} ({exc.strerror or exc}); "
             f"the ledger still holds every finished pair: `sweep resume {run.path}`")
    if storage:
        try:
            echo(f"run directory (status {manifest['status']}) copied to {store.upload(run.path, storage)}")
        except Exception as exc:  # any failure of the copy: said, then the run's own error goes on
            echo(f"warning: the run directory was not copied to {store.redact(storage)} ({type(exc).__name__}: "
                 f"{store.scrub(exc, storage)}); "
                 f"copy {run.path} by hand")


def load(run_dir: str | Path) -> SweepResult:
    """The result of a finished run, read from its directory (no Ray needed)."""
    run = RunDir(Path(run_dir))
    if not (run / MANIFEST).exists():
        raise ConfigError(f"{run.path}: no manifest.json, so not a sweep run directory; give the folder "
                          "that `sweep run` printed")
    manifest = run.read_manifest()
    if manifest.get("status") != COMPLETE:
        raise ConfigError(f"{run.path}: the run is {manifest.get('status')!r}, not complete, so it has no "
                          f"final results to load; finish it with `sweep resume {run.path}` (or wait, if "
                          "its driver is still running)")
    missing = [n for n in (TRIALS, FRONTIER, DATA_REPORT) if not (run / n).exists()]
    if missing:
        raise ConfigError(f"{run.path}: the run is complete but {', '.join(missing)} is missing; restore "
                          f"the run directory from a copy, or rebuild the tables with `sweep resume {run.path}`")
    trials = pd.read_parquet(run / TRIALS)
    front = pd.read_csv(run / FRONTIER, dtype={"config_id": str, "group_id": str})
    data_report = json.loads((run / DATA_REPORT).read_text())
    return SweepResult(run.path, trials, front, manifest, data_report)


def rebuild_report(run_dir: str | Path) -> SweepResult:
    """Rebuild frontier.csv and the report of a finished run from its files (no Ray).

    Test scores come from RUN/test_scores.jsonl; a frontier point never scored there is
    left without one (the test split is only opened by `sweep run`).
    """
    from . import report

    run, _ = RunDir.existing(run_dir, "sweep report")  # no symbolic links in a run it writes into
    if run.has(SPEC):  # a run directory is input: its spec passes the same checks as any (report needs none)
        runfiles.read_run_spec(run)
    res = load(run_dir)
    m = res.manifest
    objective = Objective.of(m)
    n_val = runfiles.validation_rows(res.data_report)
    rows = report.intervals.load_rows(res.run_dir, objective.metric, n_val)
    front = report.attach_scores(report.frontier_of(res.trials, objective, rows, n_val), res.run_dir)
    stopped = res.run_dir / STOPPED
    stops = pd.read_csv(stopped, dtype={"config_id": str}) if stopped.exists() else None
    summary = report.summary_lines(res.trials, front, stops, objective, m)
    report.write_report(res.run_dir, res.trials, front, objective, res.data_report, m, summary)
    return SweepResult(res.run_dir, res.trials, front, m, res.data_report)




def best_within_budget(result: SweepResult, seconds: float) -> dict:
    """The best frontier member whose (mean) training time is <= `seconds` (the frontier of
    sweep.dominance: over means per (group_id, rung) when configurations have several seeds).
    The best by the metric, then (exact ties) the faster: the same point a scan of all points
    finds, since that point is always a member; `tied` counts the members within budget that
    are tied with it within noise (`tied_with` naming it)."""
    objective = Objective.of(result.manifest)
    metric, time_axis, maximise = objective.column, objective.time_axis, objective.maximise
    front = result.frontier
    if front.empty or (result.trials["status"] == "ok").sum() == 0:
        raise ConfigError(f"{result.run_dir}: no successful point to choose from")
    if not seconds > 0:
        raise ConfigError(f"--budget must be a positive number of seconds, but got {seconds}")
    fastest = front[time_axis].min()
    if seconds < fastest:
        raise ConfigError(f"--budget {seconds:g} s is below the fastest point ({fastest:.4g} s of "
                          f"{time_axis}); give at least that")
    within = front[front[time_axis] <= seconds]
    sign = -1.0 if maximise else 1.0
    best = within.assign(_m=sign * within[metric]).sort_values(["_m", time_axis], kind="stable").iloc[0]
    row = best.drop(labels=["_m"]).to_dict()
    key = f"{row['config_id']}@{int(row['rung'])}"
    tied = int((within["tied_with"].fillna("") == key).sum()) if "tied_with" in within else 0
    row.update(config_ids=sorted(str(row["config_id"]).split(";")), n_train=int(row["n_train"]),
               metric=metric, time_axis=time_axis, seconds=seconds, tied=tied)
    return row
