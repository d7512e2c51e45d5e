"""``memplug dataset build/info/path`` and the campaign spec, with a stand-in simulation.

The real simulation path is exercised in ``test_dataset_cli_md.py``.
"""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from cli_support import exit_code as cli

from memplug import data
from memplug.errors import InputError
from memplug.plugins.datasets.schema import state_id, synthetic_state
from memplug.plugins.md.campaign import load_campaign, survey

SPEC = """
[campaign]
name = "tiny"
output = "states"
n_t = 150
seed = 5

[t_mct]
rho = [1.2]
LJ = [0.90]
WCA = [0.74]

[[grid]]
potential = ["LJ", "WCA"]
rho = [1.2]
T_over_Tmct = [1.0, 2.0]

[[grid]]
potential = ["LJ"]
rho = [1.2]
T = [10.0]

[[grid]]
label = "glass"
potential = ["LJ"]
rho = [1.2]
T_over_Tmct = [0.45]
status = "glass"

[[exclude]]
state = "WCA-rho1.20-T1.480"
reason = "crystallised"
"""


@pytest.fixture
def fake_simulation(monkeypatch):
    """A stand-in for memplug.plugins.md.protocol.run_state returning synthetic one-state datasets."""
    calls = []

    def run_state(
        system,
        rho,
        T,
        *,
        engine="lammps",
        seed,
        workdir,
        threads=2,
        n_t=150,
        progress=None,
        **protocol,
    ):
        calls.append(
            dict(system=system, rho=rho, T=T, seed=seed, threads=threads, protocol=protocol)
        )
        if protocol.get("fail"):
            raise RuntimeError("lost atoms")
        if progress is not None:
            progress(10, 10)
        pot = {"ka-lj": "LJ", "ka-wca": "WCA"}[system]
        return synthetic_state(pot, rho, T, n_t=n_t, seed=seed)

    module = types.ModuleType("memplug.plugins.md.protocol")
    module.run_state = run_state
    monkeypatch.setitem(sys.modules, "memplug.plugins.md.protocol", module)
    return calls


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "campaign.toml"
    p.write_text(SPEC)
    return p


def test_default_campaign_covers_the_grid():
    c = load_campaign(data.dataset_path("default").parent / "campaign.toml")
    # paper Table I (T_mct, WCA/LJ)
    t_mct = {
        ("WCA", 1.2): 0.74,
        ("WCA", 1.4): 1.77,
        ("WCA", 1.6): 3.49,
        ("WCA", 1.8): 5.10,
        ("LJ", 1.2): 0.90,
        ("LJ", 1.4): 1.87,
        ("LJ", 1.6): 3.53,
        ("LJ", 1.8): 5.10,
    }
    for (pot, rho), tc in t_mct.items():
        eq = [
            s
            for s in c.states
            if s.potential == pot and s.rho == rho and s.status == "equilibrated"
        ]
        glass = [s for s in c.states if s.potential == pot and s.rho == rho and s.status == "glass"]
        assert len(eq) >= 12, (pot, rho)
        Ts = sorted(s.T for s in eq)
        assert Ts[0] == pytest.approx(0.55 * tc, abs=1e-3)
        assert Ts[-1] >= min(15.0, 3 * tc) and Ts[-1] <= max(15.0, 5 * tc)
        assert glass and max(s.T for s in glass) < Ts[0]
    assert len({s.seed for s in c.states}) == len(c.states)
    # cheapest first by the prior (no state measured yet): the hottest lead, the glass states come last
    order = c.ordered(measured=[])
    assert order[0].T_over_Tmct > 2 and all(s.status == "glass" for s in order[-8:])


def test_spec_errors_name_the_field(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[[grid]]\npotential = ["XY"]\nrho = [1.2]\nT = [1.0]\n')
    with pytest.raises(InputError, match="grid\\[0\\]: potential: 'XY'"):
        load_campaign(p)
    p.write_text('[[grid]]\npotential = ["LJ"]\nrho = [1.2]\nT_over_Tmct = [1.0]\n')
    with pytest.raises(InputError, match="needs \\[t_mct\\] LJ at rho = 1.2"):
        load_campaign(p)
    assert cli("dataset", "info", str(tmp_path / "missing.toml")) == 2


def test_build_resume_info(spec, tmp_path, fake_simulation, capsys):
    c = load_campaign(spec)
    ids = sorted(s.id for s in c.states)
    assert ids == sorted(
        [
            "LJ-rho1.20-T0.900",
            "LJ-rho1.20-T1.800",
            "WCA-rho1.20-T0.740",
            "LJ-rho1.20-T10.000",
            "LJ-rho1.20-T0.405",
        ]
    )  # WCA T=1.48 excluded
    work = tmp_path / "work"
    assert (
        cli("dataset", "build", str(spec), "--workdir", str(work), "--limit", "2", "--jobs", "1")
        == 0
    )
    # the two cheapest by the cost estimate
    done = sorted(p.stem for p in (tmp_path / "states").glob("*.nc"))
    assert done == sorted(s.id for s in c.ordered()[:2])
    assert "LJ-rho1.20-T10.000" in done and "LJ-rho1.20-T0.405" not in done
    log = json.loads((tmp_path / "states-log.json").read_text())
    assert set(log) == set(done) and all(v["cpu_seconds"] > 0 for v in log.values())
    # resume: only the missing ones run
    fake_simulation.clear()
    assert cli("dataset", "build", str(spec), "--workdir", str(work), "--jobs", "1") == 0
    assert len(fake_simulation) == 3
    assert fake_simulation[-1]["T"] == 0.405  # the glass state last
    assert all(call["threads"] == 2 for call in fake_simulation)
    ds = data.load_dataset(tmp_path / "states")
    assert ds.sizes["state"] == 5
    assert ds.sel(state="LJ-rho1.20-T0.405")["status"].item() == "glass"
    seeds = {s.id: s.seed for s in c.states}
    assert all(int(ds.sel(state=s)["seed"]) == seeds[s] for s in ids)
    # nothing left: a third build runs nothing
    fake_simulation.clear()
    assert cli("dataset", "build", str(spec), "--workdir", str(work)) == 0
    assert fake_simulation == []
    capsys.readouterr()
    assert cli("dataset", "info", str(spec)) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "5 done, 0 planned but missing, 0 deferred (over the per-state budget), 1 excluded" in out
    )
    assert "crystallised" in out
    # the same table for scripts: every state with its full id, status and τ_α
    assert cli("dataset", "info", str(spec), "--table", str(tmp_path / "info.json")) == 0
    rows = {r["state"]: r for r in json.loads((tmp_path / "info.json").read_text())}
    assert set(ids) <= set(rows)
    assert (
        rows["LJ-rho1.20-T0.405"]["status"] == "glass"
        and rows["LJ-rho1.20-T10.000"]["tau_alpha"] > 0
    )
    assert cli("dataset", "info", str(spec), "--table", str(tmp_path / "info.txt")) == 2


def test_failures_are_logged_and_listed(spec, tmp_path, fake_simulation, capsys):
    text = spec.read_text().replace("T = [10.0]", "T = [10.0]\nprotocol = { fail = true }")
    spec.write_text(text)
    assert (
        cli(
            "dataset",
            "build",
            str(spec),
            "--workdir",
            str(tmp_path / "w"),
            "--only",
            "LJ-rho1.20-T10.000",
        )
        == 0
    )
    assert not (tmp_path / "states").exists() or not list((tmp_path / "states").glob("*.nc"))
    rows = {r.sid: r for r in survey(load_campaign(spec))}
    assert rows["LJ-rho1.20-T10.000"].status == "failed"
    assert "lost atoms" in rows["LJ-rho1.20-T10.000"].reason
    assert (
        rows["LJ-rho1.20-T0.900"].status == "planned"
        and "not run yet" in rows["LJ-rho1.20-T0.900"].reason
    )
    assert cli("dataset", "build", str(spec), "--only", "LJ-rho1.20-T9.000") == 2


def test_only_reruns_an_existing_state(spec, tmp_path, fake_simulation):
    # --only always re-runs the state, even if its file exists
    w = str(tmp_path / "w")
    assert cli("dataset", "build", str(spec), "--workdir", w, "--only", "LJ-rho1.20-T10.000") == 0
    first = (tmp_path / "states" / "LJ-rho1.20-T10.000.nc").read_bytes()
    assert cli("dataset", "build", str(spec), "--workdir", w, "--only", "LJ-rho1.20-T10.000") == 0
    assert len(fake_simulation) == 2
    again = data.load_dataset(tmp_path / "states" / "LJ-rho1.20-T10.000.nc")
    np.testing.assert_array_equal(
        again["Fs"].values, data.load_dataset(tmp_path / "states")["Fs"].values
    )
    assert len(first) > 0


def test_path_and_dry_run(spec, tmp_path, capsys):
    assert cli("dataset", "path") == 0
    assert capsys.readouterr().out.strip().endswith("states")
    assert cli("dataset", "build", str(spec), "--dry-run", "--workdir", str(tmp_path / "w")) == 0
    out = capsys.readouterr().out
    assert out.index("LJ-rho1.20-T10.000") < out.index("LJ-rho1.20-T0.405")
    assert not (tmp_path / "w").exists()


def test_plot_dataset(tmp_path, capsys):
    d = tmp_path / "states"
    for pot, rho, T in [("LJ", 1.2, 0.8), ("LJ", 1.2, 2.0), ("WCA", 1.4, 3.0), ("WCA", 1.4, 1.5)]:
        data.save_dataset(synthetic_state(pot, rho, T), d / f"{state_id(pot, rho, T)}.nc")
    assert cli("plot", "dataset", "--dataset", str(d), "--out", str(tmp_path / "fig")) == 0
    names = sorted(p.name for p in (tmp_path / "fig").iterdir())
    assert names == ["self_scattering.png", "structure.png", "tau_alpha.png"]
    assert all((tmp_path / "fig" / n).stat().st_size > 10_000 for n in names)
    # pack: the per-state files as one file, same content
    assert cli("dataset", "pack", str(tmp_path / "all.nc"), "--dataset", str(d)) == 0
    packed, parts = data.load_dataset(tmp_path / "all.nc"), data.load_dataset(d)
    assert list(packed["state"].values) == list(parts["state"].values)
    np.testing.assert_array_equal(packed["Fs_k"].values, parts["Fs_k"].values)


BUDGET_SPEC = """
[campaign]
name = "budget"
output = "states"
seed = 5
max_state_cpu_hours = 0.5

[t_mct]
rho = [1.2]
LJ = [0.90]

[[grid]]
potential = ["LJ"]
rho = [1.2]
T = [0.54, 0.63, 0.75, 0.9, 1.8]
"""


def test_budget_defers_states_predicted_too_slow(tmp_path, fake_simulation, capsys):
    """τ_α of an unfinished state comes from the finished states of its density: interpolated in
    ln τ_α vs 1/T between them, extrapolated with the two coldest below them; its cost is the
    coldest state's CPU per τ_α times the prediction. The numbers here are recomputed by hand."""
    from memplug.plugins.md.campaign import estimate

    spec = tmp_path / "campaign.toml"
    spec.write_text(BUDGET_SPEC)
    log = {  # finished: T = 1.8, 0.9, 0.63 (no files needed: the estimate reads the build log)
        "LJ-rho1.20-T1.800": {"tau_alpha": 0.5, "cpu_seconds": 50.0, "status": "equilibrated"},
        "LJ-rho1.20-T0.900": {"tau_alpha": 3.0, "cpu_seconds": 80.0, "status": "equilibrated"},
        "LJ-rho1.20-T0.630": {"tau_alpha": 30.0, "cpu_seconds": 600.0, "status": "equilibrated"},
        "LJ-rho1.20-T0.750": {"error": "RuntimeError: lost atoms"},
    }
    (tmp_path / "states-log.json").write_text(json.dumps(log))
    c = load_campaign(spec)
    assert c.max_state_cpu_hours == 0.5
    m = c.measured()
    assert len(m) == 3  # the failed state is not a measurement
    by_id = {s.id: s for s in c.states}
    # below the coldest: slope of ln τ vs 1/T through T = 0.9 and 0.63
    slope = np.log(30.0 / 3.0) / (1 / 0.63 - 1 / 0.9)
    tau = 30.0 * np.exp(slope * (1 / 0.54 - 1 / 0.63))
    e = estimate(by_id["LJ-rho1.20-T0.540"], m)
    assert e.tau_alpha == pytest.approx(tau, rel=1e-9)
    assert e.seconds == pytest.approx(600.0 / 30.0 * tau, rel=1e-9)
    assert e.seconds > 0.5 * 3600  # so it is over the budget
    # between finished states: interpolated (τ(0.75) between 3 and 30), never below the cheapest cost
    e75 = estimate(by_id["LJ-rho1.20-T0.750"], m)
    assert 3.0 < e75.tau_alpha < 30.0 and e75.seconds >= 50.0
    assert c.over_budget(by_id["LJ-rho1.20-T0.540"], m).startswith("beyond the per-state budget")
    assert c.over_budget(by_id["LJ-rho1.20-T0.540"], m, budget_hours=10.0) == ""
    assert c.over_budget(by_id["LJ-rho1.20-T0.750"], m) == ""

    # info lists it as deferred with the reason; build skips it unless the budget is raised
    assert cli("dataset", "info", str(spec)) == 0
    out = capsys.readouterr().out
    assert "deferred" in out and "1 deferred" in out
    assert (
        cli(
            "dataset",
            "build",
            str(spec),
            "--workdir",
            str(tmp_path / "w"),
            "--jobs",
            "1",
            "--dry-run",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "deferred LJ-rho1.20-T0.540" in out and "LJ-rho1.20-T0.540     equilibrated" not in out
    assert (
        cli(
            "dataset",
            "build",
            str(spec),
            "--workdir",
            str(tmp_path / "w"),
            "--jobs",
            "1",
            "--dry-run",
            "--budget-hours",
            "10",
        )
        == 0
    )
    assert "LJ-rho1.20-T0.540" in capsys.readouterr().out.split("to run")[1]
    assert cli("dataset", "build", str(spec), "--budget-hours", "-1") == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(BUDGET_SPEC.replace("max_state_cpu_hours = 0.5", 'max_state_cpu_hours = "lots"'))
    with pytest.raises(InputError, match="max_state_cpu_hours: expected a positive number"):
        load_campaign(bad)
