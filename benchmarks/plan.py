#!/usr/bin/env python3
"""Plan benchmark: `sweep plan`'s predicted walls, the live ETA and --time-budget against measured runs.

Five grids, one process run; every sweep is a subprocess, one at a time.

    python benchmarks/plan.py [--grids default,reference,penguins,digits3,reference5]
                              [--cores N] [--quick] [--keep] [--smoke]

Grids: the default grid (search_spaces/default.yaml), the reference grid
(search_spaces/reference.yaml, on its own dataset), and three written by this script into
runs/bench-plan/STAMP/ (absolute dataset paths, sklearn estimators only):
- penguins: mixed types (datasets/penguins.yaml), 7 architectures, 16 configurations x 4
  rungs (the penguins space's ladder and seed);
- digits3: datasets/digits.yaml, extra trees, k-neighbours, gradient boosting (up to 800
  trees), an MLP and naive Bayes, 25 configurations x a 3-rung ladder: a run of about
  100 s on 2 cores, long enough for a budget of 25% of it to exceed the fixed costs;
- reference5: datasets/digits_reference.yaml, 18 configurations x a 5-rung ladder.
For each grid, one after another (never two subprocesses at once), from the repository root,
each timed with time.perf_counter around the whole subprocess ("wall"):
a. `sweep plan SPACE --json --out DIR`: the predictions (exhaustive, adaptive, the 80%
   interval of the exhaustive wall), pilot_s and plan_s;
b. `sweep run SPACE --exhaustive --out DIR`: the exhaustive wall. Its progress lines
   (stderr, every second: SWEEP_PROGRESS_EVERY_S=1) are read as they come: the first one
   with at least 20% of the rungs done that shows an ETA gives eta_error = (ETA shown - time left) / time left, time left
   being the exit's time less the time the line was read;
c. `sweep run SPACE --out DIR`: the adaptive wall (the space's pruning; when the plan says
   the space is not adaptive, the exhaustive wall stands for it);
b2. `sweep run SPACE --exhaustive --plan PLAN_DIR --out DIR`: the ETA again, as a run that
   keeps the plan's pilots shows it;
d. `sweep run SPACE --time-budget B --out DIR` (the space's pruning) with B = 50% (and, unless
   --quick or --smoke, 25%) of b's wall: the wall, wall / B, and the hypervolume of its ok
   points over b's (sweep.pareto.hypervolume in the (metric, log time) plane; reference
   point from b's ok points: the worst validation metric, twice the slowest time). A budget
   below the cheapest useful sweep exits 2: its error line is recorded.
Errors are predicted / actual - 1. The summary: the median and largest absolute error of the
exhaustive prediction and the share within +-25%, the same for the adaptive one, the share
of exhaustive walls inside the 80% interval, and the median absolute ETA error.
`--smoke`: the default grid's smoke grid (`--smoke` to every subprocess), one 50% budget run.
Run directories are removed once read unless --keep. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DATASETS = REPO / "datasets"
SPACES = REPO / "search_spaces"
GRIDS = ("default", "reference", "penguins", "digits3", "reference5")
ETA_AT = 0.2          # the ETA checked: the first progress line with this share of the rungs done
WITHIN = 0.25         # a prediction "within" when |predicted / actual - 1| <= this

# The generated grids (dataset paths filled in at write time, absolute). Sizes picked for
# 15-100 s exhaustive on 2 cores.
GENERATED = {
    "penguins": {
        "name": "bench_penguins", "dataset": DATASETS / "penguins.yaml", "metric": "accuracy",
        "sample_sizes": [0.08, 0.25, 0.5, 1.0],  # 16 .. 206 rows, as search_spaces/penguins.yaml
        "seed": 1, "pruning": {"policy": "pareto"},
        "architectures": [
            {"name": "logreg", "estimator": "sklearn.linear_model.LogisticRegression", "scale": True,
             "params": {"max_iter": 500}, "grid": {"C": [0.01, 1.0], "class_weight": [None, "balanced"]}},
            {"name": "decision_tree", "estimator": "sklearn.tree.DecisionTreeClassifier",
             "grid": {"max_depth": [3, None]}},
            {"name": "random_forest", "estimator": "sklearn.ensemble.RandomForestClassifier",
             "params": {"n_jobs": 1}, "grid": {"n_estimators": [20, 100]}},
            {"name": "hist_gb", "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
             "grid": {"max_iter": [30, 100]}},
            {"name": "mlp", "estimator": "sklearn.neural_network.MLPClassifier", "scale": True,
             "params": {"max_iter": 300}, "grid": {"hidden_layer_sizes": [[16], [32, 16]]}},
            {"name": "svm_rbf", "estimator": "sklearn.svm.SVC", "scale": True, "grid": {"C": [1.0, 10.0]}},
            {"name": "knn", "estimator": "sklearn.neighbors.KNeighborsClassifier", "scale": True,
             "grid": {"n_neighbors": [3, 7]}},
        ],
        "smoke": {"architectures": ["logreg", "hist_gb"], "sample_sizes": [0.25, 1.0],
                  "max_configs_per_architecture": 1},
    },
    "digits3": {
        "name": "bench_digits3", "dataset": DATASETS / "digits.yaml", "metric": "accuracy",
        "sample_sizes": [0.2, 0.5, 1.0], "seed": 0, "pruning": {"policy": "pareto"},
        "architectures": [
            {"name": "extra_trees", "estimator": "sklearn.ensemble.ExtraTreesClassifier",
             "params": {"n_jobs": 1}, "grid": {"n_estimators": [20, 60], "max_depth": [12, None]}},
            {"name": "knn", "estimator": "sklearn.neighbors.KNeighborsClassifier", "scale": True,
             "grid": {"n_neighbors": [1, 5, 15], "weights": ["uniform", "distance"]}},
            {"name": "gradient_boosting", "estimator": "sklearn.ensemble.GradientBoostingClassifier",
             "grid": {"n_estimators": [100, 400, 800], "max_depth": [2, 3, 4]}},
            {"name": "mlp", "estimator": "sklearn.neural_network.MLPClassifier", "scale": True,
             "params": {"max_iter": 500}, "grid": {"hidden_layer_sizes": [[128], [128, 64]], "alpha": [1e-4, 1e-2]}},
            {"name": "naive_bayes", "estimator": "sklearn.naive_bayes.GaussianNB",
             "grid": {"var_smoothing": [1.0e-9, 1.0e-3]}},
        ],
        "smoke": {"architectures": ["extra_trees", "knn"], "sample_sizes": [0.2, 1.0],
                  "max_configs_per_architecture": 1},
    },
    "reference5": {
        "name": "bench_reference5", "dataset": DATASETS / "digits_reference.yaml", "metric": "accuracy",
        "sample_sizes": [0.05, 0.1, 0.25, 0.5, 1.0], "seed": 0, "pruning": {"policy": "pareto"},
        "architectures": [
            {"name": "logreg", "estimator": "sklearn.linear_model.LogisticRegression", "scale": True,
             "params": {"max_iter": 300}, "grid": {"C": [0.01, 0.1, 1.0, 10.0]}},
            {"name": "decision_tree", "estimator": "sklearn.tree.DecisionTreeClassifier",
             "grid": {"max_depth": [4, 8, None], "min_samples_leaf": [1, 5]}},
            {"name": "random_forest", "estimator": "sklearn.ensemble.RandomForestClassifier",
             "params": {"n_jobs": 1}, "grid": {"n_estimators": [20, 50], "max_depth": [None, 10]}},
            {"name": "hist_gb", "estimator": "sklearn.ensemble.HistGradientBoostingClassifier",
             "params": {"learning_rate": 0.1}, "grid": {"max_iter": [30, 60]}},
            {"name": "svm_rbf", "estimator": "sklearn.svm.SVC", "scale": True, "grid": {"C": [1.0, 10.0]}},
        ],
        "smoke": {"architectures": ["logreg", "decision_tree"], "sample_sizes": [0.1, 1.0],
                  "max_configs_per_architecture": 1},
    },
}

PROGRESS = re.compile(r"\[\s*[\d.]+s\] rungs (\d+)/(\d+) \|")
ETA = re.compile(r"\| ETA (\d+h\d{2}m|\d+m\d{2}s|\d+s)\s*(?:\||$)")


def sweep_command() -> list[str]:
    """The `sweep` console script of the interpreter running this (the project's .venv),
    else `python -m sweep`."""
    for exe in (Path(sys.executable).parent / "sweep", REPO / ".venv" / "bin" / "sweep"):
        if exe.is_file() and os.access(exe, os.X_OK):
            return [str(exe)]
    return [sys.executable, "-m", "sweep"]


def parse_eta(text: str) -> float:
    """12s, 4m05s, 2h03m (sweep.progress.format_s) -> seconds."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if m is None or not any(m.groups()):
        raise ValueError(f"not an ETA: {text!r}")
    h, mi, s = (int(g) if g else 0 for g in m.groups())
    return 3600.0 * h + 60.0 * mi + s


def progress_of(line: str) -> tuple[int, int, float | None] | None:
    """(rungs done, rungs in all, ETA seconds or None) of a progress line, else None."""
    m = PROGRESS.search(line)
    if m is None:
        return None
    e = ETA.search(line)
    return int(m.group(1)), int(m.group(2)), (parse_eta(e.group(1)) if e else None)


def run_cli(args: list[str], timeout_s: float) -> dict:
    """One `sweep` subprocess from the repository root (os.environ inherited), stdout and
    stderr read as they come (stderr lines stamped with the seconds since the start).
    Returns rc, wall_s (perf_counter around the whole subprocess), stdout and the lines."""
    cmd = sweep_command() + args
    out_chunks: list[str] = []
    err_lines: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            bufsize=1, errors="replace")

    def read_out():
        for chunk in proc.stdout:
            out_chunks.append(chunk)

    def read_err():
        for line in proc.stderr:
            err_lines.append((time.perf_counter() - t0, line.rstrip("\r\n")))

    threads = [threading.Thread(target=read_out, daemon=True), threading.Thread(target=read_err, daemon=True)]
    for t in threads:
        t.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(proc)
    except BaseException:  # Ctrl-C here: stop the sweep (its Ray with it) before leaving
        _stop(proc)
        raise
    wall = time.perf_counter() - t0
    for t in threads:
        t.join(timeout=30)
    return {"cmd": cmd, "rc": proc.returncode, "wall_s": wall, "timed_out": timed_out,
            "stdout": "".join(out_chunks), "stderr": err_lines}


def _stop(proc: subprocess.Popen) -> None:
    """Interrupt the subprocess we started (sweep stops its local Ray on SIGINT), then kill it."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def error_line(res: dict) -> str:
    """The subprocess's error: its `sweep: error: ...` line, else the last stderr line."""
    lines = [line for _, line in res["stderr"] if line.strip()]
    for line in reversed(lines):
        if "error:" in line:
            return line.strip()
    if res["timed_out"]:
        return f"timed out after {res['wall_s']:.0f} s"
    return lines[-1].strip() if lines else f"exit {res['rc']}"


def eta_check(res: dict) -> dict:
    """The first progress line with >= ETA_AT of the rungs done that shows an ETA, against
    the time actually left to the exit."""
    seen = [(t, *p) for t, line in res["stderr"] if (p := progress_of(line)) is not None]
    out: dict = {"progress_lines": len(seen), "lines_with_eta": sum(e is not None for *_, e in seen)}
    for t, done, total, eta in seen:
        if eta is not None and total > 0 and done >= ETA_AT * total:
            left = res["wall_s"] - t
            out.update(at_s=round(t, 2), rungs=done, total_rungs=total, share_done=round(done / total, 3),
                       eta_shown_s=eta, actual_remaining_s=round(left, 2),
                       eta_error=round((eta - left) / left, 4) if left > 0 else None)
            break
    else:
        out["eta_error"] = None
    out["trace"] = [[round(t, 1), done, eta] for t, done, _, eta in seen]
    return out


def read_run(run_dir: Path):
    """(manifest, the ok rows of trials.parquet) of a finished run directory."""
    import pandas as pd

    manifest = json.loads((run_dir / "manifest.json").read_text())
    trials = pd.read_parquet(run_dir / "trials.parquet")
    return manifest, trials[trials["status"] == "ok"]


def objective(manifest: dict) -> tuple[str, str, bool]:
    """(metric column, time column, maximise) of a run, from its manifest."""
    from sweep.metrics import Objective

    obj = Objective.of({"metric": manifest["metric"], "time_axis": manifest.get("time_axis", "train_time_s")})
    return obj.column, obj.time_axis, obj.maximise


def reference_point(ok, col: str, tcol: str, maximise: bool) -> tuple[float, float]:
    """The exhaustive run's worst validation metric and twice its slowest time."""
    return float(ok[col].min() if maximise else ok[col].max()), 2.0 * float(ok[tcol].max())


def hv_of(ok, col: str, tcol: str, maximise: bool, ref: tuple[float, float]) -> float:
    from sweep.pareto import hypervolume

    return hypervolume(ok[col].to_numpy(float), ok[tcol].to_numpy(float), ref[0], ref[1], maximise)


def write_space(name: str, folder: Path) -> Path:
    import yaml

    space = dict(GENERATED[name])
    space["dataset"] = str(Path(space["dataset"]).resolve())  # a space's dataset is relative to it
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def space_for(name: str, folder: Path) -> Path:
    if name == "default":
        return SPACES / "default.yaml"
    if name == "reference":
        return SPACES / "reference.yaml"
    return write_space(name, folder)


def breakdown(manifest: dict, ok, wall: float) -> dict:
    """Where an exhaustive run's wall went (what sweep.forecast.Overheads is checked against):
    the manifest's phases, the fits' own seconds, and the rest (start-up, specs, exit)."""
    fit_s = float((ok["train_time_s"] + ok["predict_time_s"]).sum())
    phases = {k: manifest.get(k) for k in ("ray_start_s", "data_s", "trials_wall_s", "results_s", "report_s")}
    known = sum(v for v in phases.values() if v)
    return {**{k: r(v) for k, v in phases.items()}, "fit_s": r(fit_s), "pairs": int(len(ok)),
            "other_s": r(wall - known)}


def rel_err(pred: float | None, actual: float | None) -> float | None:
    if pred is None or actual is None or not actual > 0:
        return None
    return pred / actual - 1.0


def r(x, k: int = 3):
    """Rounded; NaN and infinities as None (the JSON line stays strict JSON)."""
    if isinstance(x, float):
        return round(x, k) if math.isfinite(x) else None
    return x


def one_grid(name: str, tmp: Path, args) -> dict:
    """Plan, exhaustive run, adaptive run and budget runs of one grid."""
    space = space_for(name, tmp)
    extra = (["--smoke"] if args.smoke else []) + (["--num-cpus", str(args.cores)] if args.cores else [])
    rel = os.path.relpath(space, REPO)
    row: dict = {"grid": name, "space": rel}

    def done_with(d: Path) -> None:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)

    def say(text: str) -> None:
        print(f"{name}: {text}", flush=True)

    # a. the plan (its directory is kept for the run with its pilots, b2)
    plan_dir = d = tmp / f"{name}-plan"
    res = run_cli(["plan", rel, "--json", "--out", str(d), *extra], args.timeout)
    row["plan_wall_s"] = r(res["wall_s"])
    if res["rc"] != 0:
        row["error"] = f"sweep plan exit {res['rc']}: {error_line(res)}"
        say(row["error"])
        done_with(d)
        return row
    try:
        plan = json.loads(res["stdout"].strip().splitlines()[-1])
    except (IndexError, ValueError):
        row["error"] = f"sweep plan: no JSON line on stdout ({res['stdout'][-200:]!r})"
        say(row["error"])
        return row
    lo, hi = plan["interval80_s"]
    row.update(configurations=plan.get("configurations"), pairs=plan["pairs"], rungs=plan.get("rungs"),
               cores=plan["cores"], adaptive=bool(plan["adaptive"]),
               predicted_wall_s=r(plan["predicted_wall_s"]),
               predicted_wall_adaptive_s=r(plan["predicted_wall_adaptive_s"]),
               interval80_s=[r(lo), r(hi)], pilot_s=r(plan["pilot_s"]), plan_s=r(plan["plan_s"]),
               pilot_fits=plan.get("pilot_fits"), fixed_s=r(plan.get("fixed_s")))
    say(f"plan in {res['wall_s']:.1f} s (plan_s {plan['plan_s']:.1f}, pilots {plan['pilot_s']:.1f} s): "
        f"{plan['pairs']} pairs on {plan['cores']} core(s), exhaustive {plan['predicted_wall_s']:.1f} s "
        f"(80% {lo:.1f}-{hi:.1f}), adaptive {plan['predicted_wall_adaptive_s']:.1f} s")

    # b. exhaustive, with the ETA check
    d = tmp / f"{name}-exhaustive"
    res = run_cli(["run", rel, "--exhaustive", "--out", str(d), *extra], args.timeout)
    if res["rc"] not in (0, 4) or not (d / "trials.parquet").exists():
        row["error"] = f"sweep run --exhaustive exit {res['rc']}: {error_line(res)}"
        say(row["error"])
        done_with(d)
        return row
    wall_ex = res["wall_s"]
    manifest, ex_ok = read_run(d)
    col, tcol, maximise = objective(manifest)
    ref = reference_point(ex_ok, col, tcol, maximise)
    hv_ex = hv_of(ex_ok, col, tcol, maximise, ref)
    row.update(actual_wall_s=r(wall_ex), exhaustive_rc=res["rc"], trials_wall_s=r(manifest.get("trials_wall_s")),
               fits_exhaustive=int(len(ex_ok)), metric=manifest["metric"], time_axis=tcol,
               error_exhaustive=r(rel_err(plan["predicted_wall_s"], wall_ex), 4),
               within_interval=bool(lo <= wall_ex <= hi), plan_over_exhaustive=r(plan["plan_s"] / wall_ex, 4),
               plan_wall_over_exhaustive=r(row["plan_wall_s"] / wall_ex, 4), eta=eta_check(res),
               breakdown=breakdown(manifest, ex_ok, wall_ex))
    done_with(d)
    e = row["eta"]
    say(f"exhaustive {wall_ex:.1f} s (predicted {plan['predicted_wall_s']:.1f} s, error "
        f"{100 * row['error_exhaustive']:+.1f}%, {'inside' if row['within_interval'] else 'outside'} the 80% "
        f"interval); ETA " + (f"{e['eta_shown_s']:.0f} s shown at {e['at_s']:.1f} s ({e['rungs']}/{e['total_rungs']} "
                              f"rungs), {e['actual_remaining_s']:.1f} s left: error {100 * e['eta_error']:+.1f}%"
                              if e.get("eta_error") is not None else
                              f"not checked ({e['progress_lines']} progress line(s), {e['lines_with_eta']} with an ETA)"))

    # b2. exhaustive again, keeping the plan's pilot fits (`--plan`): the ETA as a run after
    # `sweep plan` shows it, its cost model seeded by the pilots
    d = tmp / f"{name}-exhaustive-planned"
    res = run_cli(["run", rel, "--exhaustive", "--plan", str(plan_dir), "--out", str(d), *extra], args.timeout)
    if res["rc"] in (0, 4):
        row["eta_with_plan"] = eta_check(res)
        row["actual_wall_with_plan_s"] = r(res["wall_s"])
        e = row["eta_with_plan"]
        if e.get("eta_error") is not None:
            say(f"with the plan's pilots: ETA {e['eta_shown_s']:.0f} s shown at {e['at_s']:.1f} s "
                f"({e['rungs']}/{e['total_rungs']} rungs), {e['actual_remaining_s']:.1f} s left: "
                f"error {100 * e['eta_error']:+.1f}%")
    else:
        row["eta_with_plan"] = {"error": error_line(res)}
    done_with(d)
    done_with(plan_dir)

    # c. adaptive
    if plan["adaptive"]:
        d = tmp / f"{name}-adaptive"
        res = run_cli(["run", rel, "--out", str(d), *extra], args.timeout)
        if res["rc"] in (0, 4) and (d / "trials.parquet").exists():
            _, ad_ok = read_run(d)
            row.update(actual_wall_adaptive_s=r(res["wall_s"]), adaptive_rc=res["rc"], fits_adaptive=int(len(ad_ok)),
                       hv_ratio_adaptive=r(hv_of(ad_ok, col, tcol, maximise, ref) / hv_ex if hv_ex > 0 else None, 4))
        else:
            row["adaptive_error"] = f"sweep run exit {res['rc']}: {error_line(res)}"
            say(row["adaptive_error"])
        done_with(d)
    else:
        row.update(actual_wall_adaptive_s=row["actual_wall_s"], fits_adaptive=row["fits_exhaustive"],
                   hv_ratio_adaptive=1.0)
    row["error_adaptive"] = r(rel_err(plan["predicted_wall_adaptive_s"], row.get("actual_wall_adaptive_s")), 4)
    if row.get("actual_wall_adaptive_s") is not None:
        say(f"adaptive {row['actual_wall_adaptive_s']:.1f} s (predicted {plan['predicted_wall_adaptive_s']:.1f} s, "
            f"error {100 * row['error_adaptive']:+.1f}%), {row['fits_adaptive']} of {row['fits_exhaustive']} fits, "
            f"hv ratio {row['hv_ratio_adaptive']}" + ("" if plan["adaptive"] else " (not adaptive: the exhaustive run)"))

    # d. budgets
    row["budgets"] = []
    for share in args.budget_shares:
        b = round(share * wall_ex, 1)
        d = tmp / f"{name}-budget{int(round(100 * share))}"
        res = run_cli(["run", rel, "--time-budget", f"{b:g}", "--out", str(d), *extra], args.timeout)
        got: dict = {"share": share, "budget_s": b, "rc": res["rc"], "wall_s": r(res["wall_s"]),
                     "wall_over_budget": r(res["wall_s"] / b, 4)}
        if res["rc"] in (0, 4) and (d / "trials.parquet").exists():
            m_b, ok_b = read_run(d)
            got.update(fits_ok=int(len(ok_b)), skipped_budget=m_b.get("skipped_budget", 0),
                       hv_ratio=r(hv_of(ok_b, col, tcol, maximise, ref) / hv_ex if hv_ex > 0 else None, 4))
            say(f"budget {b:g} s ({100 * share:.0f}%): wall {res['wall_s']:.1f} s = {got['wall_over_budget']:.2f} x "
                f"budget, {got['fits_ok']} fits ok ({got['skipped_budget']} skipped), hv ratio {got['hv_ratio']}")
        else:
            got["error"] = error_line(res)
            say(f"budget {b:g} s ({100 * share:.0f}%): exit {res['rc']} after {res['wall_s']:.1f} s: {got['error']}")
        row["budgets"].append(got)
        done_with(d)
    return row


def fmt(x, spec: str, width: int) -> str:
    return (format(x, spec) if isinstance(x, (int, float)) and not isinstance(x, bool) else "-").rjust(width)


def pct(v) -> str:
    return fmt(100 * v if v is not None else None, "+.1f", 7) + "%"


def table(rows: list[dict]) -> None:
    head = (f"{'grid':<11}{'pairs':>6}{'pred ex':>9}{'actual':>8}{'err':>8}{'in80':>6}{'pred ad':>9}{'actual':>8}"
            f"{'err':>8}{'pilot':>7}{'plan/ex':>8}{'eta err':>8}  budgets (share: wall/B, hv ratio)")
    print(head)
    print("-" * len(head))
    for g in rows:
        if "actual_wall_s" not in g:
            print(f"{g['grid']:<11} {g.get('error', 'no result')}")
            continue
        bud = "; ".join(f"{100 * b['share']:.0f}%: " + (f"{b['wall_over_budget']:.2f}, {b['hv_ratio']}" if "error" not in b
                                                        else f"exit {b['rc']}") for b in g.get("budgets", []))
        print(f"{g['grid']:<11}{g['pairs']:>6}{fmt(g['predicted_wall_s'], '.1f', 9)}{fmt(g['actual_wall_s'], '.1f', 8)}"
              f"{pct(g['error_exhaustive'])}{('yes' if g['within_interval'] else 'no'):>6}"
              f"{fmt(g['predicted_wall_adaptive_s'], '.1f', 9)}{fmt(g.get('actual_wall_adaptive_s'), '.1f', 8)}"
              f"{pct(g.get('error_adaptive'))}{fmt(g['pilot_s'], '.1f', 7)}{fmt(g['plan_over_exhaustive'], '.2f', 8)}"
              f"{pct(g['eta'].get('eta_error'))}  {bud}")


def summary(rows: list[dict]) -> dict:
    ok = [g for g in rows if g.get("error_exhaustive") is not None]
    ex = [abs(g["error_exhaustive"]) for g in ok]
    ad = [abs(g["error_adaptive"]) for g in rows if g.get("error_adaptive") is not None]
    eta = [abs(g["eta"]["eta_error"]) for g in ok if g["eta"].get("eta_error") is not None]
    eta_p = [abs(g["eta_with_plan"]["eta_error"]) for g in ok
             if g.get("eta_with_plan", {}).get("eta_error") is not None]
    out = {"grids_measured": len(ok), "grids_failed": len(rows) - len(ok)}
    if ex:
        out.update(median_abs_error_exhaustive=round(statistics.median(ex), 4), max_abs_error_exhaustive=round(max(ex), 4),
                   share_within_25pct_exhaustive=round(sum(e <= WITHIN for e in ex) / len(ex), 3),
                   share_within_interval80=round(sum(g["within_interval"] for g in ok) / len(ok), 3),
                   median_plan_over_exhaustive=round(statistics.median(g["plan_over_exhaustive"] for g in ok), 4))
    if ad:
        out.update(median_abs_error_adaptive=round(statistics.median(ad), 4), max_abs_error_adaptive=round(max(ad), 4),
                   share_within_25pct_adaptive=round(sum(e <= WITHIN for e in ad) / len(ad), 3))
    if eta:
        out.update(median_abs_eta_error=round(statistics.median(eta), 4), max_abs_eta_error=round(max(eta), 4))
    if eta_p:
        out.update(median_abs_eta_error_with_plan=round(statistics.median(eta_p), 4),
                   max_abs_eta_error_with_plan=round(max(eta_p), 4))
    tried = [b for g in ok for b in g.get("budgets", [])]
    budgets = [b for b in tried if "error" not in b]
    out.update(budget_runs=len(budgets), budget_refused=len(tried) - len(budgets))
    if budgets:
        out.update(max_wall_over_budget=max(b["wall_over_budget"] for b in budgets),
                   budget_overruns=sum(b["wall_over_budget"] > 1 for b in budgets))
    return out


def main(argv=None) -> int:
    # a progress line every second (not every 5 s), so the ETA is read soon after 20% of the fits
    os.environ.setdefault("SWEEP_PROGRESS_EVERY_S", "1")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", help=f"comma-separated, of {', '.join(GRIDS)} (default: all; --smoke: default)")
    ap.add_argument("--cores", type=int, help="--num-cpus for every sweep's local Ray (default: all CPUs)")
    ap.add_argument("--quick", action="store_true", help="skip the 25%% budget runs")
    ap.add_argument("--keep", action="store_true", help="keep the run directories (runs/bench-plan/STAMP/)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per subprocess (default 3600)")
    ap.add_argument("--smoke", action="store_true", help="the default grid's smoke grid, one 50%% budget run "
                    "(checks only)")
    args = ap.parse_args(argv)
    if args.grids:
        grids = [g.strip() for g in args.grids.split(",") if g.strip()]
        unknown = [g for g in grids if g not in GRIDS]
        if unknown or not grids:
            ap.error(f"--grids: unknown {unknown}; choose from {', '.join(GRIDS)}")
    else:
        grids = ["default"] if args.smoke else list(GRIDS)
    args.budget_shares = [0.5] if (args.quick or args.smoke) else [0.5, 0.25]

    base = REPO / "runs" / "bench-plan"
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=datetime.now().strftime("%Y%m%d-%H%M%S-"), dir=base))
    print(f"sweep: {' '.join(sweep_command())}; grids {', '.join(grids)}; work in {os.path.relpath(tmp, REPO)}",
          flush=True)
    t0 = time.perf_counter()
    rows = []
    try:
        for name in grids:
            rows.append(one_grid(name, tmp, args))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                base.rmdir()  # only when empty
            except OSError:
                pass
    print()
    table(rows)
    s = summary(rows)
    print()
    if "median_abs_error_exhaustive" in s:
        print(f"exhaustive prediction: median |error| {100 * s['median_abs_error_exhaustive']:.1f}%, max "
              f"{100 * s['max_abs_error_exhaustive']:.1f}%, {100 * s['share_within_25pct_exhaustive']:.0f}% of grids within "
              f"+-25%, {100 * s['share_within_interval80']:.0f}% inside the 80% interval")
    if "median_abs_error_adaptive" in s:
        print(f"adaptive prediction: median |error| {100 * s['median_abs_error_adaptive']:.1f}%, max "
              f"{100 * s['max_abs_error_adaptive']:.1f}%, {100 * s['share_within_25pct_adaptive']:.0f}% within +-25%")
    if "median_abs_eta_error" in s:
        print(f"ETA at >= {100 * ETA_AT:.0f}% of rungs: median |error| {100 * s['median_abs_eta_error']:.1f}%, max "
              f"{100 * s['max_abs_eta_error']:.1f}%")
    if s["grids_failed"]:
        print(f"{s['grids_failed']} grid(s) without a result: see the table")
    out = {"benchmark": "plan", "date": datetime.now().isoformat(timespec="seconds"),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
           "cores": args.cores, "smoke": args.smoke, "quick": args.quick, "grids": grids,
           "budget_shares": args.budget_shares, "bench_wall_s": round(time.perf_counter() - t0, 1), **s,
           "per_grid": rows}
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
