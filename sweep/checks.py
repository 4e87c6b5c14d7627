"""`sweep data check | drift` as functions: the data stage alone (on a local or existing
Ray), then its report, or its drift between time windows (sweep.drift)."""

from __future__ import annotations

from pathlib import Path

from .connect import check_transport
from .errors import ConfigError, printable
from .spec import load_dataset


def data_check(dataset: str | Path, out: str | Path | None = None, address: str | None = None,
               num_cpus: int | None = None, echo=print, insecure: bool = False) -> dict:
    """Run the data stage alone: print its report, write it (and the quarantine) to `out`,
    and raise DataRuleError (exit 3) when a rule marked fatal failed."""
    from . import data
    from .rundir import DATA_REPORT, QUARANTINE
    from .rundir import write_json as _write_json

    check_transport(address, insecure)
    ds = load_dataset(dataset)
    o = _out_dir(out)
    prepared = _prepare_alone(ds, address, num_cpus, echo)
    rep = prepared.report
    if o is not None:
        o.mkdir(parents=True, exist_ok=True)
        _write_json(o / DATA_REPORT, rep)
        data.write_quarantine(prepared, o / QUARANTINE)
    echo(data.summary_line(rep, prepared.seconds))
    for name, r in rep["sources"].items():
        kinds: dict[str, int] = {}
        for k, v in r["rows_quarantined_by_reason"].items():
            kinds[k.split(":")[0]] = kinds.get(k.split(":")[0], 0) + v
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "-"
        echo(f"  {name}: read {r['rows_read']} = kept {r['rows_kept']} + quarantined "
             f"{r['rows_quarantined']} + duplicate {r['rows_duplicate']}; reasons: {reasons}")
    for name, sr in rep["splits"].items():
        extra = f", time {sr['time_range'][0]} .. {sr['time_range'][1]}" if "time_range" in sr else ""
        echo(f"  split {name}: {sr['rows']} rows, fingerprint {sr['fingerprint']}{extra}")
    for name, counts in rep.get("imputed", {}).items():
        shown = ", ".join(f"{c} {n}" for c, n in counts.items() if n) or "none"
        echo(f"  imputed in {name} (in each pipeline, fit on its training subsample): {shown}")
    for w in rep["warnings"]:
        echo(f"warning: {w}")
    if out is not None:
        echo(f"report: {Path(out) / 'data_report.json'}")
    data.enforce_rules(ds, rep)
    return rep


def data_drift(dataset: str | Path, windows: int | None = None, out: str | Path | None = None,
               address: str | None = None, num_cpus: int | None = None, echo=print, insecure: bool = False) -> dict:
    """The data stage, then drift over its time windows: print it, write drift.json to `out`."""
    from . import data, drift
    from .rundir import write_json as _write_json

    if windows is not None and not 2 <= windows <= 100:
        raise ConfigError(f"--windows must be between 2 and 100, but got {windows}")
    check_transport(address, insecure)
    ds = load_dataset(dataset)
    o = _out_dir(out)
    if ds.time is None:
        raise ConfigError(f"{dataset}: dataset {ds.name!r} has no time column; add 'time: COLUMN' (a declared "
                          "column, e.g. a hive partition key such as day) to profile drift")
    if windows is not None:
        ds = ds.model_copy(update={"drift": ds.drift.model_copy(update={"windows": windows})})
    prepared = _prepare_alone(ds, address, num_cpus, echo)
    echo(data.summary_line(prepared.report, prepared.seconds))
    result, _ = drift.profile(prepared, ds)
    if o is not None:
        o.mkdir(parents=True, exist_ok=True)
        _write_json(o / drift.DRIFT_FILE, result)
    for line in drift.summary_lines(result):
        echo(line)
    advice = drift.recommendation(result)
    echo(f"recommendation: {advice}" if advice else "no drift over the thresholds")
    if o is not None:
        echo(f"drift: {o / drift.DRIFT_FILE}")
    return result


def _out_dir(out: str | Path | None) -> Path | None:
    """`--out` for the data commands: a directory (made when the report is written), never a
    symbolic link, whose own files are only ever replaced atomically (no write through a link)."""
    if out is None:
        return None
    o = Path(out)
    if o.is_symlink() or (o.exists() and not o.is_dir()):
        raise ConfigError(f"--out {printable(out)}: is not a directory (or is a symbolic link); give a folder")
    return o


def _prepare_alone(ds, address: str | None, num_cpus: int | None, echo):
    """The data stage on a Ray started for it (and stopped after) or on `address`."""
    from . import connect, data

    if data.ensure_bundled(ds):
        echo(f"wrote the bundled {ds.bundled} sources under {Path(ds.sources[0].path).parent}")
    sources_files = data.check_sources(ds)
    started, _ = connect.start_ray(address, num_cpus)
    try:
        return data.prepare(ds, sources_files=sources_files)
    finally:
        connect.shutdown(started)


__all__ = ["data_check", "data_drift"]
