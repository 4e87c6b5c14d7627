"""The run's durable record of (config_id, rung) results: the source of truth.

One JSON object per line, appended with O_APPEND in one write, so a record is either whole
in the file or absent. `append` fsyncs each record; a trial's records go through an
`Appender`, which fsyncs in groups at most SYNC_EVERY_S apart (a killed process loses no
record it wrote; a power loss may lose the last group, whose pairs are then fitted again).
Reading back tolerates a torn last line (a crash mid-write): it is reported and ignored,
never taken as done.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
from pathlib import Path
from typing import Iterable

from .errors import SweepError


class LedgerError(SweepError):
    """The ledger cannot be written (full disk, no permission)."""


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


STATUSES = ("ok", "failed", "timed_out", "stopped", "skipped_budget")
SKIPPED = "skipped_budget"  # a pair not started within a --time-budget: a note, not a result


def pair_record(cfg: dict, rung: int, status: str, error: str = "", **fields) -> dict:
    """One ledger record for the pair (cfg's config_id, rung): the keys every record carries
    (docs/design.md, "The ledger"), then `fields` (scores, times, trial_id, node_id, ...).

    `cfg` is a configuration dict (sweep.runner.configuration_dict) or a record of the same
    configuration; `rung` is the pair's n_train (rung and n_train are the same number)."""
    if status not in STATUSES:
        raise ValueError(f"a ledger record's status is one of {', '.join(STATUSES)}, not {status!r}")
    rec = {"config_id": cfg["config_id"], "group_id": cfg.get("group_id"), "architecture": cfg.get("architecture"),
           "params": cfg.get("params", {}), "seed": cfg.get("seed"), "n_train": int(rung), "rung": int(rung),
           "status": status, "error": error}
    rec.update(fields)
    rec.setdefault("finished_at_s", time.time())
    return rec


def append(path: str | Path, record: dict) -> None:
    """Append one record durably (write + fsync). Raises LedgerError on failure."""
    line = (json.dumps(_clean(record), sort_keys=True, allow_nan=False, default=str) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise _short_write(fd, written, len(line))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _error(str(path), exc) from None


def _short_write(fd: int, written: int, size: int) -> OSError:
    """The error of a write that stopped part-way: ENOSPC, as the OS says it, when the file
    system has no room for the rest (the usual cause), else the bare count. The rest is never
    written after it: another process may have appended since, and the part written is a torn
    line that readers pass over (`read`, `seal`)."""
    try:
        st = os.fstatvfs(fd)
        full = st.f_bavail * st.f_frsize < size - written
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (wrote {written} of {size} bytes)")
    return OSError(f"short write ({written} of {size} bytes)")


# At most this long between a record's write and its fsync (SWEEP_LEDGER_SYNC_S overrides it:
# the tests hold fsyncs back with it to show that a killed process loses no written record).
SYNC_EVERY_S = float(os.environ.get("SWEEP_LEDGER_SYNC_S", "0.1"))


class Appender:
    """Group commit for one process's appends to a ledger.

    Each record is written the moment it is given, in one `write` on an O_APPEND descriptor,
    so a killed process loses none of them (they are in the OS's page cache); fsyncs come at
    most SYNC_EVERY_S after a write (a timer) and at `sync`/`close`, so only a power loss
    may lose the last batch, whose pairs are then simply fitted again. A failed write raises
    LedgerError at once; a failed background fsync raises at the next append or sync."""

    def __init__(self, path: str | Path, sync_every_s: float = SYNC_EVERY_S):
        import threading

        self.path, self.sync_every_s = str(path), sync_every_s
        self.lock = threading.Lock()
        self.fd: int | None = None
        self.dirty = False
        self.timer = None
        self.error: OSError | None = None

    def append(self, record: dict) -> None:
        line = (json.dumps(_clean(record), sort_keys=True, allow_nan=False, default=str) + "\n").encode()
        with self.lock:
            self._raise_pending()
            try:
                if self.fd is None:
                    self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
                written = os.write(self.fd, line)
                if written != len(line):
                    raise _short_write(self.fd, written, len(line))
            except OSError as exc:
                raise _error(self.path, exc) from None
            self.dirty = True
            if self.timer is None:
                import threading

                self.timer = threading.Timer(self.sync_every_s, self._background_sync)
                self.timer.daemon = True
                self.timer.start()

    def _background_sync(self) -> None:
        with self.lock:
            self.timer = None
            try:
                self._fsync()
            except OSError as exc:
                self.error = exc

    def _fsync(self) -> None:
        if self.dirty and self.fd is not None:
            os.fsync(self.fd)
            self.dirty = False

    def _raise_pending(self) -> None:
        if self.error is not None:
            exc, self.error = self.error, None
            raise _error(self.path, exc)

    def sync(self, close: bool = False) -> None:
        """Every record appended so far is on disk when this returns; with `close`, the
        descriptor is closed too (a later append opens it again)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            try:
                self._fsync()
            except OSError as exc:
                raise _error(self.path, exc) from None
            finally:
                if close and self.fd is not None:
                    os.close(self.fd)
                    self.fd = None
            self._raise_pending()

    def close(self) -> None:
        self.sync(close=True)


def _error(path: str, exc: OSError) -> "LedgerError":
    if exc.errno == errno.ELOOP:  # opened with O_NOFOLLOW: never appended through a link
        return LedgerError(f"ledger {path}: is a symbolic link, which sweep never makes (a record would "
                           "land outside the run directory); replace it with the ledger file itself")
    return LedgerError(f"ledger {path}: cannot append a record ({exc}); free disk space or fix "
                       "permissions, then resume the run")


_APPENDERS: dict[str, Appender] = {}


def appender(path: str | Path) -> Appender:
    """This process's Appender for the ledger at `path` (one per path, shared by its sinks)."""
    key = os.path.abspath(path)
    if key not in _APPENDERS:
        _APPENDERS[key] = Appender(key)
    return _APPENDERS[key]


def index(path: str | Path, config_ids=None) -> dict[str, dict[int, str]]:
    """config_id -> {rung: status} of what the ledger holds (ok wins over a failure), read
    once: what a trial skips. With `config_ids`, only those configurations."""
    records, _ = read(path)
    wanted = None if config_ids is None else set(config_ids)
    out: dict[str, dict[int, str]] = {}
    for (cid, rung), r in latest(records).items():
        if wanted is None or cid in wanted:
            out.setdefault(cid, {})[rung] = r.get("status", "ok")
    return out


def read(path: str | Path, need: tuple[str, ...] = ("config_id", "rung")) -> tuple[list[dict], int]:
    """All whole records (objects holding every key in `need`), and the number of torn or
    unreadable lines passed over (not the budget-skipped pairs: those are `budget_skipped`)."""
    p = Path(path)
    if not p.exists():
        return [], 0
    data = p.read_bytes()
    records, skipped = [], 0
    lines = data.split(b"\n")
    # The last element is b"" when the file ends with a newline; anything else is torn.
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        if i == len(lines) - 1:
            skipped += 1  # no trailing newline: a torn write
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            skipped += 1
            continue
        if isinstance(rec, dict) and all(k in rec for k in need):
            records.append(rec)
        else:
            skipped += 1
    return records, skipped


def latest(records: Iterable[dict]) -> dict[tuple[str, int], dict]:
    """One record per (config_id, rung): an ok record wins over a failed one, else the last.
    `skipped_budget` records are left out: the pair is still to fit (`sweep resume` fits it)."""
    out: dict[tuple[str, int], dict] = {}
    for rec in records:
        if rec.get("status") == SKIPPED:
            continue
        key = (rec["config_id"], int(rec["rung"]))
        prev = out.get(key)
        if prev is None or prev.get("status") != "ok" or rec.get("status") == "ok":
            out[key] = rec
    return out


def seal(path: str | Path) -> bool:
    """End a torn last line (a crash mid-write) with a newline, so the next record starts on
    a line of its own and the fragment stays an ignored, unreadable line. Returns whether
    the file needed it."""
    p = Path(path)
    if not p.exists() or p.stat().st_size == 0:
        return False
    with open(p, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return False
    fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
    try:
        os.write(fd, b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return True



def budget_skipped(records: Iterable[dict]) -> dict[tuple[str, int], dict]:
    """The pairs whose last word is `skipped_budget` (not fitted, stopped or failed since)."""
    records = list(records)
    done = latest(records)
    out = {}
    for rec in records:
        key = (rec["config_id"], int(rec["rung"]))
        if rec.get("status") == SKIPPED and key not in done:
            out[key] = rec
    return out
