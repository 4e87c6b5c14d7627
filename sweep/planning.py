"""`sweep plan` (connect, data, pilot fits, the cost model and the forecast: sweep.forecast)
into a directory a run can start in, and a run keeping a plan's pilot fits (`--plan`, or
`sweep run --out PLAN_DIR`)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from .options import Options
from .rundir import RunDir
from .stages import Data, Specs, connect, data


def adopt_plan(plan_dir: Path, run: RunDir, s: Specs, d: Data, echo=print) -> None:
    """Keep a `sweep plan`'s pilot fits (after the data stage, which must have given the same
    data): its ledger's records of this run's configurations and rungs join the run's, so
    they are not fitted again."""
    from . import ledger
    from .rundir import LEDGER, PLAN

    plan_dir = Path(plan_dir).resolve()
    plan = json.loads((plan_dir / PLAN).read_text())
    src = plan_dir / LEDGER
    if plan.get("data_fingerprint") != d.prepared.fingerprint:
        echo(f"warning: the data changed since the plan in {plan_dir} (fingerprint {plan.get('data_fingerprint')}, "
             f"now {d.prepared.fingerprint}); its pilot fits are not kept")
        if plan_dir == run.path and src.exists():
            src.rename(run / "ledger.plan-stale.jsonl")
        return
    if not src.exists():
        return
    records, _ = ledger.read(src)
    wanted = {(c.config_id, n) for c in s.configs for n in d.rungs}
    keep = [r for r in records if (r["config_id"], int(r["rung"])) in wanted]
    if plan_dir == run.path.resolve():  # the run started in the plan's directory
        if len(keep) < len(records):  # a plan of another space, ladder or --smoke: set aside what is not this run's
            src.rename(run / "ledger.plan-unused.jsonl")
            for r in keep:
                ledger.append(run / LEDGER, r)
    else:
        for r in keep:
            ledger.append(run / LEDGER, r)
    echo(f"kept {len(keep)} pilot fit(s) from the plan in {plan_dir}"
         + (f" ({len(records) - len(keep)} of other configurations or sample sizes set aside)"
            if len(keep) < len(records) else ""))


def plan(s: Specs, run: RunDir, o: Options, *, cores: int | None, budget_s: float | None) -> dict:
    """`sweep plan`'s stages: connect, data (into the plan's directory), pilots, the cost model
    and the forecast (sweep.forecast) on `cores` (default: the cluster's CPUs)."""
    import ray

    from . import forecast, packing, pilots
    from .cost import CostModel
    from .rundir import LEDGER

    echo = o.echo
    conn = connect(o.address, o.num_cpus, o.connect_timeout_s)
    try:
        d = data(s, run, {}, None, echo)
        fixed = time.time() - o.started_at  # the run's own start-up and data stage, as measured here
        p = pilots.pilot(s.configs, d.rungs, d.prepared, s.dataset.task, run / LEDGER, s.configuration_dict, echo)
        cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
    finally:
        t0 = time.perf_counter()
        conn.close()
        shutdown_s = time.perf_counter() - t0
    n = cores or cluster_cpus
    lanes = packing.slots(s.configs, n)  # configurations at once: n over the CPUs each takes
    # the run's exit is this same shutdown, and the interpreter's
    overheads = dataclasses.replace(forecast.Overheads(), exit_s=shutdown_s + forecast.INTERPRETER_EXIT_S)
    model = CostModel.fit(s.configs, p["observed"])
    obj = s.objective
    out = forecast.predict(
        model, s.configs, d.rungs, lanes,
        order_exhaustive=packing.trial_order(s.configs, d.rungs, n, adaptive=False),
        order_adaptive=packing.trial_order(s.configs, d.rungs, n, adaptive=True),
        n_trials=min(len(s.configs), packing.PACK_ABOVE_PER_CORE * n), fixed_s=fixed,
        observed=p["observed"], metric=obj.metric, maximise=obj.maximise, rule=s.rule, overheads=overheads)
    out.update(cores=n, slots=lanes, shutdown_s=round(shutdown_s, 3), pilot_s=round(p["wall_s"], 3), pilot_fits=p["fits"], pilot_core_s=round(p["core_s"], 4),
               pilot_share=round(p["core_s"] / out["core_s"], 4) if out["core_s"] else None,
               cluster_cpus=cluster_cpus, adaptive=s.rule is not None, space_file=str(s.space_path.resolve()),
               dataset_file=str(s.dataset_path.resolve()), data_fingerprint=d.prepared.fingerprint,
               spread_by_architecture={a: round(model.sigma(next(c.config_id for c in s.configs
                                                                  if c.architecture == a)), 3)
                                       for a in out["core_s_by_architecture"]})
    if budget_s is not None:
        out["budget"] = forecast.within_budget(model, s.configs, d.rungs, lanes, budget_s, fixed, overheads)
    return out
