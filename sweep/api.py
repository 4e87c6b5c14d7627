"""The Python API (for notebooks) and the orchestration behind `sweep run`.

    import sweep
    result = sweep.run("search_spaces/default.yaml", smoke=True)
    result.trials      # one row per (config_id, rung)
    result.frontier    # the Pareto frontier, with is_knee and test_<metric>
    result.run_dir
    sweep.load(result.run_dir)   # the same object for a finished run
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import __version__
import errno

from .errors import ConfigError, DataError, EXIT_OK, EXIT_PARTIAL, StorageError

_STORAGE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES}
from .spec import DatasetSpec, SearchSpace, load_dataset, load_space

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPACE = "search_spaces/default.yaml"
COMPLETE = "complete"


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


def find_default(rel: str) -> Path:
    for base in (Path.cwd(), REPO_ROOT):
        if (base / rel).exists():
            return base / rel
    raise ConfigError(f"{rel}: not found in {Path.cwd()} or {REPO_ROOT}; give the search space's path")


def resolve_specs(space: str | Path | None, dataset: str | Path | None) -> tuple[Path, SearchSpace, Path, DatasetSpec]:
    space_path = Path(space) if space else find_default(DEFAULT_SPACE)
    sp = load_space(space_path)
    if dataset:
        ds_path = Path(dataset)
    elif sp.dataset:
        ds_path = (space_path.resolve().parent / sp.dataset)
    else:
        raise ConfigError(f"{space_path}: no dataset given; pass --dataset DATASET.yaml or add "
                          "'dataset: path/to/dataset.yaml' to the search space")
    ds = load_dataset(ds_path)
    try:
        sp.check_task(ds.task)
    except ValueError as exc:
        raise ConfigError(f"{space_path}: {exc} (dataset {ds_path} is {ds.task})") from None
    return space_path, sp, ds_path, ds


def check_estimators(sp: SearchSpace, space_path: Path) -> None:
    """Every estimator imports and takes every hyperparameter named: before any work."""
    from .models import check_encoding, check_params, resolve

    for i, arch in enumerate(sp.architectures):
        where = f"{space_path}: architectures[{i}] ({arch.name})"
        cls = resolve(arch.estimator, where)
        check_params(cls, {**arch.params, **arch.grid}, arch.estimator, where)
        check_encoding(arch.estimator, arch.encode, where)


def new_run_dir(out: str | Path | None, name: str) -> Path:
    if out is not None:
        p = Path(out)
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            raise ConfigError(f"--out {p}: already holds a run (or other files); choose a new "
                              "directory, or remove this one to start over")
        parent = p.resolve().parent
    else:
        parent = Path("runs").resolve()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        p = parent / f"{stamp}-{name}"
        k = 1
        while p.exists():
            k += 1
            p = parent / f"{stamp}-{name}-{k}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {parent} ({exc.strerror}); choose a writable --out") from None
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{parent} is not writable; choose a writable --out")
    return p


def _versions() -> dict:
    import numpy
    import pyarrow
    import ray
    import sklearn

    return {"sweep": __version__, "python": platform.python_version(), "ray": ray.__version__,
            "scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
            "pandas": pd.__version__, "pyarrow": pyarrow.__version__}


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def run(space: str | Path | None = None, dataset: str | Path | None = None, out: str | Path | None = None,
        address: str | None = None, max_concurrent: int | None = None, smoke: bool = False,
        repeats: int | None = None, num_cpus: int | None = None, progress_stream=None,
        echo=print, argv: list[str] | None = None, storage: str | None = None,
        connect_timeout_s: float = 30.0, extend: bool = False, exhaustive: bool = False,
        _resume: Path | None = None) -> SweepResult:
    """Run a sweep end to end and return its result (see the module docstring).

    `address` connects to an existing Ray cluster; `storage` (a URI) receives a copy of the
    run directory when the run ends (sweep.storage). With `extend`, `out` is an existing run
    whose search space gained architectures, values or sample sizes: only the (config_id,
    rung) pairs its ledger lacks run, and the frontier is rebuilt over all of them.
    `exhaustive` fits every pair whatever the space's `pruning:` says."""
    from . import data, report, runner, storage as store
    from .space import expand, ladder, sizes_for

    if max_concurrent is not None and max_concurrent < 1:
        raise ConfigError(f"--max-concurrent must be >= 1, but got {max_concurrent}")
    if storage:
        store.check(storage)
    previous: dict | None = None
    if _resume is not None:
        run_dir, previous, space_path, sp, ds_path, ds, smoke, repeats, exhaustive = _load_for_resume(_resume)
    else:
        space_path, sp, ds_path, ds = resolve_specs(space, dataset)
    configs = expand(sp, smoke=smoke, repeats=repeats)
    check_estimators(sp, space_path)
    written = data.ensure_bundled(ds)
    if written:
        echo(f"wrote the bundled {ds.bundled} sources under {Path(ds.sources[0].path).parent}")
    sources_files = data.check_sources(ds)
    if _resume is None and extend:
        if out is None:
            raise ConfigError("--extend needs --out RUN_DIR: the finished run to extend")
        run_dir, previous = existing_run(out, "--extend")
    elif _resume is None:
        run_dir = new_run_dir(out, sp.name + ("-smoke" if smoke else ""))
    run_dir.mkdir(parents=True, exist_ok=True)
    trials_started = False
    manifest = {
        "run_name": run_dir.name, "status": "running", "started_at": datetime.now(timezone.utc).isoformat(),
        "command": argv if argv is not None else sys.argv, "cwd": str(Path.cwd()),
        "space_file": str(space_path.resolve()), "dataset_file": str(ds_path.resolve()),
        "smoke": smoke, "repeats": repeats or sp.repeats, "seeds": sorted({c.seed for c in configs}),
        "split_seed": ds.split.seed, "metric": sp.metric, "time_axis": sp.time_axis,
        "address": address or "local", "storage": storage, "versions": _versions(),
        "pruning": "none" if exhaustive else sp.pruning.policy,
    }
    if previous is not None:  # resume / extend: the run keeps its name, start and history
        manifest.update(run_name=previous.get("run_name", run_dir.name),
                        started_at=previous.get("started_at", manifest["started_at"]),
                        history=previous.get("history", []) + [
                            {"command": manifest["command"], "at": manifest["started_at"],
                             "action": "resume" if _resume is not None else "extend",
                             "previous_status": previous.get("status")}])
    # resume / extend: what the run's files said before, restored if this attempt stops
    # before any trial (a refused extend must leave the run as it was)
    before = {name: (run_dir / name).read_bytes() for name in ("spec.yaml", "manifest.json")
              if previous is not None and (run_dir / name).exists()}
    try:
        (run_dir / "spec.yaml").write_text(yaml.safe_dump(
            {"dataset": ds.model_dump(mode="json"), "search_space": sp.model_dump(mode="json"),
             "smoke": smoke, "repeats": repeats or sp.repeats, "exhaustive": exhaustive},
            sort_keys=False), encoding="utf-8")
        _write_json(run_dir / "manifest.json", manifest)
        started, ray_s = runner.start_ray(address, num_cpus, connect_timeout_s)
        manifest["ray_start_s"] = round(ray_s, 3)
        try:
            prepared = data.prepare(ds, sources_files=sources_files)
            data.enforce_rules(ds, prepared.report)
            rungs = ladder(sizes_for(sp, smoke), len(prepared.y["train"]))
            prepared.report["warnings"] += data.rare_class_warnings(prepared.report, rungs[0]) \
                if ds.task == "classification" else []
            manifest["data_s"] = round(prepared.seconds, 3)
            if previous is not None and previous.get("data_fingerprint") not in (None, prepared.fingerprint):
                raise ConfigError(
                    f"{run_dir}: the data changed since this run started (fingerprint "
                    f"{previous['data_fingerprint']}, now {prepared.fingerprint}); its results would "
                    "not compare. Restore the sources and the dataset spec as they were, or start a "
                    "new run (without --extend)")
            manifest["data_fingerprint"] = prepared.fingerprint
            manifest["rungs"] = rungs
            manifest["n_configs"] = len(configs)
            _write_json(run_dir / "data_report.json", prepared.report)
            data.write_quarantine(prepared, run_dir / "quarantine")
            _write_json(run_dir / "manifest.json", manifest)
            echo(data.summary_line(prepared.report, prepared.seconds))
            for w in prepared.report["warnings"]:
                echo(f"warning: {w}")
            drift_result, test_windows = _profile_drift(ds, prepared, run_dir, echo)
            adaptive = not exhaustive and sp.pruning.policy != "none"
            echo(f"sweeping {len(configs)} configurations x {len(rungs)} rungs {rungs} "
                 f"({'at most ' if adaptive else ''}{len(configs) * len(rungs)} fits"
                 f"{'; adaptive: a configuration stops once it cannot reach the frontier' if adaptive else ''})"
                 f" -> {run_dir}")
            impute = bool(ds.imputed_features())
            features = ds.feature_layout()
            progress = runner.Progress(len(configs), len(configs) * len(rungs), sp.metric, sp.maximise,
                                       stream=progress_stream)
            trials_started = True
            pruning = None if exhaustive or sp.pruning.policy == "none" else {
                "rule": sp.pruning.model_dump(), "metric": sp.metric, "time_axis": sp.time_axis,
                "maximise": sp.maximise}
            manifest["trials_started_at_s"], wall = runner.run_trials(
                configs, rungs, prepared, ds.task, run_dir, max_concurrent, progress, impute, features, pruning)
            manifest["trials_wall_s"] = round(wall, 3)
            missing = runner.missing_pairs(run_dir, configs, rungs)
            if missing:  # Tune stopped early (an interrupt) without raising: never report it as done
                raise RunInterrupted(run_dir, f"{len(missing)} (config_id, rung) pair(s) did not run")
            trials = runner.collect_results(run_dir, configs)
            _atomic_table(trials, run_dir)
            stops = runner.collect_stops(run_dir)
            _atomic_stops(stops, run_dir)
            front = report.frontier_of(trials, sp.metric, sp.time_axis, sp.maximise)
            cfg_dicts = {c.config_id: runner.configuration_dict(c, impute, features) for c in configs}
            front = report.score_frontier(front, cfg_dicts, prepared.X["train"], prepared.y["train"],
                                          prepared.X["test"], prepared.y["test"], ds.task, run_dir,
                                          test_windows, drift_result and drift_result["windows"])
        finally:
            if started:
                import ray
                ray.shutdown()
        manifest["test_split_scored"] = report.times_scored(run_dir)
        manifest["ended_at"] = datetime.now(timezone.utc).isoformat()
        n_failed = int((trials["status"] != "ok").sum()) if not trials.empty else 0
        summary = _summary(trials, front, sp.metric, sp.time_axis, manifest, n_failed)
        summary += _stops_summary(trials, stops, rungs, sp.time_axis)
        if not stops.empty:
            from .prune import compute_saved
            manifest["stopped"] = {"configurations": len(stops),
                                   **{k: round(v, 3) for k, v in compute_saved(trials, stops, rungs, sp.time_axis).items()}}
        report.write_report(run_dir, trials, front, sp.metric, sp.time_axis, sp.maximise,
                            prepared.report, manifest, summary)
        _tensorboard_summary(run_dir, front, sp)
        manifest["status"] = COMPLETE
        _write_json(run_dir / "manifest.json", manifest)
        if storage:
            echo(f"run directory copied to {store.upload(run_dir, storage)}")
    except BaseException as exc:
        if not trials_started and previous is None:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: leave no half-made run
        elif not trials_started:
            for name in ("spec.yaml", "manifest.json"):
                try:
                    if name in before:
                        (run_dir / name).write_bytes(before[name])
                    else:
                        (run_dir / name).unlink(missing_ok=True)
                except OSError:
                    pass
        else:
            manifest["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            manifest["error"] = f"{type(exc).__name__}: {exc}"[:500]
            _record_failure(run_dir, manifest, storage, echo)
        if isinstance(exc, KeyboardInterrupt) and not isinstance(exc, RunInterrupted):
            raise RunInterrupted(run_dir) from None
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            raise StorageError(f"{exc.filename or run_dir}: {exc.strerror}; free space or fix the "
                               f"permissions, then continue with `sweep resume {run_dir}`") from None
        raise
    return SweepResult(run_dir, trials, front, manifest, prepared.report)


def _record_failure(run_dir: Path, manifest: dict, storage: str | None, echo) -> None:
    """On a failing or interrupted run: write its manifest (status failed / interrupted) and
    copy the run to `storage`. Either failing is said in one warning line (the run's own
    error is what propagates), never swallowed."""
    from . import storage as store

    try:
        _write_json(run_dir / "manifest.json", manifest)
    except OSError as exc:
        echo(f"warning: could not write {run_dir / 'manifest.json'} ({exc.strerror or exc}); "
             f"the ledger still holds every finished pair: `sweep resume {run_dir}`")
    if storage:
        try:
            echo(f"run directory (status {manifest['status']}) copied to {store.upload(run_dir, storage)}")
        except Exception as exc:  # any failure of the copy: said, then the run's own error goes on
            echo(f"warning: the run directory was not copied to {storage} ({type(exc).__name__}: {exc}); "
                 f"copy {run_dir} by hand")


def _profile_drift(ds: DatasetSpec, prepared, out_dir: Path | None, echo) -> tuple[dict | None, Any]:
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
    if out_dir is not None:
        _write_json(out_dir / drift.DRIFT_FILE, result)
    for line in drift.summary_lines(result):
        echo(line)
    return result, test_windows


class RunInterrupted(KeyboardInterrupt):
    """The run stopped before every pair ran; its ledger keeps what finished (exit 130)."""

    def __init__(self, run_dir: Path, why: str = "interrupted"):
        super().__init__(why)
        self.run_dir = run_dir


def resume(run_dir: str | Path, address: str | None = None, max_concurrent: int | None = None,
           num_cpus: int | None = None, progress_stream=None, echo=print, argv: list[str] | None = None,
           storage: str | None = None, connect_timeout_s: float = 30.0) -> SweepResult:
    """Continue a run whose driver died or was stopped: every (config_id, rung) in its ledger
    is kept and not recomputed; the rest runs (specs from RUN/spec.yaml, data checked
    against the run's fingerprint)."""
    return run(address=address, max_concurrent=max_concurrent, num_cpus=num_cpus,  # exhaustive: as the run was
               progress_stream=progress_stream, echo=echo, argv=argv, storage=storage,
               connect_timeout_s=connect_timeout_s, _resume=Path(run_dir))


def existing_run(path: str | Path, flag: str) -> tuple[Path, dict]:
    p = Path(path).resolve()
    m = p / "manifest.json"
    if not m.exists():
        raise ConfigError(f"{flag} {path}: no manifest.json there, so not a sweep run directory; "
                          "give the folder that `sweep run` printed")
    try:
        return p, json.loads(m.read_text())
    except ValueError:
        raise ConfigError(f"{m}: not valid JSON (damaged); the ledger is intact — restore the "
                          "manifest from a copy, or start a new run") from None


def _load_for_resume(path: Path):
    from .spec import DatasetSpec, SearchSpace

    run_dir, manifest = existing_run(path, "sweep resume")
    spec_file = run_dir / "spec.yaml"
    if not spec_file.exists():
        raise ConfigError(f"{spec_file}: missing, so the run's specs are unknown; run it again with "
                          "`sweep run SPACE --out NEW_DIR`")
    spec = yaml.safe_load(spec_file.read_text())
    ds = DatasetSpec.model_validate(spec["dataset"])
    sp = SearchSpace.model_validate(spec["search_space"])
    # A run from before `pruning:` existed fitted every pair: it resumes the same way.
    exhaustive = bool(spec.get("exhaustive")) or "pruning" not in spec["search_space"]
    return (run_dir, manifest, Path(manifest.get("space_file", spec_file)), sp,
            Path(manifest.get("dataset_file", spec_file)), ds, bool(spec.get("smoke")), spec.get("repeats"),
            exhaustive)


def _atomic_table(trials: pd.DataFrame, run_dir: Path) -> None:
    tmp = run_dir / ".trials.parquet.tmp"
    trials.to_parquet(tmp, index=False)
    os.replace(tmp, run_dir / "trials.parquet")
    tmp = run_dir / ".trials.csv.tmp"
    trials.to_csv(tmp, index=False)
    os.replace(tmp, run_dir / "trials.csv")


def _atomic_stops(stops: pd.DataFrame, run_dir: Path) -> None:
    """RUN/stopped.csv: the configurations the adaptive rule stopped (written only when any did)."""
    if stops.empty:
        return
    tmp = run_dir / ".stopped.csv.tmp"
    stops.to_csv(tmp, index=False)
    os.replace(tmp, run_dir / "stopped.csv")


def _stops_summary(trials: pd.DataFrame, stops: pd.DataFrame, rungs: list[int], time_axis: str) -> list[str]:
    """'N configurations stopped early' and the compute saved against the exhaustive grid's estimate."""
    from .prune import compute_saved

    if stops.empty:
        return []
    saved = compute_saved(trials, stops, rungs, time_axis)
    return [f"{len(stops)} configuration(s) stopped early by the adaptive rule (stopped.csv); compute saved: "
            f"{saved['fits_saved']} of {saved['fits_exhaustive']} fits, about {saved['seconds_saved']:.1f} of "
            f"{saved['seconds_exhaustive']:.1f} {time_axis} (the unfitted pairs estimated from each "
            "architecture's cost slope)"]


def _summary(trials: pd.DataFrame, front: pd.DataFrame, metric: str, time_axis: str, manifest: dict,
             n_failed: int) -> list[str]:
    out = [f"{trials['config_id'].nunique()} configurations, {len(trials)} (config_id, rung) points, "
           f"{n_failed} failed or timed out",
           f"frontier: {len(front)} points of validation {metric} against {time_axis}",
           f"test split scored for {manifest.get('test_split_scored', 0)} frontier point(s), once each"]
    knee = front[front["is_knee"]] if "is_knee" in front else front.iloc[0:0]
    if len(knee):
        k = knee.iloc[0]
        out.append(f"knee: {k['architecture']} {k['config_id']} at n_train={int(k['n_train'])}: "
                   f"val_{metric} {k[f'val_{metric}']:.4f} in {k[time_axis]:.3f} s")
    return out


def _tensorboard_summary(run_dir: Path, front: pd.DataFrame, sp: SearchSpace) -> None:
    from .events import write_summary
    from .report import drift_advice, frontier_rows, markdown_table

    text, psi = None, None
    from .drift import DRIFT_FILE

    drift_file = run_dir / DRIFT_FILE
    if drift_file.exists():
        result = json.loads(drift_file.read_text())
        text = drift_advice(run_dir, front, sp.metric, sp.maximise) or "No drift over the thresholds."
        psi = {}
        for r in result["comparisons"]:
            if r["comparison"] == "consecutive" and r["psi"] is not None:
                psi.setdefault(r["column"], []).append((r["cur"], r["psi"]))
    write_summary(run_dir / "tensorboard", markdown_table(frontier_rows(front, sp.metric, sp.time_axis)),
                  run_dir / "pareto.png", text, psi)


def load(run_dir: str | Path) -> SweepResult:
    """The result of a finished run, read from its directory (no Ray needed)."""
    p = Path(run_dir)
    manifest_path = p / "manifest.json"
    if not manifest_path.exists():
        raise ConfigError(f"{p}: no manifest.json, so not a sweep run directory; give the folder "
                          "that `sweep run` printed")
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError:
        raise ConfigError(f"{manifest_path}: not valid JSON (damaged); restore it from a copy, or run "
                          "the sweep again") from None
    if not isinstance(manifest, dict) or manifest.get("status") != COMPLETE:
        status = manifest.get("status") if isinstance(manifest, dict) else None
        raise ConfigError(f"{p}: the run is {status!r}, not complete; "
                          "it has no final results to load")
    trials = pd.read_parquet(p / "trials.parquet")
    front = pd.read_csv(p / "frontier.csv", dtype={"config_id": str, "group_id": str})
    data_report = json.loads((p / "data_report.json").read_text())
    return SweepResult(p, trials, front, manifest, data_report)


def rebuild_report(run_dir: str | Path) -> SweepResult:
    """Rebuild frontier.csv and the report of a finished run from its files (no Ray).

    Test scores come from RUN/test_scores.jsonl; a frontier point never scored there is
    left without one (the test split is only opened by `sweep run`).
    """
    from . import report
    from .metrics import MAXIMISE

    res = load(run_dir)
    m = res.manifest
    maximise = MAXIMISE[m["metric"]]
    front = report.attach_scores(report.frontier_of(res.trials, m["metric"], m["time_axis"], maximise),
                                 res.run_dir)
    n_failed = int((res.trials["status"] != "ok").sum())
    summary = _summary(res.trials, front, m["metric"], m["time_axis"], m, n_failed)
    if (res.run_dir / "stopped.csv").exists() and m.get("rungs"):
        stops = pd.read_csv(res.run_dir / "stopped.csv", dtype={"config_id": str})
        summary += _stops_summary(res.trials, stops, m["rungs"], m["time_axis"])
    report.write_report(res.run_dir, res.trials, front, m["metric"], m["time_axis"], maximise,
                        res.data_report, m, summary)
    return SweepResult(res.run_dir, res.trials, front, m, res.data_report)


def best_within_budget(result: SweepResult, seconds: float) -> dict:
    """The best point whose (mean) training time is <= `seconds`: over means per
    (group_id, rung) when configurations have several seeds, else over raw points."""
    from . import pareto
    from .metrics import MAXIMISE
    from .report import grouped_points

    m = result.manifest
    metric, time_axis = f"val_{m['metric']}", m["time_axis"]
    maximise = MAXIMISE[m["metric"]]
    ok = result.trials[result.trials["status"] == "ok"]
    if ok.empty:
        raise ConfigError(f"{result.run_dir}: no successful point to choose from")
    if not seconds > 0:
        raise ConfigError(f"--budget must be a positive number of seconds, but got {seconds}")
    points = grouped_points(ok, metric, time_axis)
    fastest = points[time_axis].min()
    if seconds < fastest:
        raise ConfigError(f"--budget {seconds:g} s is below the fastest point ({fastest:.4g} s of "
                          f"{time_axis}); give at least that")
    row = pareto.best_within(points, seconds, metric, time_axis, maximise).to_dict()
    row.update(config_ids=sorted(str(row["config_id"]).split(";")), n_train=int(row["n_train"]),
               metric=metric, time_axis=time_axis, seconds=seconds)
    return row
