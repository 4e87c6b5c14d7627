"""`sweep run | resume | submit | jobs | data check | data drift | tensorboard | report` — thin: parse, call, print. Exit codes as in sweep.errors."""

from __future__ import annotations

import argparse
import sys
import traceback

from .cliargs import (Parser, add_cluster_flags, add_cold, add_connect_timeout, add_debug, add_insecure,
                      add_num_cpus, duration, positive_int)
from .cliprint import print_drift, print_result, print_stops
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, SweepError, printable
from .rundir import TENSORBOARD


def process_started_at() -> float:
    """Epoch seconds this process started (Linux: /proc), so that a budget counts the
    interpreter's start-up and imports too; else now."""
    import os
    import time

    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return min(boot + ticks / os.sysconf("SC_CLK_TCK"), time.time())
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="sweep", description="Distributed hyperparameter sweeps on Ray: "
               "partitioned Parquet in, a Pareto frontier of accuracy against training time out.")
    p.add_argument("--version", action="version", version=f"sweep {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    r = sub.add_parser("run", help="run a sweep (no arguments: the bundled default)")
    r.add_argument("space", nargs="?", help="search space YAML (default: search_spaces/default.yaml)")
    r.add_argument("--dataset", help="dataset spec YAML (default: the search space's `dataset`)")
    r.add_argument("--out", help="run directory to create (default: a new folder under runs/)")
    r.add_argument("--address", help="an existing Ray cluster (auto, HOST:PORT, ray://HOST:10001); "
                   "default: `sweep up`'s warm Ray when it is up, else a new local one")
    r.add_argument("--storage", metavar="URI", help="copy the run directory to URI/<run name> when "
                   "it ends (s3://bucket/runs, gs://..., file:///shared/runs)")
    add_connect_timeout(r)
    r.add_argument("--max-concurrent", type=positive_int, help="at most N trials at once")
    r.add_argument("--repeats", type=positive_int, help="seeds per configuration (overrides the space)")
    add_num_cpus(r)
    add_cold(r)
    r.add_argument("--smoke", action="store_true", help="a small grid that finishes in under a minute")
    r.add_argument("--extend", action="store_true", help="--out names an existing run whose space "
                   "gained architectures, values or sizes: run only the new (config_id, rung) pairs")
    r.add_argument("--exhaustive", action="store_true", help="fit every (configuration, sample size) "
                   "pair: no early stopping, whatever the space's `pruning:` says")
    r.add_argument("--time-budget", type=duration("--time-budget"), metavar="DURATION",
                   help="end the whole run within DURATION (90, 15m, 2h): cheapest work first, pairs "
                   "that would end past it are not started (status skipped_budget; resume fits them)")
    r.add_argument("--plan", metavar="PLAN_DIR", help="keep the pilot fits of `sweep plan --out PLAN_DIR`")
    add_insecure(r)
    add_debug(r)
    r.set_defaults(func=_cmd_run)

    pl = sub.add_parser("plan", help="predict a sweep's wall before running it: the data stage, a few "
                        "pilot fits, a cost model, the schedule simulated on N cores")
    pl.add_argument("space", nargs="?", help="search space YAML (default: search_spaces/default.yaml)")
    pl.add_argument("--dataset", help="dataset spec YAML (default: the search space's `dataset`)")
    where = pl.add_mutually_exclusive_group()
    where.add_argument("--cores", type=positive_int, help="predict for N cores (default: this machine's, "
                       "or the cluster's with --address)")
    where.add_argument("--address", help="an existing Ray cluster: pilots run there, and its CPUs are the cores")
    pl.add_argument("--budget", type=duration("--budget"), metavar="DURATION",
                    help="also say what fits in DURATION (90, 15m, 2h)")
    pl.add_argument("--out", help="the plan's directory (default: runs/STAMP-NAME-plan); "
                    "`sweep run --out` it or `--plan` it to keep the pilot fits")
    pl.add_argument("--json", action="store_true", help="print the plan as one JSON object on stdout")
    add_insecure(pl)
    add_num_cpus(pl)
    add_cold(pl)
    pl.add_argument("--smoke", action="store_true", help="the space's small grid")
    pl.add_argument("--repeats", type=positive_int, help="seeds per configuration (overrides the space)")
    pl.add_argument("--exhaustive", action="store_true", help="plan for --exhaustive (no early stopping)")
    add_connect_timeout(pl)
    add_debug(pl)
    pl.set_defaults(func=_cmd_plan)

    rs = sub.add_parser("resume", help="continue a run whose driver died or was interrupted: "
                        "pairs in its ledger are kept, the rest runs")
    rs.add_argument("run_dir", help="the run directory")
    rs.add_argument("--address", help="an existing Ray cluster (default: `sweep up`'s warm Ray when it "
                    "is up, else a new local one)")
    rs.add_argument("--storage", metavar="URI", help="copy the run directory there when it ends")
    add_connect_timeout(rs)
    rs.add_argument("--max-concurrent", type=positive_int, help="at most N trials at once")
    add_num_cpus(rs)
    add_cold(rs)
    rs.add_argument("--time-budget", type=duration("--time-budget"), metavar="DURATION",
                    help="a new budget for the rest of the run (90, 15m, 2h)")
    add_insecure(rs)
    add_debug(rs)
    rs.set_defaults(func=_cmd_resume)

    up = sub.add_parser("up", help="keep a warm local Ray for repeated runs on this machine: `sweep "
                        "run | resume | plan` use it until `sweep down` (skips Ray's start and stop)")
    add_num_cpus(up)
    add_debug(up)
    up.set_defaults(func=_cmd_up)
    down = sub.add_parser("down", help="stop the warm local Ray of `sweep up`")
    add_debug(down)
    down.set_defaults(func=_cmd_down)

    sb = sub.add_parser("submit", help="run a sweep as a job on an existing cluster (Ray's Job API)")
    sb.add_argument("space", nargs="?", help="search space YAML inside this project "
                    "(default: search_spaces/default.yaml)")
    sb.add_argument("--address", required=True, help="the cluster's Job server, e.g. http://127.0.0.1:8265")
    sb.add_argument("--dataset", help="dataset spec YAML inside this project")
    sb.add_argument("--storage", metavar="URI", help="where the job copies its run directory "
                    "(s3://..., gs://..., file:///shared/runs); without it the run stays on the head node")
    sb.add_argument("--follow", action="store_true", help="stream the job's logs; exit with its outcome")
    sb.add_argument("--smoke", action="store_true", help="the space's small grid")
    sb.add_argument("--repeats", type=positive_int, help="seeds per configuration")
    sb.add_argument("--exhaustive", action="store_true", help="fit every pair (no early stopping)")
    sb.add_argument("--install-deps", action="store_true", help="have Ray install the project's pinned "
                    "dependencies (other than Ray) into the job's environment with pip; by default "
                    "the nodes must already have them (cluster/*.yaml install the project's wheel)")
    add_cluster_flags(sb)
    sb.set_defaults(func=_cmd_submit)

    jb = sub.add_parser("jobs", help="list, inspect, follow or stop jobs on a cluster")
    jb.add_argument("action", choices=["list", "status", "logs", "stop"])
    jb.add_argument("job_id", nargs="?", help="the job id `sweep submit` printed")
    jb.add_argument("--address", required=True, help="the cluster's Job server, e.g. http://127.0.0.1:8265")
    jb.add_argument("--follow", action="store_true", help="with logs: stream until the job ends")
    add_cluster_flags(jb)
    jb.set_defaults(func=_cmd_jobs)

    d = sub.add_parser("data", help="the data stage alone")
    dsub = d.add_subparsers(dest="data_command", metavar="SUBCOMMAND", parser_class=Parser, required=True)
    chk = dsub.add_parser("check", help="read, validate, de-duplicate and split a dataset; print its "
                          "report; exit 3 when a rule marked fatal fails")
    chk.add_argument("dataset", help="dataset spec YAML")
    chk.add_argument("--out", help="write data_report.json and quarantine/ here")
    chk.add_argument("--address", help="an existing Ray cluster (default: start a local one)")
    add_num_cpus(chk)
    add_insecure(chk)
    add_debug(chk)
    chk.set_defaults(func=_cmd_data_check)
    dr = dsub.add_parser("drift", help="the data stage, then drift between time windows (PSI, KS, "
                         "chi-square; corrected flags) and when to retrain")
    dr.add_argument("dataset", help="dataset spec YAML with a time column")
    dr.add_argument("--windows", type=int, metavar="K",
                    help="number of time windows (default: the spec's drift.windows: one per distinct "
                    "time value when at most 20, else 10)")
    dr.add_argument("--out", help="write drift.json here")
    dr.add_argument("--address", help="an existing Ray cluster (default: start a local one)")
    add_num_cpus(dr)
    add_insecure(dr)
    add_debug(dr)
    dr.set_defaults(func=_cmd_data_drift)

    tb = sub.add_parser("tensorboard", help="serve a run's TensorBoard on 127.0.0.1 (Ctrl-C stops it)")
    tb.add_argument("run_dir", help="the run directory (running or finished)")
    tb.add_argument("--port", type=int, default=6006, help="port (default 6006; 0 picks a free one)")
    add_debug(tb)
    tb.set_defaults(func=_cmd_tensorboard)

    rep = sub.add_parser("report", help="rebuild a finished run's report (no Ray needed)")
    rep.add_argument("run_dir", help="the run directory")
    rep.add_argument("--budget", type=duration("--budget"), metavar="DURATION",
                     help="print the best configuration whose training time is within DURATION "
                     "(seconds: 1, 0.05; or 2m), a duration as `plan --budget` takes")
    add_debug(rep)
    rep.set_defaults(func=_cmd_report)
    return p


def _version() -> str:
    from . import __version__
    return __version__


def _cmd_run(args) -> int:
    from . import api

    from .errors import ConfigError

    options = dict(dataset=args.dataset, address=args.address, max_concurrent=args.max_concurrent,
                   smoke=args.smoke, repeats=args.repeats, num_cpus=args.num_cpus, argv=sys.argv,
                   storage=args.storage, connect_timeout_s=args.connect_timeout, exhaustive=args.exhaustive,
                   insecure=args.insecure, cold=args.cold)
    if args.extend:
        if args.out is None:
            raise ConfigError("--extend needs --out RUN_DIR: the finished run to extend")
        if args.time_budget is not None or args.plan is not None:
            raise ConfigError("--extend takes neither --time-budget nor --plan; extend the run, then "
                              "`sweep resume RUN --time-budget D` if it must fit in a budget")
        return print_result(api.extend(args.out, args.space, **options))
    return print_result(api.run(args.space, out=args.out, time_budget_s=args.time_budget, plan=args.plan,
                                started_at=process_started_at(), **options))


def _cmd_up(args) -> int:
    from . import runtime

    runtime.up(args.num_cpus)
    return 0


def _cmd_down(args) -> int:
    from . import runtime

    runtime.down()
    return 0


def _cmd_resume(args) -> int:
    from . import api

    result = api.resume(args.run_dir, address=args.address, max_concurrent=args.max_concurrent,
                        num_cpus=args.num_cpus, argv=sys.argv, storage=args.storage,
                        connect_timeout_s=args.connect_timeout, time_budget_s=args.time_budget,
                        started_at=process_started_at(), insecure=args.insecure, cold=args.cold)
    return print_result(result)


def _cmd_plan(args) -> int:
    import json

    from . import api
    from .progress import format_s

    echo = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    p = api.plan(args.space, dataset=args.dataset, out=args.out, cores=args.cores, address=args.address,
                 num_cpus=args.num_cpus, budget_s=args.budget, smoke=args.smoke, repeats=args.repeats,
                 exhaustive=args.exhaustive, echo=echo, connect_timeout_s=args.connect_timeout,
                 started_at=process_started_at(), insecure=args.insecure, cold=args.cold)
    if args.json:
        print(json.dumps(p, default=str))
        return 0
    lo, hi = p["interval80_s"]
    print(f"\nplan for {p['configurations']} configurations x {len(p['rungs'])} rungs = {p['pairs']} pairs "
          f"on {p['cores']} core(s):")
    print(f"  exhaustive (--exhaustive): {format_s(p['predicted_wall_s'])} "
          f"(80% interval {format_s(lo)} to {format_s(hi)})")
    if p["adaptive"]:
        print(f"  adaptive (the space's pruning): about {format_s(p['predicted_wall_adaptive_s'])}")
    print(f"  of which start-up and data {p['fixed_s']:.1f} s (measured), results and report {p['post_s']:.1f} s")
    print(f"  pilots: {p['pilot_fits']} fit(s) in {p['pilot_s']:.1f} s ({p['pilot_core_s']:.2f} core-s, "
          f"{100 * (p['pilot_share'] or 0):.1f}% of the predicted fits); the plan took {p['plan_s']:.1f} s")
    print("\ncore-seconds of fitting per architecture (exhaustive):")
    for a, v in p["core_s_by_architecture"].items():
        print(f"  {a:24} {v:10.2f}")
    print("\nthe ten most expensive configurations (core-seconds, all rungs):")
    for r in p["most_expensive"]:
        print(f"  {r['config_id']}  {r['architecture']:20} {r['core_s']:10.2f}")
    if "budget" in p:
        b = p["budget"]
        print(f"\nwithin {format_s(b['budget_s'])}: about {b['pairs_within']} of {b['pairs']} pairs (cheapest "
              f"first, smallest rungs first); the cheapest useful sweep needs {format_s(b['minimum_s'])}")
    print(f"\nplan: {p['plan_dir']}/plan.json (`sweep run --out {p['plan_dir']}` keeps the pilot fits)")
    return 0


def _cmd_submit(args) -> int:
    from . import cluster

    job_id, status = cluster.submit(args.address, args.space, dataset=args.dataset, storage=args.storage,
                                    follow=args.follow, insecure=args.insecure,
                                    connect_timeout_s=args.connect_timeout, smoke=args.smoke,
                                    repeats=args.repeats, install_deps=args.install_deps,
                                    exhaustive=args.exhaustive)
    if status is None:
        return 0
    print(f"job {job_id}: {status}")
    return job_exit_code(status)


def _cmd_jobs(args) -> int:
    from . import cluster

    return cluster.jobs(args.action, args.address, args.job_id, insecure=args.insecure,
                        connect_timeout_s=args.connect_timeout, follow=args.follow)


def job_exit_code(status: str) -> int:
    """0 for a job that SUCCEEDED; EXIT_JOB_FAILED (5) for any other end (FAILED, STOPPED)."""
    from .errors import EXIT_JOB_FAILED

    return 0 if status == "SUCCEEDED" else EXIT_JOB_FAILED


def _cmd_data_check(args) -> int:
    from . import checks

    checks.data_check(args.dataset, out=args.out, address=args.address, num_cpus=args.num_cpus,
                      insecure=args.insecure)
    return 0


def _cmd_data_drift(args) -> int:
    from . import checks

    checks.data_drift(args.dataset, windows=args.windows, out=args.out, address=args.address,
                      num_cpus=args.num_cpus, insecure=args.insecure)
    return 0


def _cmd_tensorboard(args) -> int:
    import time
    from pathlib import Path

    from .errors import ConfigError

    logdir = Path(args.run_dir) / TENSORBOARD
    if not logdir.is_dir():
        raise ConfigError(f"{args.run_dir}: no tensorboard/ folder, so not a sweep run directory; "
                          "give the folder that `sweep run` printed")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, but got {args.port}")
    from tensorboard import program

    board = program.TensorBoard()
    board.configure(argv=[None, "--logdir", str(logdir), "--host", "127.0.0.1",
                          "--port", str(args.port), "--reload_interval", "2"])
    try:
        url = board.launch()
    except program.TensorBoardServerException as exc:
        raise ConfigError(f"cannot serve TensorBoard on 127.0.0.1:{args.port} ({exc}); "
                          "choose another --port (0 picks a free one)") from None
    print(f"TensorBoard for {logdir} at {url} (Ctrl-C stops it)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def _cmd_report(args) -> int:
    from . import api
    from .report import frontier_rows, text_table
    from .report.tables import describe_params

    result = api.rebuild_report(args.run_dir)
    m = result.manifest
    print(text_table(frontier_rows(result.frontier, m["metric"], m["time_axis"])))
    print_stops(m)
    print_drift(result)
    print(f"\nreport: {result.run_dir / 'report.html'}")
    if args.budget is not None:
        b = api.best_within_budget(result, args.budget)
        half = b.get(b["metric"] + "_ci")  # 0 when the seeds agree: still said, as ± 0.0000
        ci = f" ± {half:.4f}" if half is not None and half == half else ""
        t_half = b.get(b["time_axis"] + "_ci")
        t_ci = f" ± {t_half:.4f}" if t_half else ""
        ties = f"; {b['tied']} member(s) within budget tied with it (frontier.csv tied_with)" if b.get("tied") else ""
        print(f"\nbest within {b['seconds']:g} s of {b['time_axis']}: {b['architecture']} "
              f"{describe_params(b['params_json'])} at n_train={b['n_train']} "
              f"(config_id {', '.join(b['config_ids'])}): {b['metric']} {b[b['metric']]:.4f}{ci} "
              f"in {b[b['time_axis']]:.4f} s{t_ci}{ties}")
    return 0


def quiet_interrupted_finalizers() -> None:
    """A Ctrl-C that lands while a finalizer runs (Ray's `ActorHandle.__del__` as Tune stops
    its trials, at a second Ctrl-C) cannot propagate: Python drops it and prints it as
    "Exception ignored in ..." with a traceback. The run's interrupt is handled all the same
    (exit 130, the resume command); only that echo is left out. Other errors in finalizers
    are printed as before."""
    default = sys.unraisablehook

    def hook(unraisable) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            default(unraisable)

    sys.unraisablehook = hook


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    debug = getattr(args, "debug", False)
    if not debug:
        quiet_interrupted_finalizers()
    try:
        return int(args.func(args) or 0)
    except SweepError as exc:
        if debug:
            traceback.print_exc()
        print(f"sweep: error: {printable(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        run_dir = getattr(exc, "run_dir", None)
        if run_dir is not None:
            print(f"\nsweep: interrupted; finished rungs are kept in {run_dir}/ledger.jsonl. "
                  f"Continue with:\n  sweep resume {run_dir}", file=sys.stderr)
        else:
            print("\nsweep: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # a bug: show it
        traceback.print_exc()
        print("sweep: internal error (a bug); please report it with the traceback above", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
