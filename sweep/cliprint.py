"""What the command line prints of a finished run (sweep.cli): the frontier table with its
intervals, the configurations that failed, the early stops, drift's advice, and where the
report and the run directory are."""

from __future__ import annotations


def print_result(result) -> int:
    from .report import frontier_rows, text_table

    sp = result.manifest
    print()
    print(f"Pareto frontier ({len(result.frontier)} members: validation {sp['metric']} against "
          f"{sp['time_axis']} ± 95% intervals; * = knee, ~ = tied within noise with a member above it; "
          "test scored for frontier members only)")
    print(text_table(frontier_rows(result.frontier, sp["metric"], sp["time_axis"])))
    if len(result.failed):
        print(f"\n{result.failed['config_id'].nunique()} configuration(s) failed or timed out:")
        for r in result.failed.itertuples():
            print(f"  {r.status:9} {r.architecture} {r.config_id} rung {r.rung}: {r.error}")
    print_stops(sp)
    print_drift(result)
    print(f"\nreport: {result.run_dir / 'report.html'}")
    print(f"run directory: {result.run_dir}")
    return result.exit_code


def print_stops(manifest: dict) -> None:
    st = manifest.get("stopped")
    if st:
        print(f"\n{st['configurations']} configuration(s) stopped early (adaptive; stopped.csv): "
              f"{st['fits_saved']} of {st['fits_exhaustive']} fits not run, about {st['seconds_saved']:.1f} of "
              f"{st['seconds_exhaustive']:.1f} {manifest['time_axis']} saved (estimated); --exhaustive fits them all")


def print_drift(result) -> None:
    from .metrics import Objective
    from .report import drift_advice

    advice = drift_advice(result.run_dir, result.frontier, Objective.of(result.manifest))
    if advice:
        print(f"\ndrift: {advice}")
