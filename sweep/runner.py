"""Run the trials: put the splits in the object store once, hand the configurations to Tune
as trials (packed by sweep.packing), run the Tuner with the progress line (sweep.progress),
and say which (config_id, rung) pairs are still to run.

The run's ledger (written trial-side) decides what is done; Tune only schedules.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from . import ledger
from .compat import drop_tune_actor_env
from .data import Prepared
from .grid import Configuration
from .metrics import Objective
from .packing import PACK_ABOVE_PER_CORE, expected_cost, pack
from .progress import Progress
from .rundir import LEDGER, TENSORBOARD


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


def _halt():
    """A Tune Stopper that ends the whole trial phase once a trial could not write the ledger
    (disk full, file too large, permissions: sweep.ledger.LedgerError). Tune would retry that
    trial, in a fresh process each time, up to its max_failures, and every retry would fail the
    same way; the first such error stops every trial and is raised after `fit` (`error`)."""
    from ray import tune

    class _Halt(tune.Stopper):
        error: BaseException | None = None

        def __call__(self, trial_id, result) -> bool:
            return False

        def stop_all(self) -> bool:
            return self.error is not None

        def seen(self, trial) -> None:
            if self.error is None:
                err = trial.get_pickled_error()  # from Tune's scratch folder, not the run's disk
                if isinstance(err, ledger.LedgerError):
                    self.error = err
                    # the stopped trials' results, never fetched, hold the same error: Ray would
                    # print each with its traceback; the run raises this one, once
                    os.environ["RAY_IGNORE_UNHANDLED_ERRORS"] = "1"

    return _Halt()


def _callback(progress: Progress, halt=None):
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
            if halt is not None:
                halt.seen(trial)

        def on_trial_recover(self, iteration, trials, trial, **info):
            if halt is not None:
                halt.seen(trial)

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
    rung predicted to end past the deadline (sweep.budget.TrialBudget)."""
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
    halt = _halt()
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(list(plan))},
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent or 0, reuse_actors=True),
        run_config=tune.RunConfig(
            # Tune's own state is scratch, outside the run directory, fresh for every driver:
            # it is never read back (the ledger decides what is done) and never fills the run's disk
            name="tune", storage_path=scratch, verbose=0,
            callbacks=[_callback(progress, halt)], stop=halt, log_to_file=False,
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
    _raise_write_errors(grid, run_dir, halt.error)
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
    drop_tune_actor_env("PL_DISABLE_FORK")


def _died() -> tuple[type, ...]:
    """The errors of a trial whose process or node died (retried by Tune, then recorded as
    failed). An interrupt (KeyboardInterrupt, a cancelled task) is not one of them: it must
    leave its pairs missing, so that the run is reported as interrupted."""
    import ray.exceptions as rex

    return (rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError, rex.OutOfMemoryError)


def _raise_write_errors(grid, run_dir: Path, halted: BaseException | None = None) -> None:
    """A trial that could not append to the ledger (disk full, file too large, permissions)
    stops the run with that error (`halted`: the one that stopped the trial phase, else any
    trial's): nothing it could not record counts as done. Any other trial error that is not
    a dead process is a bug in sweep: raised with its text."""
    died = _died()
    errors = ([halted] if halted is not None else []) + [r.error for r in grid if r.error is not None]
    for err in errors:
        if isinstance(err, ledger.LedgerError):
            msg = str(err).strip().splitlines()
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
    skipped = ledger.budget_skipped(records)
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
        {k for k, r in ledger.budget_skipped(records).items() if float(r.get("finished_at_s", 0)) >= skipped_since}
    failed = {cid for (cid, _), r in latest.items() if r.get("status") != "ok"}
    return [(c.config_id, n) for c in configs for n in rungs
            if (c.config_id, n) not in latest and (c.config_id, n) not in skipped and c.config_id not in failed]
