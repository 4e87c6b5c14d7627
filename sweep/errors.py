"""Errors and exit codes shared by every command.

Exit codes (docs/design.md): 0 success; 1 an unexpected internal error (a bug: traceback
shown); 2 bad input (spec, CLI, paths — one clear line); 3 a data rule marked fatal
failed; 4 finished, but some configurations failed or timed out; 5 a job on a cluster
(`sweep submit --follow`, `sweep jobs logs --follow`) ended other than SUCCEEDED;
130 interrupted.
"""

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_DATA_RULE = 3
EXIT_PARTIAL = 4
EXIT_JOB_FAILED = 5
EXIT_INTERRUPTED = 130


def printable(text: str) -> str:
    """`text` with every control or other non-printable character written as its escape
    (a name holding a newline or a terminal escape sequence stays one harmless line)."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))


class SweepError(Exception):
    """Base of every error sweep raises on purpose; carries its exit code."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(SweepError):
    """A spec, CLI argument or path is wrong. The message names it and the fix."""


class DataError(SweepError):
    """Input data cannot be read or does not match its declared contract."""


class DataRuleError(DataError):
    """A data rule marked fatal failed (exit 3)."""

    exit_code = EXIT_DATA_RULE


class ClusterError(SweepError):
    """A cluster cannot be reached or refused the request."""


class StorageError(SweepError):
    """The run directory cannot be written (disk full, file too large, read-only, permissions)."""


class RunInterrupted(KeyboardInterrupt):
    """The run stopped before every pair ran; its ledger keeps what finished (exit 130)."""

    def __init__(self, run_dir, why: str = "interrupted"):
        super().__init__(why)
        self.run_dir = run_dir


__all__ = [
    "SweepError", "ConfigError", "RunInterrupted", "DataError", "DataRuleError", "ClusterError", "StorageError",
    "EXIT_OK", "EXIT_INTERNAL", "EXIT_BAD_INPUT", "EXIT_DATA_RULE", "EXIT_PARTIAL", "EXIT_JOB_FAILED",
    "EXIT_INTERRUPTED", "printable",
]
