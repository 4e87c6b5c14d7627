"""Every use of a pinned dependency's private API, in one place.

Each function names what it relies on; tests/test_compat.py fails when a dependency changes
it, so an upgrade breaks one test here rather than a run somewhere else.
"""

from __future__ import annotations

import importlib
import sys


def import_without_torch(module: str):
    """Import `module` with `import torch` failing for that one import (tensorboardX's writer
    imports torch wherever it is installed, to take tensors; sweep writes floats and numpy
    images only). A torch already imported is left as it is; later imports of torch work."""
    if module not in sys.modules and "torch" not in sys.modules:
        sys.modules["torch"] = None  # private to the import system: None makes `import torch` raise
        try:
            return importlib.import_module(module)
        finally:
            del sys.modules["torch"]
    return importlib.import_module(module)


def flush_to_os(record_writer) -> None:
    """Hand a tensorboardX RecordWriter's bytes to the OS without an fsync (its public flush
    fsyncs): `RecordWriter._writer`, its open file."""
    record_writer._writer.flush()


def job_server_ray_version(client) -> str | None:
    """The Ray version a Job server reported when the client connected:
    `JobSubmissionClient._server_ray_version` (no public accessor in the pinned Ray)."""
    return client._server_ray_version


def refresh_ray_auth_mode() -> None:
    """Make Ray's C++ side re-read RAY_AUTH_MODE after it was set in this process, as
    `ray.init` does: `ray._raylet.Config.initialize("")`."""
    from ray._raylet import Config

    Config.initialize("")


def drop_tune_actor_env(name: str) -> None:
    """Remove `name` from the env vars Tune puts in every trial actor's runtime_env
    (`ray.tune.execution.class_cache.DEFAULT_ENV_VARS`): an actor with a runtime_env never
    gets one of Ray's prestarted workers."""
    from ray.tune.execution import class_cache

    class_cache.DEFAULT_ENV_VARS.pop(name, None)
