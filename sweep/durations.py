"""Durations as users write them: `90`, `90s`, `15m`, `2h`, `1h30m`, `1.5h` → seconds."""

from __future__ import annotations

import math
import re

from .errors import ConfigError

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(h|m|s)?", re.IGNORECASE)
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, None: 1.0}


def parse_duration(text: str, flag: str = "--time-budget") -> float:
    """Seconds in `text`: a number (seconds), or parts such as 2h, 15m, 30s, 1h30m. Raises
    ConfigError naming `flag` for anything else, and for a duration that is not > 0."""
    s = str(text).strip()
    must = f"{flag} must" if flag else "must"
    read = f"{flag}: cannot" if flag else "cannot"
    pos, total, parts = 0, 0.0, 0
    if s.startswith("-"):
        raise ConfigError(f"{must} be a positive duration, but got {text!r}; "
                          "give e.g. 90 (seconds), 15m or 2h")
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None or (m.group(2) is None and m.end() != len(s)):
            raise ConfigError(f"{read} read {text!r} as a duration; give seconds (90), "
                              "or minutes and hours (15m, 2h, 1h30m)")
        total += float(m.group(1)) * _UNIT[m.group(2) and m.group(2).lower()]
        parts += 1
        pos = m.end()
        while pos < len(s) and s[pos] == " ":
            pos += 1
    if parts == 0:
        raise ConfigError(f"{read} read {text!r} as a duration; give seconds (90), "
                          "or minutes and hours (15m, 2h, 1h30m)")
    if not (math.isfinite(total) and total > 0):
        raise ConfigError(f"{must} be a positive duration, but got {text!r}; "
                          "give e.g. 90 (seconds), 15m or 2h")
    return total
