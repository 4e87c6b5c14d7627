"""The warm runtime: a local Ray that `sweep up` keeps running so that repeated runs skip
Ray's start and stop, and that `sweep down` stops.

`sweep up` starts `ray start --head --block` in its own session (token auth as for any local
Ray: the token in ~/.ray/auth_token, created there if missing), on 127.0.0.1, with its own
temp dir (so a plain `ray.init()` elsewhere never finds it), and records it in
~/.sweep/runtime.json. `sweep run | resume | plan` without `--address` use that Ray when the
record is there (`--cold` starts a new one as before). A record is checked before any work:

- stale: the recorded head process is gone or its GCS port does not answer;
- foreign: it was started by another user, another Python, another Ray or sweep version,
  or with another CPU count than `--num-cpus` asks for;

either is refused with one line (exit 2) that names the fix (`sweep down`, `--cold`). Which
Ray a run used is in its manifest (`address`, `runtime`); the configurations, seeds and
splits are the same on both paths (docs/design.md, "The warm runtime").
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import ClusterError, ConfigError

MARKER = "SWEEP_RUNTIME_ID"   # in the environment of every process of one warm runtime


def record_path() -> Path:
    return Path.home() / ".sweep" / "runtime.json"


@dataclass(frozen=True)
class Runtime:
    address: str        # 127.0.0.1:PORT, the head's GCS
    pid: int            # the `ray start --block` process, leader of its process group
    num_cpus: int
    temp_dir: str       # the head's --temp-dir (its sessions and logs)
    python: str         # sys.executable of `sweep up`: trial processes run this Python
    ray_version: str
    sweep_version: str
    uid: int
    started_at: float
    id: str             # the marker value its processes carry (MARKER)


def _versions() -> tuple[str, str]:
    from importlib.metadata import version

    from . import __version__

    return version("ray"), __version__


def read() -> Runtime | None:
    """The recorded runtime, or None when there is none; a record that cannot be read is
    refused (ConfigError) rather than ignored."""
    path = record_path()
    try:
        data = json.loads(path.read_text())
        return Runtime(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a warm-runtime record sweep can read ({type(exc).__name__}); "
                          "run `sweep down` to remove it") from None


def _ours(pid: int, rid: str) -> bool:
    """Whether `pid` is alive and one of runtime `rid`'s processes (not a reused PID)."""
    try:
        return f"{MARKER}={rid}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def _answers(address: str, timeout_s: float = 2.0) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def problem(rt: Runtime, num_cpus: int | None = None) -> str | None:
    """Why `rt` must not be used by this process (stale or foreign), or None when it may."""
    ray_v, sweep_v = _versions()
    if rt.uid != os.getuid():
        return f"it belongs to uid {rt.uid}, not to this user (uid {os.getuid()})"
    if not _ours(rt.pid, rt.id):
        return f"it is not running (its head process {rt.pid} is gone)"
    if not _answers(rt.address):
        return f"it is not running (nothing answers at {rt.address})"
    if os.path.realpath(rt.python) != os.path.realpath(sys.executable):
        return f"it runs {rt.python}, not this Python ({sys.executable})"
    if rt.ray_version != ray_v:
        return f"it runs Ray {rt.ray_version}, not this process's Ray {ray_v}"
    if rt.sweep_version != sweep_v:
        return f"it was started by sweep {rt.sweep_version}, not by this sweep {sweep_v}"
    if num_cpus is not None and num_cpus != rt.num_cpus:
        return f"it has {rt.num_cpus} CPUs, not the {num_cpus} that --num-cpus asks for"
    return None


def warm_address(address: str | None, num_cpus: int | None, cold: bool) -> str | None:
    """The address a run connects to: `address` when given; else the warm runtime's when one is
    recorded and usable (ConfigError when it is stale or foreign); else None (a new local Ray)."""
    if address is not None or cold:
        return address
    rt = read()
    if rt is None:
        return None
    why = problem(rt, num_cpus)
    if why:
        raise ConfigError(f"the warm runtime in {record_path()} cannot be used: {why}; run `sweep down` "
                          "(then `sweep up` for a new one), or pass --cold to start a new local Ray")
    return rt.address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_token() -> None:
    """Token auth as for any new local Ray: the token file, created (owner-only) if missing."""
    from .connect import token_path

    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled" or os.environ.get("RAY_AUTH_TOKEN"):
        return
    path = token_path()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))


def _write_record(rt: Runtime) -> None:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(rt), indent=1) + "\n")
    os.replace(tmp, path)


def up(num_cpus: int | None = None, timeout_s: float = 60.0, echo=print) -> Runtime:
    """Start the warm runtime (or report the one already up); returns its record."""
    rt = read()
    if rt is not None:
        why = problem(rt, num_cpus)
        if why:
            raise ConfigError(f"a warm runtime is already recorded in {record_path()} but {why}; "
                              "run `sweep down` first")
        echo(f"sweep up: already up at {rt.address} with {rt.num_cpus} CPUs (head pid {rt.pid})")
        return rt
    n = num_cpus or os.cpu_count() or 1
    _ensure_token()
    temp_dir = tempfile.mkdtemp(prefix="sweep-up-", dir="/tmp")  # short: Ray's unix socket paths
    port, rid = _free_port(), secrets.token_hex(8)
    env = {**os.environ, MARKER: rid, "RAY_USAGE_STATS_ENABLED": "0"}
    if env.get("RAY_AUTH_MODE", "").lower() != "disabled":
        env["RAY_AUTH_MODE"] = "token"
    ray_bin = str(Path(sys.executable).with_name("ray"))
    log = Path(temp_dir) / "ray-start.log"
    cmd = [ray_bin, "start", "--head", "--block", "--disable-usage-stats", "--num-cpus", str(n),
           "--port", str(port), "--node-ip-address", "127.0.0.1", "--include-dashboard", "false",
           "--temp-dir", temp_dir,
           # this machine's
           # free ports for the head's servers rather than Ray's shared defaults (10001, 8265, 52365)
           "--ray-client-server-port", str(_free_port()), "--dashboard-host", "127.0.0.1",
           "--dashboard-port", str(_free_port()), "--dashboard-agent-listen-port", str(_free_port())]
    with open(log, "w") as out:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    address = f"127.0.0.1:{port}"
    ray_v, sweep_v = _versions()
    rt = Runtime(address=address, pid=p.pid, num_cpus=n, temp_dir=temp_dir, python=sys.executable,
                 ray_version=ray_v, sweep_version=sweep_v, uid=os.getuid(), started_at=time.time(), id=rid)
    end = time.monotonic() + timeout_s
    while not _answers(address, 0.5):
        if p.poll() is not None or time.monotonic() > end:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            _stop(rt)
            what = f"exited with {p.returncode}" if p.returncode is not None else f"did not answer in {timeout_s:g} s"
            raise ClusterError(f"sweep up: `ray start --head` {what}: {tail[0][:300]}")
        time.sleep(0.2)
    _write_record(rt)
    echo(f"sweep up: a warm local Ray at {address} with {n} CPUs (head pid {p.pid}); `sweep run`, "
         "`resume` and `plan` on this machine use it until `sweep down` (--cold: a new Ray)")
    return rt


def _marked(rid: str) -> list[int]:
    """PIDs of this user's processes whose environment carries the runtime's marker."""
    return [int(d.name) for d in Path("/proc").iterdir()
            if d.name.isdigit() and int(d.name) != os.getpid() and _ours(int(d.name), rid)]


def _stop(rt: Runtime, grace_s: float = 3.0) -> None:
    """Stop the runtime's processes: its process group (SIGTERM, then SIGKILL after `grace_s`:
    the head's GCS and raylet outlive a SIGTERM to `ray start --block`, and a warm runtime holds
    nothing to save), then any process still carrying its marker, by PID."""
    group = _ours(rt.pid, rt.id)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if group:
            try:
                os.killpg(rt.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in _marked(rt.id) if sig == signal.SIGKILL else ():
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        end = time.monotonic() + grace_s
        while time.monotonic() < end and _marked(rt.id):
            try:
                os.waitpid(rt.pid, os.WNOHANG)   # our own child when `up` failed in this process
            except ChildProcessError:
                pass
            time.sleep(0.1)
    shutil.rmtree(rt.temp_dir, ignore_errors=True)


def down(echo=print) -> bool:
    """Stop the warm runtime and remove its record; False when none was recorded."""
    rt = read()
    if rt is None:
        echo("sweep down: no warm runtime is recorded (nothing to stop)")
        return False
    if rt.uid != os.getuid():
        raise ConfigError(f"{record_path()}: the warm runtime belongs to uid {rt.uid}; only its owner can stop it")
    _stop(rt)
    record_path().unlink(missing_ok=True)
    left = _marked(rt.id)
    if left:
        raise ClusterError(f"sweep down: processes {left[:5]} of the warm runtime at {rt.address} are still "
                           "running; stop them by PID")
    echo(f"sweep down: stopped the warm runtime at {rt.address}")
    return True
