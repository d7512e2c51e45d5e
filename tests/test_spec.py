"""`memplug.registry.Spec`: one parsed, checked ``NAME[:key=value,...]``; its text round-trips, it
pickles (Dask sends jobs to other processes) and a bad spec is one `InputError` naming what is wrong."""

from __future__ import annotations

import pickle

import pytest

from memplug.errors import InputError
from memplug.plugins.fitting.jobs import FitJob
from memplug.registry import Spec, parse_spec


@pytest.mark.parametrize(
    "kind, text",
    [
        ("closures", "double-stretched"),
        ("closures", "stretched:n_exp=2"),
        ("closures", "stretched:n_exp=3,cross=True"),
        ("closures", "exponential:free=none"),
        ("optimizers", "cmaes:popsize=8,restarts=1"),
        ("optimizers", "gradient:method=lbfgs"),
        ("optimizers", "nevergrad:NGOpt"),
    ],
)
def test_round_trip_pickle_and_create(kind, text):
    spec = Spec.parse(kind, text)
    assert str(spec) == text
    assert Spec.parse(kind, str(spec)) == spec
    assert spec.kwargs() == parse_spec(text)[1]
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and hash(again) == hash(spec) and str(again) == text
    if spec.name != "nevergrad":  # an optional dependency
        obj = spec.create()
        assert obj.name == spec.name


def test_canonical_text_and_order():
    spec = Spec.parse("closures", " stretched : n_exp = 2 , , cross=False ")
    assert str(spec) == "stretched:n_exp=2,cross=False"
    assert spec.options == (("n_exp", "2"), ("cross", "False"))
    assert spec.kwargs() == {"n_exp": 2, "cross": False}
    # values are kept as written: the recorded text does not depend on how Python prints them
    assert str(Spec.parse("optimizers", "cmaes:rtol=1e-3")) == "cmaes:rtol=1e-3"


def test_a_job_stores_the_canonical_text():
    closure, optimizer = (
        Spec.parse("closures", "stretched:n_exp=2"),
        Spec.parse("optimizers", "cmaes:popsize=8"),
    )
    job = FitJob(state="s", closure=closure, optimizer=optimizer)
    assert job.closure == "stretched:n_exp=2" and job.optimizer == "cmaes:popsize=8"
    assert job == FitJob(state="s", closure="stretched:n_exp=2", optimizer="cmaes:popsize=8")
    assert job.closure_spec() == closure and job.optimizer_spec() == optimizer
    assert pickle.loads(pickle.dumps(job)) == job


@pytest.mark.parametrize(
    "kind, text, message",
    [
        ("closures", "nosuch", "unknown closure 'nosuch'; available: "),
        (
            "closures",
            "stretched:foo=1",
            "closure 'stretched' has no option foo; valid options: n_exp=2",
        ),
        (
            "optimizers",
            "cmaes:popsize=8,bogus=1",
            "optimizer 'cmaes' has no option bogus; valid options: popsize=None",
        ),
        ("closures", ":n_exp=2", "expected NAME or NAME:key=value"),
    ],
)
def test_parse_errors_name_what_is_wrong(kind, text, message):
    with pytest.raises(InputError) as exc:
        Spec.parse(kind, text)
    assert message in str(exc.value)


def test_bad_values_are_the_plugins_to_check():
    spec = Spec.parse(
        "closures", "stretched:n_exp=x"
    )  # the option exists; its value is checked on create
    with pytest.raises(InputError, match=r"option n_exp='x'; expected a positive integer"):
        spec.create()
