"""The run's durable record of (config_id, rung) results: the source of truth.

One JSON object per line, appended with O_APPEND in one write and fsynced before the
writer goes on, so a record is either whole on disk or absent. Reading back tolerates a
torn last line (a crash mid-write): it is reported and ignored, never taken as done.
"""

from __future__ import annotations

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


STATUSES = ("ok", "failed", "timed_out", "stopped")


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
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(f"short write ({written} of {len(line)} bytes)")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise LedgerError(f"ledger {path}: cannot append a record ({exc}); free disk space or fix "
                          "permissions, then resume the run") from None


def read(path: str | Path) -> tuple[list[dict], int]:
    """All whole records, and the number of torn/unreadable lines skipped."""
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
        if isinstance(rec, dict) and "config_id" in rec and "rung" in rec:
            records.append(rec)
        else:
            skipped += 1
    return records, skipped


def latest(records: Iterable[dict]) -> dict[tuple[str, int], dict]:
    """One record per (config_id, rung): an ok record wins over a failed one, else the last."""
    out: dict[tuple[str, int], dict] = {}
    for rec in records:
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
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return True

