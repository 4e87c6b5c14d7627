"""A storage URI for finished (or stopped) runs: s3://bucket/prefix, gs://..., file:///shared/path.

The run directory is built on the driver's disk (its ledger is appended and fsynced
there) and copied under URI/<run name> when the run ends, complete or not. S3 options
ride on the URI's query, e.g. s3://bucket/runs?endpoint_override=host:9000&scheme=http.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from .errors import ConfigError


def _fs(uri: str):
    import pyarrow.fs as pafs

    if "://" not in uri:
        raise ConfigError(f"--storage {uri!r}: give a URI such as s3://bucket/runs, gs://bucket/runs "
                          "or file:///shared/runs (for a local folder use --out)")
    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as exc:  # pyarrow raises several types for unknown schemes and bad options
        raise ConfigError(f"--storage {uri!r}: {str(exc).splitlines()[0][:200]}; check the scheme "
                          "(s3://, gs://, file://) and the query options") from None


def check(uri: str) -> None:
    """Before any work: the URI parses and a probe object can be written and removed there."""
    fs, root = _fs(uri)
    probe = f"{root.rstrip('/')}/.sweep-probe-{uuid.uuid4().hex[:8]}"
    try:
        fs.create_dir(root.rstrip("/") or "/", recursive=True)
        with fs.open_output_stream(probe) as f:
            f.write(b"probe")
        fs.delete_file(probe)
    except Exception as exc:
        fix = ("check that the folder can be created and written by this user" if uri.startswith("file:")
               else "check the URI and the credentials (AWS_* / GOOGLE_* environment variables)")
        raise ConfigError(f"--storage {uri!r} is not writable ({str(exc).splitlines()[0][:200]}); {fix}") from None


def upload(run_dir: Path, uri: str) -> str:
    """Copy the run directory to URI/<run name>; returns where it went."""
    import pyarrow.fs as pafs

    fs, root = _fs(uri)
    dest = f"{root.rstrip('/')}/{run_dir.name}"
    fs.create_dir(dest, recursive=True)
    pafs.copy_files(str(run_dir), dest, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    base = uri.split("?", 1)[0].rstrip("/")
    return f"{base}/{run_dir.name}"
