"""Names in a spec that become parts of paths, file names or a report, checked once."""

from __future__ import annotations

import re

# letters, digits, _ . - only, starting with a letter, digit or _, never `..`: safe in a
# path (no separator, no traversal), a file name, a TensorBoard run name and an HTML page
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
PARAM_NAME = re.compile(r"^[A-Za-z_]\w*$")
MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def check_name(v: str, what: str) -> str:
    """`v` is safe to put in a path, a file name and a report (ValueError names the rule)."""
    if not isinstance(v, str) or not _SAFE_NAME.match(v) or ".." in v:
        raise ValueError(f"{what} must be 1 to 100 letters, digits, _ . or - (starting with a letter, "
                         "digit or _, no '..'), because it becomes part of file names; rename it")
    return v
