"""A storage URI for finished (or stopped) runs: s3://bucket/prefix, gs://..., file:///shared/path.

The run directory is built on the driver's disk (its ledger is appended and fsynced
there) and copied under URI/<run name> when the run ends, complete or not. S3 options
ride on the URI's query, e.g. s3://bucket/runs?endpoint_override=host:9000&scheme=http.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import ConfigError, printable

# Query options that carry a credential (pyarrow's S3 and GCS options, and common spellings).
_SECRET_KEY = re.compile(r"(secret|token|password|passwd|credential|access_key|session|signature|key$)", re.I)


def redact(uri: str | None) -> str | None:
    """`uri` fit to show or write down: a password in its user part, and query options that
    carry a credential, replaced by ***. (The URI itself still works for the copy.)"""
    if not uri:
        return uri
    try:
        u = urlsplit(uri)
    except ValueError:
        return "<a storage URI that cannot be parsed>"
    netloc = u.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = ("***" if ":" in user or user else "") + "@" + host
    query = urlencode([(k, "***" if _SECRET_KEY.search(k) else v) for k, v in parse_qsl(u.query, keep_blank_values=True)],
                      safe="*:/")
    return printable(urlunsplit((u.scheme, netloc, u.path, query, u.fragment)))


def has_credentials(uri: str) -> bool:
    """Whether `uri` carries a credential (a user part, or a secret query option)."""
    return redact(uri) != printable(uri)


def _fs(uri: str):
    import pyarrow.fs as pafs

    if "://" not in uri:
        raise ConfigError(f"--storage {redact(uri)!r}: give a URI such as s3://bucket/runs, gs://bucket/runs "
                          "or file:///shared/runs (for a local folder use --out)")
    try:
        return pafs.FileSystem.from_uri(uri)
    except Exception as exc:  # pyarrow raises several types for unknown schemes and bad options
        raise ConfigError(f"--storage {redact(uri)!r}: {scrub(exc, uri)}; check the scheme "
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
        raise ConfigError(f"--storage {redact(uri)!r} is not writable ({scrub(exc, uri)}); {fix}") from None


def scrub(exc: BaseException, uri: str) -> str:
    """The first line of an error, without the URI's credentials should it quote them."""
    text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    for secret in _secrets(uri):
        text = text.replace(secret, "***")
    return printable(text)


def _secrets(uri: str) -> list[str]:
    try:
        u = urlsplit(uri)
    except ValueError:
        return []
    out = [u.password] if u.password else []
    if u.username and u.password:
        out.append(u.username)
    out += [v for k, v in parse_qsl(u.query) if _SECRET_KEY.search(k) and v]
    return out


def regular_files(root: Path) -> list[Path]:
    """Every regular file under `root`, relative to it; symbolic links (to files or folders)
    are skipped and never followed, so a planted link cannot pull a file from outside."""
    out = []
    for top, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not (Path(top) / d).is_symlink()]
        for n in files:
            p = Path(top) / n
            if not p.is_symlink() and p.is_file():
                out.append(p.relative_to(root))
    return sorted(out)


def upload(run_dir: Path, uri: str) -> str:
    """Copy the run directory's regular files to URI/<run name>; returns where it went (shown
    without credentials)."""
    fs, root = _fs(uri)
    dest = f"{root.rstrip('/')}/{run_dir.name}"
    fs.create_dir(dest, recursive=True)
    made = {dest}
    for rel in regular_files(run_dir):
        target = f"{dest}/{rel.as_posix()}"
        parent = target.rsplit("/", 1)[0]
        if parent not in made:
            fs.create_dir(parent, recursive=True)
            made.add(parent)
        with open(run_dir / rel, "rb") as src, fs.open_output_stream(target) as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    base = redact(uri).split("?", 1)[0].rstrip("/")
    return f"{base}/{run_dir.name}"
