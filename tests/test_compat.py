"""Each private API sweep.compat relies on is still there, with the shape it is used in: an
upgrade of a pinned dependency that changes one fails here (no Ray is started)."""

import inspect
import subprocess
import sys

from sweep import compat


def test_tensorboardx_imports_with_torch_hidden_and_torch_is_unhidden_after():
    code = ("import sys; from sweep.compat import import_without_torch as f; m = f('tensorboardX');"
            "assert m.__name__ == 'tensorboardX'; assert 'torch' not in sys.modules; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_record_writer_flush_reaches_the_file(tmp_path):
    from tensorboardX.record_writer import RecordWriter

    path = tmp_path / "events.out.tfevents.test"
    w = RecordWriter(str(path))
    w.write(b"x" * 100)
    compat.flush_to_os(w)
    assert path.stat().st_size > 100          # on disk before close: the private file object flushed
    w.close()


def test_job_client_records_the_servers_ray_version():
    from ray.dashboard.modules.dashboard_sdk import SubmissionClient

    src = inspect.getsource(SubmissionClient)
    assert "self._server_ray_version =" in src     # set at connect, read by compat.job_server_ray_version

    class Client:
        _server_ray_version = "2.60.0"
    assert compat.job_server_ray_version(Client()) == "2.60.0"


def test_raylet_config_can_be_reinitialised():
    from ray._raylet import Config

    assert callable(Config.initialize)
    compat.refresh_ray_auth_mode()                 # callable before any ray.init, as sweep calls it


def test_tune_puts_the_fork_variable_in_trial_actor_envs():
    from ray.tune.execution import class_cache

    assert isinstance(class_cache.DEFAULT_ENV_VARS, dict) and "PL_DISABLE_FORK" in class_cache.DEFAULT_ENV_VARS
    saved = dict(class_cache.DEFAULT_ENV_VARS)
    try:
        compat.drop_tune_actor_env("PL_DISABLE_FORK")
        assert "PL_DISABLE_FORK" not in class_cache.DEFAULT_ENV_VARS
    finally:
        class_cache.DEFAULT_ENV_VARS.clear()
        class_cache.DEFAULT_ENV_VARS.update(saved)
