"""The restricted script environment refuses escapes and bounds run time and memory."""

from __future__ import annotations

import time
from datetime import UTC

import pytest

from engine.clock import frozen_time
from engine.scripting import (
    RestrictedEnvironment,
    ScriptRejected,
    ScriptTimeout,
    builtin_helpers,
    check_source,
    is_iso_literal,
)


@pytest.fixture
def env() -> RestrictedEnvironment:
    return RestrictedEnvironment({**builtin_helpers(), "double": lambda x: x * 2}, time_limit=0.5)


def test_plain_scripts_work(env):
    data = {"costs": [{"amount": 10}, {"amount": 5.5}], "name": "Lyon"}
    env.execute("total = sum(c['amount'] for c in costs)\ncity = name.upper()\nn = double(len(costs))", data)
    assert data == {"costs": data["costs"], "name": "Lyon", "total": 15.5, "city": "LYON", "n": 4}
    assert env.evaluate("total > 10 and city == 'LYON'", data) is True


def test_script_can_delete_keys_and_helpers_do_not_leak(env):
    data = {"a": 1, "b": 2}
    env.execute("del a\nc = b + 1", data)
    assert data == {"b": 2, "c": 3}
    assert "double" not in data and "__builtins__" not in data


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').getuid()",
        "().__class__.__base__.__subclasses__()",
        "[c for c in ().__class__.__mro__]",
        "(x for x in []).gi_frame.f_back.f_globals",
        "'{0.__class__}'.format(1)",
        "open('/etc/passwd').read()",
        "eval('1')",
        "getattr((), '__class__')",
        "globals()",
        "type(1)",
        "__builtins__",
    ],
)
def test_escapes_are_refused(env, source):
    with pytest.raises((ScriptRejected, NameError)):
        env.evaluate(source, {})


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import os", "imports are not allowed"),
        ("from os import path", "imports are not allowed"),
        ("def f():\n    return 1", "function definitions are not allowed"),
        ("class A:\n    pass", "class definitions are not allowed"),
        ("x = _secret", "the name '_secret' is not allowed"),
        ("x = open('f')", "unknown function 'open'"),
        ("x = y.__dict__", "the attribute '.__dict__' is not allowed"),
    ],
)
def test_static_check_messages(source, message):
    with pytest.raises(ScriptRejected) as info:
        check_source(source, "exec", known_names={"len"})
    assert message in str(info.value)


def test_infinite_loop_is_stopped_in_bounded_time(env):
    started = time.monotonic()
    with pytest.raises(ScriptTimeout):
        env.execute("while True:\n    pass", {})
    assert time.monotonic() - started < 5


def test_comprehension_loops_are_bounded_too(env):
    with pytest.raises((ScriptTimeout, ScriptRejected)):
        env.execute("x = [[i * j for i in range(99999)] for j in range(99999)]", {})


@pytest.mark.parametrize("source", ["x = 'a' * 10**9", "x = [0] * 10000000", "x = 10 ** 100000", "x = range(10**9)"])
def test_memory_bombs_are_refused(env, source):
    with pytest.raises(ScriptRejected):
        env.execute(source, {})


def test_data_may_not_shadow_helpers(env):
    with pytest.raises(ScriptRejected):
        env.execute("x = 1", {"double": 3})


def test_iso_literals():
    for literal in ["P3D", "PT4H", "P1Y2M", "R3/PT1H", "2026-12-01", "2026-12-01T09:00:00-05:00", "P2W"]:
        assert is_iso_literal(literal), literal
    for other in ["P3X", "PT", "P", "duration", "at_end_of_day(end_date)", "3"]:
        assert not is_iso_literal(other), other


def test_date_helpers_use_engine_time():
    from datetime import datetime

    h = builtin_helpers("America/Toronto")
    with frozen_time(datetime(2026, 1, 1, 3, 0, tzinfo=UTC)):  # still Dec 31 in Ottawa
        assert h["today"]() == "2025-12-31"
        assert h["now"]() == "2026-01-01T03:00:00+00:00"
    assert h["add_days"]("2026-02-27", 2) == "2026-03-01"
    assert h["add_months"]("2026-01-31", 1) == "2026-02-28"
    assert h["add_months"]("2026-11-15", -12) == "2025-11-15"
    assert h["days_between"]("2026-11-04", "2026-11-07") == 3
    assert h["at_end_of_day"]("2026-11-07") == "2026-11-07T22:00:00+00:00"
    assert h["duration_after"]("2026-11-07T10:00:00+00:00", "P3D") == "2026-11-10T10:00:00+00:00"
