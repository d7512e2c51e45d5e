"""The plugin contract: discovery through entry points, failures that never break the other plugins,
name conflicts that name both plugins, and the ``memplug plugins`` / ``memplug closures`` listings.

Throw-away plugins are real installed distributions: a ``*.dist-info`` directory (METADATA and
entry_points.txt) plus a module, in a temporary directory put on ``sys.path`` — exactly what
``importlib.metadata`` sees for a pip-installed package.
"""

from __future__ import annotations

import numpy as np
import pytest

from memplug.errors import InputError
from memplug.registry import DuplicateNameError, Registry, get_registry, parse_spec

BUILTIN = {
    "exponential",
    "stretched",
    "double-stretched",
    "schematic-f1",
    "schematic-f2",
    "schematic-f12",
    "neural",
}


def run_cli(args, capsys):
    """Run ``memplug ARGS``; return (exit code, stdout, stderr) with whitespace normalised."""
    from memplug.cli import main
    from memplug.cli.app import console

    width = console._width
    console.width = 400  # a wide table, so that names are not folded across lines
    try:
        with pytest.raises(SystemExit) as exc:
            main(args)
    finally:
        console._width = width
    out = capsys.readouterr()
    return exc.value.code or 0, " ".join(out.out.split()), " ".join(out.err.split())


def test_builtins_are_registered_through_the_entry_point_group():
    reg = Registry()
    assert BUILTIN <= set(reg.names("closures"))
    closures = [p for p in reg.plugins if p.name == "closures" and p.distribution == "memplug"]
    assert len(closures) == 1 and closures[0].ok
    assert set(closures[0].registered["closures"]) >= BUILTIN


def test_broken_plugin_is_reported_and_everything_else_works(install, capsys):
    install(
        "memplug-broken-demo",
        "memplug_broken_demo",
        'raise RuntimeError("deliberately broken plugin")\n',
    )
    reg = get_registry()
    failed = [p for p in reg.failures if p.distribution == "memplug-broken-demo"]
    assert len(failed) == 1
    assert failed[0].name == "demo" and failed[0].version == "0.0.1"
    assert "RuntimeError: deliberately broken plugin" in failed[0].error
    assert "Traceback" in failed[0].traceback
    assert BUILTIN <= set(reg.names("closures"))  # the others still load
    reg.create("closures", "stretched:n_exp=2")

    code, out, err = run_cli(["plugins"], capsys)
    assert code == 0
    assert "memplug-broken-demo" in out and "failed" in out and "deliberately broken plugin" in out
    assert "1 plugin(s) failed to load" in out and "ok" in out
    code, out, _ = run_cli(["plugins", "--traceback"], capsys)
    assert code == 0 and "Traceback" in out
    code, out, _ = run_cli(["closures"], capsys)
    assert code == 0 and "stretched" in out and "14" in out  # Eq. 6, N_exp = 2, ordered, diagonal


def test_plugin_whose_hook_raises_registers_nothing(install):
    install(
        "memplug-halfway-demo",
        "memplug_halfway_demo",
        """
        from memplug.hookspecs import hookimpl
        from memplug.plugins.closures.exponential import ExponentialClosure

        class Fine(ExponentialClosure):
            name = "halfway-fine"

        @hookimpl
        def register_closures(register):
            register(Fine)
            raise ValueError("second closure could not be built")
    """,
    )
    reg = get_registry()
    info = next(p for p in reg.plugins if p.distribution == "memplug-halfway-demo")
    assert "registration: ValueError: second closure could not be built" in info.error
    assert "halfway-fine" not in reg.names("closures")  # nothing half-registered
    assert BUILTIN <= set(reg.names("closures"))


def test_misspelt_hook_is_an_error_naming_the_hook(install):
    install(
        "memplug-typo-demo",
        "memplug_typo_demo",
        """
        from memplug.hookspecs import hookimpl

        @hookimpl
        def register_closure(register):
            pass
    """,
    )
    info = next(p for p in get_registry().plugins if p.distribution == "memplug-typo-demo")
    assert "register_closure" in info.error and "not a memplug hook" in info.error
    assert "register_closures" in info.error  # lists the real hooks


def test_object_entry_points_and_missing_names(install):
    install(
        "memplug-object-demo",
        "memplug_object_demo",
        """
        from memplug.hookspecs import hookimpl
        from memplug.plugins.closures.exponential import ExponentialClosure

        class Holder:
            class Renamed(ExponentialClosure):
                name = "object-demo"

            @staticmethod
            @hookimpl
            def register_closures(register):
                register(Holder.Renamed)
    """,
        entry="memplug_object_demo:Holder",
    )
    install(
        "memplug-noname-demo",
        "memplug_noname_demo",
        """
        from memplug.hookspecs import hookimpl

        @hookimpl
        def register_closures(register):
            register(object())
    """,
    )
    reg = get_registry()
    assert reg.owner["closures"]["object-demo"].distribution == "memplug-object-demo"
    info = next(p for p in reg.plugins if p.distribution == "memplug-noname-demo")
    assert "has no string `name`" in info.error


def test_duplicate_names_are_a_clear_error_naming_both_plugins(install, capsys):
    install(
        "memplug-dup-demo",
        "memplug_dup_demo",
        """
        from memplug.hookspecs import hookimpl
        from memplug.plugins.closures.exponential import ExponentialClosure

        class Other(ExponentialClosure):
            pass  # same name: "exponential"

        class Own(ExponentialClosure):
            name = "dup-demo-own"

        @hookimpl
        def register_closures(register):
            register(Other)
            register(Own)
    """,
        ep_name="dup",
    )
    reg = get_registry()
    with pytest.raises(DuplicateNameError) as exc:
        reg.get("closures", "exponential")
    msg = str(exc.value)
    assert "'exponential'" in msg and "memplug:closures" in msg and "memplug-dup-demo:dup" in msg
    with pytest.raises(DuplicateNameError):
        reg.check()
    # everything else of both plugins keeps working
    reg.create("closures", "stretched")
    reg.create("closures", "dup-demo-own")
    info = next(p for p in reg.plugins if p.distribution == "memplug-dup-demo")
    assert info.ok and info.conflicts == ["exponential"]

    code, _, err = run_cli(["solve", "--closure", "exponential"], capsys)
    assert code == 2
    assert "memplug:closures" in err and "memplug-dup-demo:dup" in err and "Traceback" not in err
    code, out, _ = run_cli(["plugins"], capsys)
    assert code == 0 and "name conflict" in out and "memplug-dup-demo" in out


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ["solve", "--closure", "nope"],
            ["unknown closure 'nope'", "stretched", "schematic-f12", "neural"],
        ),
        (
            ["solve", "--closure", "stretched:n_exp=-1"],
            ["n_exp=-1", "positive integer", "options: n_exp=2"],
        ),
        (
            ["solve", "--closure", "stretched:foo=1"],
            ["no option foo", "valid options: n_exp=2, stretch=True"],
        ),
        (["closures", "stretched:foo=1"], ["no option foo"]),
        (["solve", "--closure", "stretched", "--params", '{"q": 1}'], ["no parameter q", "w_AA"]),
        (
            ["solve", "--closure", "stretched", "--params", '{"w_AA": [1, 2, 3]}'],
            ["w_AA", "shape [2]"],
        ),
        (["solve", "--solver", "euler"], ["--solver", "time-doubling or diffrax"]),
        (
            ["solve", "--closure", "schematic-f2", "--solver", "diffrax", "--t-max", "1"],
            ["diffrax solver needs a sum-of-exponentials kernel"],
        ),
        (["plugins", "--kind", "widget"], ["--kind", "closure"]),
    ],
)
def test_cli_input_errors_exit_2_with_one_message(args, words, capsys):
    code, out, err = run_cli(args, capsys)
    assert code == 2, (out, err)
    assert err.startswith("error:") and "Traceback" not in err
    for w in words:
        assert w in err


def test_closures_detail_lists_every_parameter(capsys):
    code, out, _ = run_cli(["closures", "stretched:n_exp=2,cross=True,fractions=True"], capsys)
    assert code == 0 and "27 parameters" in out  # the paper's literal Eq. 6
    for name in ("c_AA", "w_AB", "a_BB", "tau_AA", "b_AB"):
        assert name in out


def test_parse_spec():
    assert parse_spec("stretched") == ("stretched", {})
    assert parse_spec("stretched:n_exp=3,stretch=False") == (
        "stretched",
        {"n_exp": 3, "stretch": False},
    )
    assert parse_spec("nevergrad:NGOpt") == ("nevergrad", {"variant": "NGOpt"})
    assert parse_spec("x:free=amplitude") == ("x", {"free": "amplitude"})
    with pytest.raises(InputError):
        parse_spec(":n_exp=2")


def test_docs_show_the_contrib_plugin_verbatim_and_it_is_small():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    source = (root / "contrib/memplug-prony/memplug_prony/__init__.py").read_text()
    doc = (root / "docs/plugins.md").read_text()
    shown = re.search(r'```python\n(""".*?)```', doc, re.S)
    assert shown is not None and shown.group(1) == source
    code = [ln for ln in source.splitlines() if ln.strip() and not ln.startswith('"""')]
    assert len(code) < 30


def test_targets_are_plugins_like_closures(install, capsys):
    """`--target NAME` resolves through the register_targets hook: the built-ins (data,
    synthetic from the targets plugin; mct; mlp) and a third-party target; an unknown target is
    one clear error before any fit starts."""
    install(
        "memplug-target-demo",
        "memplug_target_demo",
        """
        from memplug.plugins.targets.builtin import data_target
        from memplug.targets import target_provider
        from memplug.hookspecs import hookimpl

        @target_provider("shifted")
        def shifted(ds, state, context, by: float = 0.0):
            '''The data, shifted by a constant.'''
            t = data_target(ds, state, context)
            return type(t)(t.name, t.t, t.F + by, t.context, "shifted", t.info)

        @hookimpl
        def register_targets(register):
            register(shifted)
    """,
    )
    from fit_support import dataset, state

    from memplug.targets import make_target

    reg = get_registry()
    assert {"data", "synthetic", "mct", "mlp", "shifted"} <= set(reg.names("targets"))
    ds = dataset()
    base, moved = make_target("data", ds, state()), make_target("shifted:by=0.5", ds, state())
    np.testing.assert_allclose(moved.F, base.F + 0.5)
    with pytest.raises(InputError, match="--target shifted: unknown option"):
        make_target("shifted:nope=1", ds, state())
    code, out, err = run_cli(["run", "--target", "nosuch"], capsys)
    assert (
        code == 2
        and "--target: unknown target 'nosuch'" in out + err
        and "Traceback" not in out + err
    )
    code, out, _ = run_cli(["plugins"], capsys)
    assert code == 0 and "shifted" in out
