"""Run the trials: pack configurations into Tune trials, put the splits in the object store
once, run the Tuner, then collect the trials table and the stops from the ledger.

The run's ledger (written trial-side) decides what is done; Tune only schedules.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from . import ledger
from .cost import prior_cost
from .data import Prepared
from .grid import Configuration
from .metrics import Objective
from .rundir import LEDGER, TENSORBOARD

TRIAL_COLUMNS = ["config_id", "group_id", "trial_id", "architecture", "estimator"]
TAIL_COLUMNS = ["train_time_s", "train_cpu_s", "predict_time_s", "train_time_spread", "timings", "measure_s",
                "noise_cv", "status", "node_id", "error", "finished_at_s"]
ROWS = "val_rows"  # a record's validation rows (sweep.uncertainty): in the ledger, not the table


def expected_cost(cfg: Configuration) -> float:
    """A rough prior of a configuration's fit time (relative; sweep.cost.prior_cost): the order
    trials go in when nothing has been fitted yet."""
    return prior_cost(cfg)


def configuration_dict(cfg: Configuration, impute: bool = False, features: list[dict] | None = None,
                       metric: str | None = None) -> dict:
    """What a trial needs of a configuration; `impute` and `features` (the dataset's feature
    layout: categorical columns, imputation per column — dataset properties, not part of the
    configuration's identity) shape the pipeline's preprocessing (sweep.models.build);
    `metric`, the frontier's, gets its interval and rows in each record (sweep.pair)."""
    out = asdict(cfg) | {"searched": list(cfg.searched), "impute": impute}
    if metric:
        out["metric"] = metric
    if features and any(f["kind"] != "numeric" or f["impute"] not in (None, "median") for f in features):
        out["features"] = features
    return out


class Progress:
    """A live progress line (done / running / failed, best so far, time left) fed from Tune's
    callbacks. With an `eta` (sweep.forecast.Eta), the line ends with the estimated time to
    the run's exit, refined by every batch of fits; with `events` (sweep.events.EtaEvents),
    the same estimate goes to TensorBoard's summary run."""

    ETA_EVERY_S = 1.0  # how often the estimate is recomputed (and written to TensorBoard)
    # how often a line is printed when the stream is not a terminal (SWEEP_PROGRESS_EVERY_S)
    PRINT_EVERY_S = float(os.environ.get("SWEEP_PROGRESS_EVERY_S", "5"))

    def __init__(self, total_configs: int, total_rungs: int, objective: Objective, stream=None,
                 eta=None, cores: int = 1, events=None):
        self.total_configs, self.total_rungs = total_configs, total_rungs
        self.eta, self.cores, self.events = eta, cores, events
        self.eta_s: float | None = None
        self._eta_at = -1e9
        self.metric, self.maximise = objective.metric, objective.maximise
        self.stream = stream or sys.stderr
        self.rungs = self.configs_done = self.failed = self.running = self.stopped = 0
        self.best: float | None = None
        self.best_cfg = ""
        self.t0 = time.perf_counter()
        self._last = 0.0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __getstate__(self):  # Tune pickles callbacks into its state: the stream stays behind
        state = self.__dict__.copy()
        state["stream"] = None
        state["events"] = None
        return state

    def result(self, result: dict) -> None:
        """A trial's batch of progress (sweep.trainable.Reporter): counts since its last one."""
        self.rungs += int(result.get("rungs", 0))
        self.failed += int(result.get("failed", 0))
        self.stopped += int(result.get("stopped", 0))
        self.configs_done += int(result.get("configs_done", 0))
        if self.eta is not None and (result.get("fits") or result.get("ended")):
            try:
                self.eta.observe(time.perf_counter(), result.get("fits") or [], result.get("ended") or [])
            except Exception as exc:  # an estimate must never stop a run
                print(f"warning: no ETA ({type(exc).__name__}: {exc})", file=sys.stderr)
                self.eta = self.eta_s = None
        v = result.get("best")
        if v is not None and (self.best is None or (v > self.best if self.maximise else v < self.best)):
            self.best, self.best_cfg = v, result.get("best_cfg", "")
        self.show()

    def line(self) -> str:
        best = f"best val_{self.metric} {self.best:.4f} ({self.best_cfg})" if self.best is not None else "no result yet"
        return (f"[{time.perf_counter() - self.t0:6.1f}s] rungs {self.rungs}/{self.total_rungs} | "
                f"configs done {self.configs_done}/{self.total_configs}, trials running {self.running}, "
                f"failed {self.failed}" + (f", stopped early {self.stopped}" if self.stopped else "")
                + (f" | ETA {format_s(self.eta_s)}" if self.eta_s is not None else "") + f" | {best}")

    def _update_eta(self, now: float) -> None:
        if self.eta is None or now - self._eta_at < self.ETA_EVERY_S:
            return
        self._eta_at = now
        try:
            self.eta_s = self.eta.remaining_s(now, self.cores)
        except Exception as exc:  # an estimate must never stop a run
            print(f"warning: no ETA ({type(exc).__name__}: {exc})", file=sys.stderr)
            self.eta = self.eta_s = None
            return
        if self.events is not None:
            try:
                self.events.add(self.rungs, self.eta_s, self.rungs)
            except OSError:
                self.events = None  # best effort, like every event file

    def show(self, force: bool = False) -> None:
        now = time.perf_counter()
        self._update_eta(now)
        if self.stream is None:
            return
        if self.tty:
            self.stream.write("\r" + self.line()[:160].ljust(160))
            self.stream.flush()
        elif force or now - self._last >= self.PRINT_EVERY_S:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
            self._last = now

    def end(self) -> None:
        self._eta_at = -1e9
        self._update_eta(time.perf_counter())  # the last estimate, written too
        if self.events is not None:
            self.events.close()
            self.events = None
        if self.tty and self.stream is not None:
            self.stream.write("\n")
        self.show(force=not self.tty)


def format_s(seconds: float) -> str:
    """12s, 4m05s, 2h03m: a duration for a progress line."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _callback(progress: Progress):
    from ray import tune

    class _Cb(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            progress.running += 1
            progress.show()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            progress.result(result)

        def on_trial_complete(self, iteration, trials, trial, **info):
            progress.running -= 1
            progress.show()

        def on_trial_error(self, iteration, trials, trial, **info):
            progress.running -= 1
            progress.failed += 1
            progress.show()

    return _Cb()


def run_trials(configs: list[Configuration], rungs: list[int], prepared: Prepared, task: str,
               run_dir: Path, progress: Progress, *, objective: Objective, max_concurrent: int | None = None,
               impute: bool = False, features: list[dict] | None = None,
               rule: dict | None = None, deadline: float | None = None,
               cost_s: dict[str, dict[int, float]] | None = None) -> tuple[float, float]:
    """Run every (config_id, rung) the ledger lacks as Tune trials.

    With a pruning `rule` (sweep.prune.Rule's fields; sweep.referee), a Referee actor
    replays the ledger, then records every rung and stops configurations early on
    `objective`; stopped configurations are final, like failed ones. Returns (epoch seconds
    when the trial phase started, its wall seconds).

    With a `deadline` (epoch seconds; `--time-budget`), configurations go cheapest first by
    `cost_s` (predicted seconds per config_id and rung, sweep.cost), and a trial starts no
    rung predicted to end past the deadline (sweep.trainable.Budget)."""
    from ray import tune

    run_dir = Path(run_dir).resolve()
    ledger_path = str(run_dir / LEDGER)
    if ledger.seal(ledger_path):
        print("warning: the ledger's last line was torn (a crash mid-write); it is ignored",
              file=sys.stderr)
    records, _ = ledger.read(ledger_path)
    referee = None
    if rule is not None:
        from .referee import start_referee

        referee = start_referee({c.config_id: list(rungs) for c in configs},
                                {c.config_id: c.architecture for c in configs}, objective.maximise,
                                rule, objective.metric, objective.time_axis, ledger_path, records)
        records, _ = ledger.read(ledger_path)  # with the stops the replay wrote
    latest = ledger.latest(records)
    final = {cid for (cid, _), r in latest.items() if r.get("status") != "ok"}  # failed / timed out
    items = []
    for cfg in configs:
        if cfg.config_id in final:
            continue
        todo = [n for n in rungs if (cfg.config_id, n) not in latest]
        if todo:
            d = configuration_dict(cfg, impute, features, objective.metric)
            if cost_s is not None:
                d["cost_s"] = cost_s[cfg.config_id]
                cost = sum(cost_s[cfg.config_id][n] for n in todo)
            else:
                cost = expected_cost(cfg) * sum(todo) / rungs[-1]
            items.append({"config": d, "rungs": todo, "cost": cost})
    if not items:
        _kill(referee)
        progress.end()
        return time.time(), 0.0
    import ray

    cores = int(ray.cluster_resources().get("CPU", 1))
    # Pack only grids of more than PACK_ABOVE_PER_CORE configurations per core: fixed packs
    # balance worse than Tune handing out one configuration at a time (docs/design.md).
    # An adaptive sweep starts with the cheapest configurations, so that the frontier that
    # judges the expensive ones is already there when they run (sweep.prune); so does one
    # under a time budget, so that what runs before the deadline covers the most.
    plan = pack(items, min_trials=PACK_ABOVE_PER_CORE * cores,
                cheapest_first=rule is not None or deadline is not None)
    data = prepared.trial_data
    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"  # our ledger + events replace them
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    from .recorder import start_recorder

    recorder = start_recorder()  # only on a multi-node cluster: other nodes write through it
    trainable = tune.with_parameters(_entry(), data=data, plan=plan, task=task,
                                     ledger_path=ledger_path,
                                     events_dir=str(run_dir / TENSORBOARD), recorder=recorder,
                                     driver_node=ray.get_runtime_context().get_node_id(), referee=referee,
                                     column=objective.column, maximise=objective.maximise, deadline=deadline)
    res = {key: {"cpu": pack_[0]["config"]["cpu"], "gpu": pack_[0]["config"]["gpu"]} for key, pack_ in plan.items()}
    trainable = tune.with_resources(trainable, lambda spec: res[spec["trial"]])
    _plain_actor_env()
    scratch = tempfile.mkdtemp(prefix="sweep-tune-")
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(list(plan))},
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent or 0, reuse_actors=True),
        run_config=tune.RunConfig(
            # Tune's own state is scratch, outside the run directory, fresh for every driver:
            # it is never read back (the ledger decides what is done) and never fills the run's disk
            name="tune", storage_path=scratch, verbose=0,
            callbacks=[_callback(progress)], log_to_file=False,
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
            # A trial whose process died (a lost node, a configuration past its time limit)
            # is started again; it skips every pair already in the ledger.
            failure_config=tune.FailureConfig(max_failures=2 + max(len(p) for p in plan.values())),
        ),
    )
    started_at = time.time()
    t0 = time.perf_counter()
    try:
        grid = tuner.fit()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _kill(referee)
    wall = time.perf_counter() - t0
    progress.end()
    _raise_write_errors(grid, run_dir)
    _record_dead_trials(grid, plan, ledger_path)
    return started_at, wall


def _kill(actor) -> None:
    """Stop the Referee, its records fsynced first. A Referee that cannot sync (dead, or slow
    while the run is being interrupted) is said in one warning and killed anyway: its records
    are written, only perhaps not fsynced, and the run's own error or interrupt goes on."""
    if actor is not None:
        import ray
        try:
            ray.get(actor.sync.remote(), timeout=10)
        except Exception as exc:
            print(f"warning: the Referee's last records may not be fsynced ({type(exc).__name__}); "
                  "they are in the ledger", file=sys.stderr)
        finally:
            ray.kill(actor)


def _plain_actor_env() -> None:
    """Tune gives its trial actors a runtime_env (env var PL_DISABLE_FORK=1, for PyTorch
    Lightning), which stops Ray from handing them the idle workers it prestarts at
    `ray.init`: each actor then waits for a fresh Python process, where a prestarted worker
    would enter the trial sooner. The trial sets the same variable in its own process
    instead (sweep.trainable)."""
    from ray.tune.execution import class_cache

    getattr(class_cache, "DEFAULT_ENV_VARS", {}).pop("PL_DISABLE_FORK", None)


def _died() -> tuple[type, ...]:
    """The errors of a trial whose process or node died (retried by Tune, then recorded as
    failed). An interrupt (KeyboardInterrupt, a cancelled task) is not one of them: it must
    leave its pairs missing, so that the run is reported as interrupted."""
    import ray.exceptions as rex

    return (rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError, rex.OutOfMemoryError)


def _raise_write_errors(grid, run_dir: Path) -> None:
    """A trial that could not append to the ledger (disk full, file too large, permissions)
    stops the run with that error: nothing it could not record counts as done. Any other
    trial error that is not a dead process is a bug in sweep: raised with its text."""
    died = _died()
    for r in grid:
        if r.error is not None and isinstance(r.error, ledger.LedgerError):
            msg = str(r.error).strip().splitlines()
            line = next((m for m in reversed(msg) if "cannot append" in m), msg[-1] if msg else "")
            raise ledger.LedgerError(f"{line.split('LedgerError: ')[-1][:400]}; once there is room, "
                                     f"continue with `sweep resume {run_dir}`")
    for r in grid:
        if r.error is not None and not isinstance(r.error, died) and not isinstance(r.error, KeyboardInterrupt):
            raise RuntimeError(f"a trial failed outside any estimator's fit: {r.error}")


def _record_dead_trials(grid, plan: dict, ledger_path: str) -> None:
    """Configurations of trials that Tune gave up on (errored past their retries) get a
    `failed` record naming the error, so they are reported, not silently missing."""
    died = _died()
    errors = [(r.config.get("trial") if r.config else None, r.error) for r in grid
              if r.error is not None and isinstance(r.error, died)]
    if not errors:
        return
    records, _ = ledger.read(ledger_path)
    latest = ledger.latest(records)
    skipped = ledger.skipped(records)
    for key, err in errors:
        for item in plan.get(key, []):
            cfg = item["config"]
            if any(r.get("status") != "ok" for (cid, _), r in latest.items() if cid == cfg["config_id"]):
                continue
            todo = [n for n in item["rungs"] if (cfg["config_id"], n) not in latest and (cfg["config_id"], n) not in skipped]
            if todo:
                why = str(err).splitlines()[0][:300] if str(err) else ""
                ledger.append(ledger_path, ledger.pair_record(
                    cfg, todo[0], "failed", error=f"the trial died: {type(err).__name__}: {why}"))


PACK_ABOVE_PER_CORE = 16  # >= 4 x cores trials always remain (docs/design.md)


def pack(items: list[dict], min_trials: int, cheapest_first: bool = False) -> dict[str, list[dict]]:
    """Trials for the configurations, longest expected first.

    Each configuration is its own trial while there are at most `min_trials` of them. With
    more, cheap configurations share trials: within each resource shape the items go, most
    expensive first, to the trial with the least expected work so far (LPT), into as many
    trials as that shape's share of `min_trials` (never fewer). A trial's key is its first
    configuration's id; trials are ordered by expected work, longest first.

    With `cheapest_first` (adaptive sweeps) the configurations run cheapest first instead:
    each shape's items, ascending by expected work, are cut into that many contiguous
    chunks, and the trials go in that order, so what runs first is what is cheapest.
    """
    shapes: dict[tuple, list[dict]] = {}
    for it in sorted(items, key=lambda i: i["cost"] if cheapest_first else -i["cost"]):
        shapes.setdefault((it["config"]["cpu"], it["config"]["gpu"]), []).append(it)
    bins: list[tuple[float, list[dict]]] = []
    for group in shapes.values():
        n = len(group) if len(items) <= min_trials else \
            max(1, min(len(group), math.ceil(min_trials * len(group) / len(items))))
        if cheapest_first:
            size = math.ceil(len(group) / n)
            bins.extend((sum(i["cost"] for i in group[k:k + size]), group[k:k + size])
                        for k in range(0, len(group), size))
            continue
        loads = [[0.0, []] for _ in range(n)]
        for it in group:
            target = min(loads, key=lambda b: b[0])
            target[0] += it["cost"]
            target[1].append(it)
        bins.extend((load, members) for load, members in loads if members)
    bins.sort(key=lambda b: b[0] if cheapest_first else -b[0])
    return {members[0]["config"]["config_id"]: members for _, members in bins}


def slots(configs: list[Configuration], cores: int, max_concurrent: int | None = None) -> int:
    """How many configurations run at once on `cores` CPUs: cores over the CPUs a
    configuration takes (the median's), at most --max-concurrent."""
    cpus = sorted(max(c.cpu, 1e-9) for c in configs)[len(configs) // 2] if configs else 1.0
    n = max(1, int(cores // cpus)) if cpus >= 1 else cores
    return min(n, max_concurrent) if max_concurrent else n


def trial_order(configs: list[Configuration], rungs: list[int], cores: int, adaptive: bool) -> list[str]:
    """The order in which run_trials hands configurations to Tune (its trials in order, each
    trial's configurations in order): what sweep.prune.simulate should replay."""
    items = [{"config": {"config_id": c.config_id, "cpu": c.cpu, "gpu": c.gpu},
              "cost": expected_cost(c) * sum(rungs) / rungs[-1]} for c in configs]
    plan = pack(items, min_trials=PACK_ABOVE_PER_CORE * cores, cheapest_first=adaptive)
    return [it["config"]["config_id"] for members in plan.values() for it in members]


def _entry():
    from .trainable import tune_trainable
    return tune_trainable


def missing_pairs(run_dir: Path, configs: list[Configuration], rungs: list[int],
                  skipped_since: float | None = None) -> list[tuple[str, int]]:
    """(config_id, rung) pairs still to run: not in the ledger, and not after a failed rung of
    the same configuration (a failed configuration's larger samples are not tried)."""
    records, _ = ledger.read(run_dir / LEDGER)
    latest = ledger.latest(records)
    # a --time-budget's skips, written by this attempt (from `skipped_since`, epoch seconds):
    # not started on purpose; an earlier budget's are still to fit
    skipped = {} if skipped_since is None else \
        {k for k, r in ledger.skipped(records).items() if float(r.get("finished_at_s", 0)) >= skipped_since}
    failed = {cid for (cid, _), r in latest.items() if r.get("status") != "ok"}
    return [(c.config_id, n) for c in configs for n in rungs
            if (c.config_id, n) not in latest and (c.config_id, n) not in skipped and c.config_id not in failed]


def collect_results(run_dir: Path, configs: list[Configuration]) -> pd.DataFrame:
    """trials table from the ledger: one row per (config_id, rung) with docs/design.md's columns."""
    records, skipped = ledger.read(run_dir / LEDGER)
    if skipped:
        print(f"warning: {skipped} torn or unreadable ledger line(s) ignored", file=sys.stderr)
    by_id = {c.config_id: c for c in configs}
    latest = ledger.latest(records)
    rows = []
    for (cid, rung), rec in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if rec.get("status") == "stopped":
            continue  # a decision not to fit, not a fitted pair: see collect_stops
        cfg = by_id.get(cid)
        row = {
            "config_id": cid, "group_id": rec.get("group_id"), "trial_id": rec.get("trial_id", ""),
            "architecture": rec.get("architecture"),
            "estimator": cfg.estimator if cfg else rec.get("estimator", ""),
            "params": rec.get("params", {}), "seed": rec.get("seed"), "rung": rung,
            "n_train": rec.get("n_train"),
        }
        row.update({k: v for k, v in rec.items() if k.startswith("val_") and k != ROWS})
        row.update({k: rec.get(k) for k in TAIL_COLUMNS})
        rows.append(row)
    return trials_frame(rows)


SKIPPED_COLUMNS = ["config_id", "group_id", "architecture", "rung", "n_train", "params_json"]


def collect_skipped(run_dir: Path) -> pd.DataFrame:
    """The pairs a --time-budget left unstarted (status skipped_budget), one row each."""
    records, _ = ledger.read(run_dir / LEDGER)
    rows = [{"config_id": r["config_id"], "group_id": r.get("group_id"), "architecture": r.get("architecture"),
             "rung": int(r["rung"]), "n_train": int(r["rung"]), "params_json": json.dumps(r.get("params", {}), sort_keys=True)}
            for r in ledger.skipped(records).values()]
    return pd.DataFrame(rows, columns=SKIPPED_COLUMNS).sort_values(["config_id", "rung"], ignore_index=True)


STOP_COLUMNS = ["config_id", "group_id", "architecture", "stopped_after", "next_rung", "reason", "params_json"]


def collect_stops(run_dir: Path) -> pd.DataFrame:
    """The stopped configurations (sweep.referee), one row each: the rung it stopped after,
    the rung it did not fit, and the reason (RUN/stopped.csv)."""
    records, _ = ledger.read(run_dir / LEDGER)
    rows = [{"config_id": r["config_id"], "group_id": r.get("group_id"), "architecture": r.get("architecture"),
             "stopped_after": r.get("stopped_after"), "next_rung": int(r["rung"]), "reason": r.get("reason", ""),
             "params_json": json.dumps(r.get("params", {}), sort_keys=True)}
            for r in ledger.latest(records).values() if r.get("status") == "stopped"]
    return pd.DataFrame(rows, columns=STOP_COLUMNS).sort_values("config_id", ignore_index=True)


def trials_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows (with a `params` dict each) → the trials table, one `param_<name>` per hyperparameter.

    A parameter column is numeric when every value given is a number; otherwise each value
    is written as JSON text (None → "null", tuples/lists → "[64, 32]"), never dropped.
    """
    if not rows:
        return pd.DataFrame(columns=TRIAL_COLUMNS + ["seed", "rung", "n_train"] + TAIL_COLUMNS)
    names = sorted({k for r in rows for k in r["params"]})
    df = pd.DataFrame([{k: v for k, v in r.items() if k != "params"} for r in rows])
    for name in names:
        vals = [r["params"].get(name, _ABSENT) for r in rows]
        given = [v for v in vals if v is not _ABSENT]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given)
        col = [np.nan if v is _ABSENT else v for v in vals] if numeric else \
              [None if v is _ABSENT else json.dumps(v) for v in vals]
        df[f"param_{name}"] = pd.Series(col, dtype="float64" if numeric else "string")
    df["params_json"] = [json.dumps(r["params"], sort_keys=True) for r in rows]
    metric_cols = sorted(c for c in df.columns if c.startswith("val_"))
    order = (TRIAL_COLUMNS + [f"param_{n}" for n in names] + ["seed", "rung", "n_train"]
             + metric_cols + TAIL_COLUMNS + ["params_json"])
    df = df[[c for c in order if c in df.columns]]
    for c in ("seed", "rung", "n_train"):
        df[c] = df[c].astype("int64")
    return df


_ABSENT = object()
