"""Existing Ray clusters: address checks, token auth, and jobs through Ray's Job SDK.

    sweep submit SPACE --address http://127.0.0.1:8265 [--follow]
    sweep jobs list|status|logs|stop [ID] --address ...

Security defaults: Ray's token authentication is used whenever a token is available
(RAY_AUTH_TOKEN_PATH, else ~/.ray/auth_token; never from argv, never printed); plain
http:// to a host other than this machine is refused unless --insecure (the token would
cross the network in clear text: use an SSH tunnel or `kubectl port-forward`); a cluster
older than Ray 2.52 (no token auth) is refused; the job's working_dir is built from an
allow-list of the project's paths (`package`), never through a symbolic link; a --storage
URI holding a credential is refused (the job's command line is readable on the cluster).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from .compat import job_server_ray_version
from .connect import enable_token_auth, is_loopback, probe, token_path
from .errors import ClusterError, ConfigError

MIN_RAY = "2.52.0"
DEFAULT_CONNECT_TIMEOUT_S = 30.0
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
# What the job's working_dir holds: these top-level paths of the project, plus the submitted
# specs, their sources inside the project and the space's allowed modules (`package`).
PACKAGE = ("sweep", "datasets", "search_spaces", "pyproject.toml")
# Never packaged, even inside those paths: names that may hold a secret, and build outputs.
SECRETS = ("*auth_token*", "*.pem", "*.key", ".env", ".env.*", "*credentials*", "id_rsa*", "id_dsa*",
           "id_ecdsa*", "id_ed25519*", "*kubeconfig*", ".netrc", ".pgpass", ".git-credentials", ".npmrc",
           ".pypirc", "__pycache__", "*.pyc")


def dashboard_url(address: str, insecure: bool = False) -> str:
    """The Job server URL for `address` (http(s)://HOST:PORT; HOST:PORT means http).

    Refuses plain http:// to a non-loopback host unless `insecure` — before any connection."""
    if not address or not address.strip():
        raise ConfigError("--address is required: the cluster's Job server, e.g. http://127.0.0.1:8265")
    text = address.strip().rstrip("/")
    if "://" not in text:
        text = "http://" + text
    u = urlparse(text)
    if u.scheme not in ("http", "https"):
        raise ConfigError(f"--address {address!r}: the Job server takes http:// or https:// "
                          f"(e.g. http://127.0.0.1:8265), not {u.scheme}://")
    if not u.hostname:
        raise ConfigError(f"--address {address!r}: no host; give http://HOST:8265")
    if u.scheme == "http" and not is_loopback(u.hostname) and not insecure:
        raise ConfigError(
            f"--address {address!r}: refusing plain http:// to {u.hostname}, which is not this "
            "machine (the auth token would cross the network in clear text); open a tunnel and "
            "use http://127.0.0.1:8265 — `ssh -L 8265:localhost:8265 HEAD` or `kubectl "
            "port-forward svc/CLUSTER-head-svc 8265:8265` — or use https://, or pass --insecure")
    return text


def _probe_http(url: str, timeout_s: float) -> None:
    """Any HTTP answer from the Job server within `timeout_s` (Ray's client has no timeout)."""
    import requests

    try:
        requests.get(url + "/api/version", timeout=timeout_s)
    except requests.RequestException as exc:
        why = "timed out" if isinstance(exc, requests.Timeout) else type(exc).__name__
        raise ClusterError(f"the Job server at {url} did not answer within {timeout_s:g} s ({why}); "
                           "check that the address is the dashboard port (8265) and that the head "
                           "node is up, or raise --connect-timeout") from None


def _version_tuple(v: str) -> tuple:
    out = []
    for part in v.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


def client(address: str, insecure: bool = False, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S):
    """A JobSubmissionClient for `address`, after the checks above; token auth when available."""
    url = dashboard_url(address, insecure)
    probe(url, connect_timeout_s)
    _probe_http(url, connect_timeout_s)
    has_token = enable_token_auth()
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    try:
        c = JobSubmissionClient(url, verify=True)
    except AuthenticationError:
        raise ClusterError(_auth_message(url, has_token)) from None
    except (ConnectionError, RuntimeError, OSError) as exc:
        raise ClusterError(f"cannot use the Job server at {url} ({str(exc).splitlines()[0][:200]}); "
                           "check that the address is the dashboard port (8265)") from None
    version = job_server_ray_version(c) or "0"
    if _version_tuple(version) < _version_tuple(MIN_RAY):
        raise ClusterError(f"the cluster at {url} runs Ray {version}, older than {MIN_RAY} (no token "
                           "authentication); upgrade it to the Ray pinned in pyproject.toml")
    import ray
    if version != ray.__version__:
        print(f"warning: the cluster runs Ray {version}, this machine {ray.__version__}; "
              "every node should run the pinned Ray", file=sys.stderr)
    return c


def _auth_message(url: str, has_token: bool) -> str:
    where = token_path()
    if has_token:
        return (f"the cluster at {url} rejected this machine's token ({where}); copy the cluster's "
                "token there (or point RAY_AUTH_TOKEN_PATH at it)")
    return (f"the cluster at {url} requires a token and none was found at {where}; copy the "
            "cluster's token there (`ray get-auth-token` on the head) or point RAY_AUTH_TOKEN_PATH "
            "at it — never pass it on the command line")


def _call(url: str, has_token: bool, fn, *args, **kwargs):
    from ray.exceptions import AuthenticationError

    try:
        return fn(*args, **kwargs)
    except AuthenticationError:
        raise ClusterError(_auth_message(url, has_token)) from None
    except RuntimeError as exc:
        raise ClusterError(f"the Job server at {url} refused the request: "
                           f"{str(exc).splitlines()[0][:300]}") from None


def project_root() -> Path:
    """The directory uploaded as working_dir: the project holding the `sweep` package."""
    return Path(__file__).resolve().parent.parent


def runtime_env(working_dir: Path, root: Path, with_pip: bool = False) -> dict:
    """working_dir = the job's package (`package`: an allow-list of the project's paths); the
    project's pinned dependencies other than Ray (every node already runs the pinned Ray)."""
    env: dict = {"working_dir": str(working_dir),
                 "env_vars": {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1", "PYTHONPATH": "."}}
    if with_pip:
        deps = [d for d in _dependencies(root) if not d.lower().startswith("ray")]
        if deps:
            env["pip"] = {"packages": deps, "pip_check": False}
    return env


def _secret(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in SECRETS)


def package(root: Path, into: Path, extra: list[Path] = ()) -> list[str]:
    """Copy the job's files into `into`: PACKAGE and `extra` (paths inside `root`), regular
    files only — symbolic links are skipped, never followed, and names in SECRETS are left
    out. Returns the copied paths, relative to `root`."""
    root = root.resolve()
    copied: set[str] = set()
    for top in [root / n for n in PACKAGE] + [Path(e) for e in extra]:
        for f in _files(top):
            rel = f.relative_to(root)
            if f.is_symlink() or not f.is_file() or any(_secret(part) for part in rel.parts):
                continue
            dest = into / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest, follow_symlinks=False)
            copied.add(rel.as_posix())
    return sorted(copied)


def _files(top: Path):
    """The files at or under `top`, never entering a linked or secret-named folder."""
    if top.is_symlink() or not top.exists():
        return
    if top.is_file():
        yield top
        return
    for d, dirs, names in os.walk(top, followlinks=False):
        dirs[:] = [x for x in dirs if not _secret(x) and not (Path(d) / x).is_symlink()]
        for n in names:
            yield Path(d) / n


def job_files(root: Path, space_path: Path, sp, ds_path: Path, ds) -> list[Path]:
    """Beyond PACKAGE: the submitted spec files, the dataset's sources and the space's
    allowed modules, where they lie inside the project (the job sees nothing else)."""
    root = root.resolve()
    extra = [space_path.resolve(), ds_path.resolve()]
    if ds.bundled is None:  # a bundled dataset's sources are written again on the cluster
        extra += [Path(src.path).resolve() for src in ds.sources if "://" not in src.path]
    for m in sp.allow.modules:
        top = m.split(".", 1)[0]
        extra += [root / top, root / f"{top}.py"]
    return [p for p in extra if p.is_relative_to(root)]


def _dependencies(root: Path) -> list[str]:
    import tomllib

    py = root / "pyproject.toml"
    if not py.exists():
        return []
    return list(tomllib.loads(py.read_text()).get("project", {}).get("dependencies", []))


def _relative(path: str | None, root: Path, flag: str) -> str | None:
    if path is None:
        return None
    p = Path(path).resolve()
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        raise ConfigError(f"{flag} {path}: must lie inside the uploaded project {root} (the job "
                          "runs on the cluster and sees only that folder); copy it there") from None


def entrypoint(space: str | None, dataset: str | None, storage: str | None, root: Path,
               smoke: bool = False, repeats: int | None = None, exhaustive: bool = False) -> str:
    import shlex

    parts = ["python", "-m", "sweep", "run"]
    rel = _relative(space, root, "SPACE")
    if rel:
        parts.append(rel)
    rel = _relative(dataset, root, "--dataset")
    if rel:
        parts += ["--dataset", rel]
    parts += ["--address", "auto"]
    if storage:
        parts += ["--storage", storage]
    if smoke:
        parts.append("--smoke")
    if repeats:
        parts += ["--repeats", str(repeats)]
    if exhaustive:
        parts.append("--exhaustive")
    return " ".join(shlex.quote(p) for p in parts)


def submit(address: str, space: str | None = None, dataset: str | None = None, storage: str | None = None,
           follow: bool = False, insecure: bool = False, connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
           smoke: bool = False, repeats: int | None = None, install_deps: bool = False,
           out=sys.stdout, exhaustive: bool = False) -> tuple[str, str | None]:
    """Submit `sweep run` as a Ray job; returns (job id, final status when following)."""
    import tempfile

    from .spec import resolve_specs
    from .storage import has_credentials

    root = project_root()
    space_path, sp, ds_path, ds = resolve_specs(space, dataset)  # bad specs fail here, before anything is sent
    if storage and has_credentials(storage):
        raise ConfigError("--storage carries a credential, and a job's command line can be read by anyone "
                          "who can list the cluster's jobs; give the cluster its credentials by environment "
                          "(AWS_*, GOOGLE_*) or an instance role, and pass the URI without them")
    cmd = entrypoint(space, dataset, storage, root, smoke, repeats, exhaustive)
    url = dashboard_url(address, insecure)
    c = client(address, insecure, connect_timeout_s)
    has_token = os.environ.get("RAY_AUTH_MODE") == "token"
    with tempfile.TemporaryDirectory(prefix="sweep-job-") as staged:
        package(root, Path(staged), job_files(root, space_path, sp, ds_path, ds))
        for attempt in range(10):  # a head that just started may not have its job agent up yet
            try:
                job_id = _call(url, has_token, c.submit_job, entrypoint=cmd,
                               runtime_env=runtime_env(Path(staged), root, install_deps),
                               metadata={"tool": "sweep", "space": str(space or "default")})
                break
            except ClusterError as exc:
                if "No available agent" not in str(exc) or attempt == 9:
                    raise
                time.sleep(2)
    print(f"submitted job {job_id} to {url}: {cmd}", file=out, flush=True)
    if not follow:
        print(f"follow it with: sweep jobs logs {job_id} --address {url} --follow", file=out)
        return job_id, None
    status = follow_job(c, job_id, out)
    if status != "SUCCEEDED":
        print(f"\njob {job_id} ended {status}; its last log lines:", file=out)
        for line in last_lines(c, job_id):
            print(f"  | {line}", file=out)
    return job_id, status


def follow_job(c, job_id: str, out=sys.stdout, poll_s: float = 1.0) -> str:
    """Stream a job's logs until it ends; returns its final status."""
    import asyncio

    async def _tail():
        async for chunk in c.tail_job_logs(job_id):
            out.write(chunk)
            out.flush()

    import aiohttp

    try:
        asyncio.run(_tail())
    except (aiohttp.ClientError, OSError, RuntimeError, asyncio.TimeoutError) as exc:  # the stream broke: poll
        print(f"(log stream ended: {str(exc)[:200]}; polling the job's status)", file=sys.stderr)
    while True:
        status = str(c.get_job_status(job_id)).split(".")[-1]
        if status in TERMINAL:
            return status
        time.sleep(poll_s)


def last_lines(c, job_id: str, n: int = 20) -> list[str]:
    try:
        return c.get_job_logs(job_id).splitlines()[-n:]
    except (RuntimeError, OSError):  # the job server's refusal (RuntimeError) or the connection's
        return []


def jobs(action: str, address: str, job_id: str | None = None, insecure: bool = False,
         connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S, follow: bool = False, out=sys.stdout) -> int:
    """`sweep jobs list|status|logs|stop`; returns the exit code."""
    if action != "list" and not job_id:
        raise ConfigError(f"sweep jobs {action} needs a job id (see `sweep jobs list --address ...`)")
    url = dashboard_url(address, insecure)
    c = client(address, insecure, connect_timeout_s)
    tok = os.environ.get("RAY_AUTH_MODE") == "token"
    if action == "list":
        rows = _call(url, tok, c.list_jobs)
        for j in sorted(rows, key=lambda j: j.start_time or 0):
            print(f"{j.submission_id or j.job_id}  {str(j.status).split('.')[-1]:9}  {j.entrypoint}", file=out)
        return 0
    if action == "status":
        info = _call(url, tok, c.get_job_info, job_id)
        print(f"{job_id}  {str(info.status).split('.')[-1]}  {info.message or ''}".rstrip(), file=out)
        return 0
    if action == "logs":
        if follow:
            status = follow_job(c, job_id, out)
            print(f"job {job_id}: {status}", file=out)
            from .errors import EXIT_JOB_FAILED
            return 0 if status == "SUCCEEDED" else EXIT_JOB_FAILED
        out.write(_call(url, tok, c.get_job_logs, job_id))
        return 0
    if action == "stop":
        stopped = _call(url, tok, c.stop_job, job_id)
        print(f"{job_id}: {'stop requested' if stopped else 'already finished'}", file=out)
        return 0
    raise ConfigError(f"sweep jobs: unknown action {action!r}; use list, status, logs or stop")
