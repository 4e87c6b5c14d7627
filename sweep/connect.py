"""Connect this process to Ray: a new local Ray, or an existing cluster at `--address`.

Before `ray.init` the address is probed (a TCP connect, then a gRPC handshake) so that a
wrong or silent address fails within `--connect-timeout` instead of after Ray's own long
retries; Ray's token auth is turned on whenever this machine holds a token (never from
argv, never printed). Used by `sweep run` (stages.connect), `sweep data check | drift`
(sweep.checks) and `sweep submit | jobs` (sweep.cluster, for the probes and the token).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from .compat import refresh_ray_auth_mode
from .errors import ClusterError, ConfigError, printable


def is_loopback(host: str) -> bool:
    """Whether `host` is literally this machine: localhost, 127.0.0.0/8 or ::1 (no lookup)."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def address_host(address: str) -> str | None:
    """The host of a Ray address (HOST:PORT, ray://HOST:PORT, http(s)://HOST:PORT); None for
    `auto`/`local` (this machine's own cluster) or when there is none to read."""
    if not address or address in ("auto", "local"):
        return None
    u = urlparse(address if "://" in address else "tcp://" + address)
    return u.hostname


def tls_enabled() -> bool:
    """Whether Ray's gRPC traffic is encrypted (Ray's RAY_USE_TLS, with its certificates)."""
    return os.environ.get("RAY_USE_TLS", "").strip().lower() in ("1", "true")


def check_transport(address: str | None, insecure: bool = False) -> None:
    """Before any connection: an address that is not literally this machine gets the token
    and the data over the network, so without TLS (RAY_USE_TLS=1) it is refused unless
    `insecure` (then a warning on stderr) — as `sweep submit` refuses plain http://."""
    host = address_host(address or "")
    if host is None or is_loopback(host) or tls_enabled():
        return
    if not insecure:
        raise ConfigError(f"--address {printable(address)!r}: refusing to connect to {printable(host)} without "
                          "TLS (Ray's token and your data would cross the network in clear text); "
                          "tunnel it to this machine (`ssh -L 10001:localhost:10001 HEAD`, then "
                          "ray://127.0.0.1:10001), set RAY_USE_TLS=1 with the cluster's certificates, "
                          "or pass --insecure")
    print(f"warning: --insecure: connecting to {printable(host)} without TLS; the token and the data "
          "cross the network in clear text", file=sys.stderr)


def probe(address: str, timeout_s: float) -> None:
    """A TCP connect to the address's host:port within `timeout_s`, else ClusterError naming it."""
    if timeout_s <= 0:
        raise ConfigError(f"--connect-timeout must be > 0 seconds, but got {timeout_s}")
    text = address if "://" in address else "tcp://" + address
    u = urlparse(text)
    host = u.hostname
    try:
        port = u.port or {"http": 80, "https": 443, "ray": 10001}.get(u.scheme)
    except ValueError:
        port = None
    if not host or not port:
        raise ConfigError(f"--address {address!r}: give HOST:PORT (e.g. 127.0.0.1:6379, "
                          "http://127.0.0.1:8265 or ray://HOST:10001)")
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        why = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else (exc.strerror or str(exc))
        raise ClusterError(f"cannot reach the Ray cluster at {address} within {timeout_s:g} s ({why}); "
                           "check the address and that the head node is up, or raise "
                           "--connect-timeout") from None


def probe_grpc(address: str, timeout_s: float) -> None:
    """The GCS (or Ray Client server) completes a gRPC handshake within `timeout_s`: a host
    that accepts connections but never answers fails here, not after Ray's long retries."""
    import grpc

    target = address.split("://", 1)[-1]
    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    except grpc.FutureTimeoutError:
        raise ClusterError(f"the Ray cluster at {address} did not answer within {timeout_s:g} s; check "
                           "that the address is the head's GCS port (6379) or ray://HOST:10001, "
                           "or raise --connect-timeout") from None
    finally:
        channel.close()


def token_path() -> Path:
    return Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")


def enable_token_auth() -> bool:
    """Turn on Ray's token auth for this process when a token is available (never reads argv).

    Returns whether requests will carry a token."""
    mode = os.environ.get("RAY_AUTH_MODE", "").lower()
    if mode == "disabled":
        return False
    if mode != "token" and (token_path().is_file() or os.environ.get("RAY_AUTH_TOKEN")):
        os.environ["RAY_AUTH_MODE"] = "token"
        refresh_ray_auth_mode()  # Ray's C++ side reads the mode once
        return True
    return mode == "token"


def start_ray(address: str | None = None, num_cpus: int | None = None,
              connect_timeout_s: float = 30.0) -> tuple[bool, float]:
    """Connect to `address` or start a local Ray; returns (started_here, seconds).

    A HOST:PORT or ray:// address must accept a connection within `connect_timeout_s`."""
    import ray

    if address and address not in ("auto", "local"):
        if address.startswith(("http://", "https://")):
            raise ClusterError(f"--address {address}: that is a Job server (dashboard) URL; "
                               "`sweep run --address` takes the cluster's GCS address (HOST:6379) "
                               "or ray://HOST:10001, and `sweep submit` takes http://HOST:8265")
        probe(address, connect_timeout_s)
        probe_grpc(address, connect_timeout_s)
        # Ray retries the GCS about once a second; this bounds its retries by our timeout.
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", str(max(1, math.ceil(connect_timeout_s))))
    if address:
        enable_token_auth()  # the cluster's token, when this machine has one (never from argv)
    if address and num_cpus:
        raise ConfigError("--num-cpus sizes a new local Ray; it cannot resize the existing "
                          f"cluster at {address}: leave it out")
    t0 = time.perf_counter()
    # Token auth stays on (Ray's default for a new local cluster); only its notice is hushed.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    # Tune looks for result.json files that its (switched off) loggers would have written.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    # A trial's errors are handled after the fit (recorded, retried, or raised as one clear
    # error); Tune's own traceback per failed attempt would only repeat them.
    logging.getLogger("ray.tune.execution.tune_controller").setLevel(logging.CRITICAL)
    if ray.is_initialized():
        return False, 0.0
    # Workers' output stays in Ray's session logs (/tmp/ray/session_*/logs): a trial's errors
    # are recorded in the ledger, and Ray's noise as it stops idle actors (a SystemExit
    # traceback now and then) must not reach the user's terminal.
    kwargs = dict(logging_level=logging.WARNING, log_to_driver=False)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        where = address or "a new local cluster"
        waited = f" after {time.perf_counter() - t0:.0f} s" if address else ""
        raise ClusterError(f"cannot start or reach Ray at {where}{waited} ({str(exc).splitlines()[0][:200]}); "
                           "check the address (auto, HOST:PORT or ray://HOST:10001), that the "
                           "cluster runs Ray 2.60.0 and, if it uses token authentication, that its "
                           "token is in ~/.ray/auth_token or RAY_AUTH_TOKEN_PATH; or raise "
                           "--connect-timeout") from None
    return True, time.perf_counter() - t0


def shutdown(started: bool) -> None:
    """Stop the Ray this process started (`started` from start_ray); leave a cluster it joined."""
    if started:
        import ray

        ray.shutdown()
