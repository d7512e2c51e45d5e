"""``memplug dataset build`` through the real simulation path (LAMMPS), with tiny sizes.

Checks that a state built from a campaign spec validates, carries its provenance, and that
regenerating it with one thread (``--only STATE --fresh --threads 1``) is bit-for-bit identical.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_support import exit_code as cli

from memplug import data

# A hot WCA state in a small box (L = 5: N = 150) with a short protocol: seconds, not minutes.
SPEC = """
[campaign]
name = "tiny-md"
output = "states"
n_t = 20
seed = 7

[protocol]
L = 5.0
dt_max = 0.002
drift_bound = 0.05
drift_test_time = 0.4
warmup_time = 0.2
first_segment_time = 0.5
t_equil_min = 1.0
t_lag_min = 0.5
n_origins = 2
n_sk_frames = 2
max_per_bin = 20

[[grid]]
potential = ["WCA"]
rho = [1.2]
T = [5.0]
"""

SID = "WCA-rho1.20-T5.000"


def _engine_available() -> bool:
    try:
        from memplug.registry import get_registry

        ok, _ = get_registry().get("engines", "lammps").available()
        return bool(ok)
    except Exception:
        return False


pytestmark = pytest.mark.skipif(
    not _engine_available(), reason="the lammps engine is not installed"
)


def test_build_one_state_and_regenerate_bit_for_bit(tmp_path):
    spec = tmp_path / "campaign.toml"
    spec.write_text(SPEC)
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        code = cli(
            "dataset",
            "build",
            str(spec),
            "--only",
            SID,
            "--threads",
            "1",
            "--fresh",
            "--output",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        )
        assert code == 0
    a = data.load_dataset(first / f"{SID}.nc")
    b = data.load_dataset(second / f"{SID}.nc")
    # provenance: everything needed to rerun the state
    assert a["engine"].item() == "lammps" and a["engine_version"].item()
    assert a["seed"].item() == b["seed"].item() and a["steps"].item() > 0 and a["N"].item() == 150
    assert a.attrs["regenerate"] == f"memplug dataset build --only {SID}"
    protocol = json.loads(a.attrs["protocol"])  # the full MD settings, not only the overrides
    assert protocol["L"] == 5.0 and protocol["dt_max"] == 0.002 and "n_origins" in protocol
    assert json.loads(a.attrs["campaign_protocol"])["L"] == 5.0
    assert a["cpu_seconds"].item() > 0
    # bit-for-bit with one thread on the same engine build (CPU time excepted)
    for name in ("S", "time", "Fs", "Fs_k", "msd", "tau_alpha", "k_below_box"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    for name in ("k_peak", "dt", "steps", "energy_drift", "status"):
        assert a[name].values[0] == b[name].values[0], name


def test_sigterm_stops_a_parallel_build_and_its_workers(tmp_path):
    """`kill` of `dataset build --jobs 2` must stop the MD workers too (they resume from their
    checkpoints later), not leave the parent waiting for states that run for hours."""
    import os
    import signal
    import subprocess
    import sys
    import time

    slow = SPEC.replace("t_equil_min = 1.0", "t_equil_min = 5000.0").replace(
        "T = [5.0]", "T = [5.0, 6.0]"
    )
    spec = tmp_path / "campaign.toml"
    spec.write_text(slow)
    env = {**os.environ, "MEMPLUG_DATASET_CACHE": "off"}
    code = "from memplug.cli import main; main()"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "dataset",
            "build",
            str(spec),
            "--workdir",
            str(tmp_path / "w"),
            "--jobs",
            "2",
            "--threads",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while (
            time.monotonic() < deadline and len(list((tmp_path / "w").glob("*/progress.json"))) < 2
        ):
            time.sleep(0.5)
        assert len(list((tmp_path / "w").glob("*/progress.json"))) == 2, "the workers never started"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        # nothing of the session is left running (workers included)
        time.sleep(1)
        left = [
            line
            for line in subprocess.run(
                ["pgrep", "-a", "-s", str(proc.pid)], capture_output=True, text=True
            ).stdout.splitlines()
            if "<defunct>" not in line
        ]
        assert left == [], f"processes still running after SIGTERM: {left}"
        assert proc.returncode != 0 and not list((tmp_path / "states").glob("*.nc"))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_dask_build_survives_a_worker_killed_mid_state(tmp_path):
    """`dataset build --scheduler ADDR`: states are Dask tasks. The worker running the state is
    killed (SIGKILL) once the state has checkpointed; the cluster restarts the worker and re-runs
    the task, which resumes the state from its checkpoint in the shared work directory: the state
    file is written, validates, and the log records no failure."""
    import os
    import signal
    import threading
    import time

    from dask.distributed import Client, LocalCluster

    slow = SPEC.replace("t_equil_min = 1.0", "t_equil_min = 6.0") + "\n"
    slow = slow.replace("[protocol]\n", "[protocol]\ncheckpoint_seconds = 0.2\n")
    spec = tmp_path / "campaign.toml"
    spec.write_text(slow)
    progress = tmp_path / "w" / SID / "progress.json"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        codes: list = []
        args = ("dataset", "build", str(spec), "--workdir", str(tmp_path / "w"), "--threads", "1",
                "--scheduler", cluster.scheduler_address)  # fmt: skip
        build = threading.Thread(target=lambda: codes.append(cli(*args)))
        build.start()
        seen = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and build.is_alive():
            if progress.exists():
                prog = json.loads(progress.read_text())
                if prog.get("restart") and prog["stage"] not in ("start", "done"):
                    seen = prog
                    break
            time.sleep(0.05)
        assert seen is not None, "the state never checkpointed"
        with Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        build.join(timeout=600)
        assert not build.is_alive() and codes == [0]
    assert json.loads(progress.read_text())["steps"] > seen["steps"]
    ds = data.load_dataset(tmp_path / "states")
    assert list(ds["state"].values) == [SID]
    log = json.loads((tmp_path / "states-log.json").read_text())
    assert "error" not in log[SID] and log[SID]["status"] in ("equilibrated", "glass")
