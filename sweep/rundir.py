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
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError, printable

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
REPORT = "report.html"
PARETO_PNG = "pareto.png"
CURVES_PNG = "learning_curves.png"
TEST_SCORES = "test_scores.jsonl"
SEARCH_LOG = "search.jsonl"   # a model-based search's asked configurations (sweep.asking)
COMPLETE = "complete"


def atomic_write(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp)` on a temporary path beside `path`, then move it into place.

    The temporary is created exclusively under a fresh name (mkstemp: O_EXCL), so a file or
    link planted beside the target is never written through; `os.replace` then replaces the
    target's directory entry itself (a link there is replaced, not followed)."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temporary behind
        raise
    return path


def links_in(root: Path, limit: int = 3) -> list[Path]:
    """Symbolic links at or under `root` (at most `limit` of them), without following any."""
    root = Path(root)
    if root.is_symlink():
        return [root]
    found: list[Path] = []
    for top, dirs, files in os.walk(root, followlinks=False):
        for n in dirs + files:
            p = Path(top) / n
            if p.is_symlink():
                found.append(p)
                if len(found) >= limit:
                    return found
    return found


def write_json(path: Path, obj: Any) -> Path:
    return atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2, default=str), encoding="utf-8"))


def _remove_empty(made: list[Path]) -> None:
    """Remove the directories this process made (outermost first in `made`), innermost first,
    each only while empty: something else may have been put there since."""
    for d in reversed(made):
        try:
            d.rmdir()
        except OSError:
            return


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
            if not name or Path(name).name != name or ".." in name:  # the spec stage checks names; never a path
                raise ConfigError(f"the run name {printable(name)!r} would leave runs/; rename the search space")
            parent = Path("runs").resolve()
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            p = parent / f"{stamp}-{name}"
            k = 1
            while p.exists():
                k += 1
                p = parent / f"{stamp}-{name}-{k}"
        existing = next(a for a in [parent, *parent.parents] if a.exists())
        if not existing.is_dir():
            raise ConfigError(f"cannot create {parent} ({existing} is not a directory); choose a writable --out")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(f"cannot create {parent} ({existing} is not writable); choose a writable --out")
        return cls(p)

    @classmethod
    def existing(cls, path: str | Path, flag: str) -> tuple["RunDir", dict]:
        """An existing run and its manifest; `flag` names what was given (for the error).
        A run directory holding symbolic links is refused: a write or an upload through one
        would reach a file outside the run."""
        if Path(path).is_symlink():
            raise ConfigError(f"{flag} {printable(path)}: is a symbolic link; give the run directory itself")
        run = cls(Path(path).resolve())
        if not (run / MANIFEST).exists():
            raise ConfigError(f"{flag} {printable(path)}: no manifest.json there, so not a sweep run directory; "
                              "give the folder that `sweep run` printed")
        run.refuse_links(flag)
        return run, run.read_manifest(fix="the ledger is intact — restore the manifest from a copy, "
                                          "or start a new run")

    def refuse_links(self, flag: str) -> None:
        """ConfigError when the run directory holds a symbolic link (sweep never makes one)."""
        links = links_in(self.path)
        if links:
            raise ConfigError(f"{flag} {printable(self.path)}: holds a symbolic link "
                              f"({printable(links[0].relative_to(self.path))}); sweep writes no links, so "
                              "remove it (a write through it would land outside the run directory)")

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

    def make(self) -> list[Path]:
        """Create the run directory and any missing parents; returns the directories this call
        created, outermost first (empty: it was there, an empty --out or a plan's directory).
        Only what this process created may be removed when the run fails before its trials."""
        missing = [a for a in reversed([self.path, *self.path.parents]) if not a.exists() and not a.is_symlink()]
        made: list[Path] = []
        try:
            for d in missing:
                d.mkdir()
                made.append(d)
        except FileExistsError:
            pass
        except OSError as exc:
            _remove_empty(made)
            raise ConfigError(f"cannot create {printable(self.path)} ({exc.strerror}); choose a writable --out") from None
        if self.path not in made:
            if self.path.is_symlink() or not self.path.is_dir():
                raise ConfigError(f"{printable(self.path)}: exists and is not a directory; choose a new --out")
            self.refuse_links("--out")
        return made

    def remove_created(self, made: list[Path], before: set[str]) -> None:
        """After a failure before any trial: remove what this process made, nothing else — the
        directories it `made` (the run directory whole, its new parents when left empty), else
        the entries of the run directory that were not in `before`."""
        import shutil

        if self.path in made:
            shutil.rmtree(self.path, ignore_errors=True)
            _remove_empty([d for d in made if d != self.path])
            return
        for entry in self.path.iterdir():
            if entry.name in before:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def entries(self) -> set[str]:
        """The names in the run directory now (empty when it does not exist)."""
        return {e.name for e in self.path.iterdir()} if self.path.is_dir() else set()

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
                    data = before[n]
                    atomic_write(self / n, lambda p, data=data: p.write_bytes(data))
                else:
                    (self / n).unlink(missing_ok=True)
            except OSError:
                pass
