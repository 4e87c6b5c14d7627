"""The trial phase of a search: one phase for a grid or a random search (stages.trials), one
per batch for a model-based search (`search: {method: optuna}`), each batch asked of the
sampler from the ledger's results so far (sweep.asking) and logged before it is fitted."""

from __future__ import annotations

from dataclasses import replace

from . import asking, ledger, stages
from .budget import Deadline
from .errors import ConfigError
from .rundir import LEDGER, RunDir


def refuse_unsupported(s: stages.Specs, what: str | None) -> None:
    """Before any work: `what` (--time-budget, --plan, --extend, sweep plan; None: nothing) is
    refused for a model-based search, which does not take it yet."""
    if s.space.search.method == "optuna" and what:
        raise ConfigError(f"search method optuna does not take {what} yet (its configurations are asked as "
                          "the run goes, so they cannot be planned or budgeted in advance); use method: random "
                          f"for {what}, or run without it")


def trials(s: stages.Specs, d: stages.Data, run: RunDir, manifest: dict, *, max_concurrent: int | None = None,
           progress_stream=None, echo=print, budget: Deadline | None = None) -> stages.Specs:
    """Stage 4 for every search method; returns the Specs with every configuration that ran
    (a model-based search's asked ones added). The manifest's trials_started_at_s is the first
    phase's start, trials_wall_s the phases' walls added up."""
    kw = dict(max_concurrent=max_concurrent, progress_stream=progress_stream, echo=echo, budget=budget)
    search = s.space.search
    if search.method != "optuna" or s.smoke:   # a smoke run: the first batch only
        stages.trials(s, d, run, manifest, **kw)
        return s
    seeds = sorted({c.seed for c in s.configs}) or [s.space.seed]
    sampled_names = {a.name for a in s.space.architectures if a.sampled}
    known = {c.config_id for c in s.configs}
    logged = asking.asked(s.space, run.path, seeds)
    s = replace(s, configs=s.configs + [c for _, c in logged if c.config_id not in known])
    batch = max((b for b, _ in logged), default=0)
    started_at, wall = None, 0.0
    while True:
        stages.trials(s, d, run, manifest, **kw)
        started_at = manifest["trials_started_at_s"] if started_at is None else started_at
        wall += manifest["trials_wall_s"]
        sampled = [c for c in s.configs if c.architecture in sampled_names]
        done = len({c.group_id for c in sampled})
        if done >= search.n:
            break
        batch += 1
        records, _ = ledger.read(run / LEDGER)
        new = asking.ask(s.space, sampled, records, s.objective, batch, min(search.n - done, search.batch_size),
                         seeds)
        if not new:
            echo(f"optuna: {asking.MAX_ASKS} asks per configuration gave only repeats; the space holds "
                 f"fewer than n = {search.n} configurations, so the search ends at {done}")
            break
        asking.log_batch(run.path, batch, new)
        echo(f"optuna batch {batch}: {len(new) // len(seeds)} configurations asked from the results of {done}")
        s = replace(s, configs=s.configs + new)
    manifest["trials_started_at_s"], manifest["trials_wall_s"] = started_at, round(wall, 3)
    return s
