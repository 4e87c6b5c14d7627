"""The run directory: the names of its files, its manifest, and the one atomic writer.

The files the stages hand between them (docs/design.md, "The run directory") are named
here; the report stage's own outputs (report.html, its figures, points.csv) are named in
sweep.report, which writes them through the same `atomic_write`. Every whole-file write
lands in a temporary file beside the target, then `os.replace` puts it in place, so a
reader (or a killed driver) sees the old file or the new one, never half of one. The
ledger is the exception: it is appended to, record by record (sweep.ledger).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError

MANIFEST = "manifest.json"
SPEC = "spec.yaml"
LEDGER = "ledger.jsonl"
TRIALS = "trials.parquet"
TRIALS_CSV = "trials.csv"
STOPPED = "stopped.csv"
SKIPPED = "skipped.csv"
PLAN = "plan.json"
DATA_REPORT = "data_report.json"
QUARANTINE = "quarantine"
TENSORBOARD = "tensorboard"
FRONTIER = "frontier.csv"
COMPLETE = "complete"


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` on a temporary path beside `path`, then move it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary behind
        raise
    return path


def write_json(path: Path, obj: Any) -> Path:
    return atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8"))


@dataclass(frozen=True)
class RunDir:
    """One run's directory (`sweep run --out`, or runs/STAMP-NAME)."""

    path: Path

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD

    @classmethod
    def new(cls, out: str | Path | None, name: str) -> "RunDir":
        """A directory for a new run: `out` (empty or absent), else runs/STAMP-NAME[-k].

        Refuses a non-empty `out` (other than a `sweep plan` directory, whose pilot fits the
        run then keeps) or an unwritable parent before any work; creates nothing but the
        parent (`make` creates the run directory itself)."""
        if out is not None:
            p = Path(out)
            is_plan = p.is_dir() and (p / PLAN).exists() and not (p / MANIFEST).exists()
            if p.exists() and not is_plan and (not p.is_dir() or any(p.iterdir())):
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
        return cls(p)

    @classmethod
    def existing(cls, path: str | Path, flag: str) -> tuple["RunDir", dict]:
        """An existing run and its manifest; `flag` names what was given (for the error)."""
        run = cls(Path(path).resolve())
        if not (run / MANIFEST).exists():
            raise ConfigError(f"{flag} {path}: no manifest.json there, so not a sweep run directory; "
                              "give the folder that `sweep run` printed")
        return run, run.read_manifest(fix="the ledger is intact — restore the manifest from a copy, "
                                          "or start a new run")

    def read_manifest(self, fix: str = "restore it from a copy, or run the sweep again") -> dict:
        try:
            manifest = json.loads((self / MANIFEST).read_text())
        except ValueError:
            raise ConfigError(f"{self / MANIFEST}: not valid JSON (damaged); {fix}") from None
        if not isinstance(manifest, dict):
            raise ConfigError(f"{self / MANIFEST}: holds {type(manifest).__name__}, not a JSON object "
                              f"(damaged); {fix}")
        return manifest

    def has(self, name: str) -> bool:
        return (self / name).exists()

    def make(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def write_manifest(self, manifest: dict) -> None:
        write_json(self / MANIFEST, manifest)

    def write_json(self, name: str, obj: Any) -> None:
        write_json(self / name, obj)

    def write_text(self, name: str, text: str) -> None:
        atomic_write(self / name, lambda p: p.write_text(text, encoding="utf-8"))

    def write_trials(self, trials) -> None:
        """trials.parquet and trials.csv (the same table)."""
        atomic_write(self / TRIALS, lambda p: trials.to_parquet(p, index=False))
        atomic_write(self / TRIALS_CSV, lambda p: trials.to_csv(p, index=False))

    def write_stops(self, stops) -> None:
        """stopped.csv: the configurations the adaptive rule stopped (written only when any did)."""
        if not stops.empty:
            atomic_write(self / STOPPED, lambda p: stops.to_csv(p, index=False))

    def write_skipped(self, skipped) -> None:
        """skipped.csv: the pairs a --time-budget left unstarted (written only when any were);
        an earlier one is removed when none are left (a resume fitted them)."""
        if not skipped.empty:
            atomic_write(self / SKIPPED, lambda p: skipped.to_csv(p, index=False))
        elif (self / SKIPPED).exists():
            (self / SKIPPED).unlink()

    def snapshot(self, names: tuple[str, ...] = (SPEC, MANIFEST)) -> dict[str, bytes]:
        """What these files hold now, to `restore` if an attempt stops before any trial."""
        return {n: (self / n).read_bytes() for n in names if (self / n).exists()}

    def restore(self, before: dict[str, bytes], names: tuple[str, ...] = (SPEC, MANIFEST)) -> None:
        """Put back what `snapshot` saw: files it saw get their bytes, files it did not are removed."""
        for n in names:
            try:
                if n in before:
                    (self / n).write_bytes(before[n])
                else:
                    (self / n).unlink(missing_ok=True)
            except OSError:
                pass
