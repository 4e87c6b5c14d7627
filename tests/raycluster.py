"""A real multi-node Ray cluster on loopback: `ray start` processes in their own sessions,
an isolated HOME (its own auth token) and temp dir. Only what it started is stopped: by
process group first, then any leftover process carrying its marker, by PID."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    heads_started = 0   # how many heads this test process started (conftest: the slow mark's check)

    def __init__(self, token_auth: bool = True):
        self.root = Path(tempfile.mkdtemp(prefix="swc-", dir="/tmp"))  # short: unix socket paths
        self.home = self.root / "home"
        (self.home / ".ray").mkdir(parents=True)
        self.token = secrets.token_hex(24)
        if token_auth:
            (self.home / ".ray" / "auth_token").write_text(self.token)
        self.marker = f"swc-{secrets.token_hex(6)}"
        # as on a real node, `python` on the PATH is the one with Ray and the project's dependencies
        # (a job's entrypoint is `python -m sweep ...`)
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.env = {**os.environ, "HOME": str(self.home), "RAY_USAGE_STATS_ENABLED": "0",
                    "SWEEP_TEST_CLUSTER": self.marker, "PATH": path}
        if token_auth:
            self.env["RAY_AUTH_MODE"] = "token"
        # Worker ports sit below Linux's default ephemeral range (32768-60999), so that no port
        # the kernel hands out (ours below, or Ray's own) can fall inside them: `ray start`
        # refuses a --dashboard-port inside --min/--max-worker-port (seen once in CI).
        self.port_base = 20000 + (os.getpid() % 30) * 400  # head: +0..199, workers: +200..399
        self.gcs_port, self.dash_port = self.free_port(), self.free_port()
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def free_port(self) -> int:
        """A free port outside this cluster's worker-port range."""
        while True:
            port = free_port()
            if not self.port_base <= port < self.port_base + 400:
                return port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dash_port}"

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        log = self.root / f"{name}.log"
        self.logs.append(log)
        p = subprocess.Popen([RAY, "start", *args, "--block", "--disable-usage-stats"], env=self.env,
                             stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(p)
        return p

    def start_head(self, num_cpus: int = 1) -> None:
        LoopbackCluster.heads_started += 1
        base = self.port_base
        self._start(["--head", "--num-cpus", str(num_cpus), "--port", str(self.gcs_port),
                     "--dashboard-port", str(self.dash_port), "--dashboard-host", "127.0.0.1",
                     "--include-dashboard", "true", "--ray-client-server-port", str(self.free_port()),
                     "--dashboard-agent-listen-port", str(self.free_port()),  # not the shared default
                     "--node-ip-address", "127.0.0.1", "--temp-dir", str(self.root / "rt"),
                     "--min-worker-port", str(base), "--max-worker-port", str(base + 199)], "head")
        self.wait_nodes(1)

    def add_worker(self, num_cpus: int = 1) -> subprocess.Popen:
        k = len(self.procs)
        base = self.port_base + 200
        p = self._start(["--address", self.address, "--num-cpus", str(num_cpus),
                         "--node-ip-address", "127.0.0.1",
                         "--dashboard-agent-listen-port", str(self.free_port()),
                         # its own temp dir, as on a separate machine: nodes sharing one would
                         # share (and clean up) each other's runtime_env working_dir copies
                         "--temp-dir", str(self.root / f"rt{k}"),
                         "--min-worker-port", str(base), "--max-worker-port", str(base + 199)], f"worker{k}")
        self.wait_nodes(k + 1)
        return p

    def alive_nodes(self) -> int:
        r = subprocess.run([RAY, "status", "--address", self.address], env=self.env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return 0
        active = r.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
        return sum(1 for line in active.splitlines() if "node_" in line)

    def wait_nodes(self, n: int, timeout: float = 90) -> None:
        end = time.time() + timeout
        while time.time() < end:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"ray start exited ({p.returncode}):\n" + self.log_tail())
            if self.alive_nodes() >= n:
                return
            time.sleep(1)
        raise RuntimeError(f"cluster did not reach {n} nodes in {timeout} s:\n" + self.log_tail())

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text()[-2000:] for p in self.logs if p.exists())

    def kill_group(self, p: subprocess.Popen) -> None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=30)

    def marked_pids(self) -> list[int]:
        """Processes (any session) whose environment carries this cluster's marker."""
        return pids_with_env("SWEEP_TEST_CLUSTER", self.marker)

    def stop(self) -> list[int]:
        """Stop every process this cluster started; returns any PID still alive after."""
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.time() + 10
        while time.time() < end and any(p.poll() is None for p in self.procs):
            time.sleep(0.5)
        for p in self.procs:
            self.kill_group(p)
        for _ in range(20):  # workers Ray started in their own sessions
            left = self.marked_pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        left = self.marked_pids()
        shutil.rmtree(self.root, ignore_errors=True)
        return left


def pids_with_env(name: str, value: str, prefix: bool = False) -> list[int]:
    """Live processes (any session, zombies left out) whose environment holds NAME=VALUE,
    or with `prefix` a value that starts with VALUE: what a test started, found by its marker."""
    out = []
    needle = f"{name}={value}".encode() + (b"" if prefix else b"\0")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            env = b"\0" + (d / "environ").read_bytes() + b"\0"
        except OSError:
            continue
        if b"\0" + needle in env and not _zombie(int(d.name)):
            out.append(int(d.name))
    return out


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
