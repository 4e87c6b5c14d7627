"""The command line's argument parsing (sweep.cli): the parser (a usage error is one line,
exit 2), the argument types (whole numbers, seconds, durations), and the options several
commands share, each defined once here."""

from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, but got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, but got {v}")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, but got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, but got {v:g}")
    return v


def duration(flag: str):
    """argparse type for `flag`: a duration in seconds, written as any positive number (90,
    0.25, 1e-3) or with units (15m, 2h, 1h30m); a bad one is one line, exit 2."""
    def parse(text: str) -> float:
        import math

        from .durations import parse_duration
        from .errors import ConfigError

        try:
            v = float(text)
            if math.isfinite(v) and v > 0:
                return v
        except ValueError:
            pass
        try:
            return parse_duration(text, "")
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def add_debug(p) -> None:
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def add_connect_timeout(p, what: str = "--address") -> None:
    """--connect-timeout; `what` is the address it waits for, as the command's help names it."""
    p.add_argument("--connect-timeout", type=positive_float, default=30.0, metavar="SECONDS",
                   help=f"give up on an unreachable {what} after SECONDS (default 30)")


def add_insecure(p) -> None:
    """--insecure for a command that connects to Ray at --address (run, plan, resume, data)."""
    p.add_argument("--insecure", action="store_true", help="allow --address to a host other than this "
                   "machine without TLS (prefer an SSH tunnel, or RAY_USE_TLS=1)")


def add_cold(p) -> None:
    """--cold for a command that would use `sweep up`'s warm runtime (run, resume, plan)."""
    p.add_argument("--cold", action="store_true", help="start a new local Ray even when `sweep up` "
                   "keeps a warm one (without --address, a warm runtime is used when it is up)")


def add_num_cpus(p) -> None:
    p.add_argument("--num-cpus", type=positive_int, help="CPUs of the local Ray (default: all)")


def add_cluster_flags(p) -> None:
    """The options of a command that talks to a cluster's Job server (submit, jobs)."""
    p.add_argument("--insecure", action="store_true", help="allow plain http:// to a host other "
                   "than this machine (prefer an SSH tunnel or kubectl port-forward)")
    add_connect_timeout(p, "address")
    add_debug(p)
