"""Time windows: contiguous runs of distinct time values, oldest first (pure numpy).

By default each distinct time value is its own window (a day, a partition key) when there
are at most AUTO_MAX of them; otherwise, or when a number is asked for and there are more
distinct values than that, the windows hold about equal numbers of rows and their cuts
fall between distinct time values, so one time value never spans two windows.
"""

from __future__ import annotations

import numpy as np

AUTO_MAX = 20
AUTO_WINDOWS = 10


def assign(times: np.ndarray, windows: int | None = None) -> tuple[np.ndarray, list[dict], bool]:
    """(window index of each row, [{start, end, rows}] per window, one window per time value?)."""
    times = np.asarray(times)
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64), [], True
    uniq, inv = np.unique(times, return_inverse=True)
    per_value = len(uniq) <= (windows if windows is not None else AUTO_MAX)
    if per_value:
        w_of_value = np.arange(len(uniq))
    else:
        k = windows or AUTO_WINDOWS
        cum = np.cumsum(np.bincount(inv, minlength=len(uniq)))
        # the last distinct value of window i is the one whose cumulative count is closest
        # to i/k of the rows; duplicates (a value holding many rows) merge windows
        last = {int(np.argmin(np.abs(cum - i * len(times) / k))) for i in range(1, k)}
        cuts = np.array(sorted(c for c in last if c < len(uniq) - 1), dtype=np.int64)
        w_of_value = np.searchsorted(cuts, np.arange(len(uniq)), side="left")
    w = w_of_value[inv]
    counts = np.bincount(w)
    info = []
    for i in range(len(counts)):
        vals = uniq[w_of_value == i]
        info.append({"start": _plain(vals[0]), "end": _plain(vals[-1]), "rows": int(counts[i])})
    return w.astype(np.int64), info, bool(per_value)


def label(w: dict) -> str:
    return str(w["start"]) if w["start"] == w["end"] else f"{w['start']}..{w['end']}"


def _plain(v):
    """A JSON-able scalar (numpy scalars and datetimes become Python values / ISO strings)."""
    if isinstance(v, np.datetime64):
        return str(v)
    if isinstance(v, np.generic):
        v = v.item()
    return v if isinstance(v, (bool, int, float, str)) else str(v)
