"""FEEL expressions and unary tests, evaluated by engine/feel (the DMN standard's semantics)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.clock import frozen_time
from engine.errors import ScriptError
from engine.feel import FeelLimit, FeelSyntaxError, check_tests, evaluate, evaluate_value, scope_of, unary_test

CONTEXT = {"Monthly Salary": 1000, "age": 17, "loan": {"principal": 600000, "rate": 0.0375}, "flags": [True, None]}

EXPRESSIONS = [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 / 4", 2.5),
    ("-10 - -5", -5),
    ("2 ** 10", 1024),
    ("10 ** -5", 0.00001),
    ("1.2 * 10 ** 3", 1200),
    ("10 / 0", None),
    ("null + 1", None),
    ('"a" + 1', None),
    ("Monthly Salary * 12", 12000),
    ("loan.principal * loan.rate", 22500),
    ("true and null", None),
    ("false and null", False),
    ("true or null", True),
    ("false or null", None),
    ("not(false)", True),
    ("not(null)", None),
    ('if age >= 18 then "adult" else "minor"', "minor"),
    ("if null then 1 else 2", 2),
    ("5 in [1..10]", True),
    ("10 in [1..10)", False),
    ("1 in (1..10]", False),
    ("1 in ]1..10]", False),
    ("2 in ]1..10]", True),
    ("5 between 1 and 10", True),
    ('"b" in ("a", "b")', True),
    ("3 in <5", True),
    ("[1, 2, 3][item > 1]", [2, 3]),
    ("[1, 2, 3][2]", 2),
    ("[1, 2, 3][-1]", 3),
    ("[{a: 1}, {a: 2}][a = 2].a", [2]),
    ("{a: 1, b: a + 1}.b", 2),
    ('{"full name": "Ann"}.full name', "Ann"),
    ("for i in 1..3 return i * 2", [2, 4, 6]),
    ("some x in [1, 2] satisfies x > 1", True),
    ("every x in [1, 2] satisfies x > 1", False),
    ('string length("abc")', 3),
    ('substring("foobar", 3)', "obar"),
    ('substring("foobar", -3, 2)', "ba"),
    ('substring(string: "foobar", start position: 2, length: 1)', "o"),
    ('upper case("abc") + lower case("DEF")', "ABCdef"),
    ('contains("abc", "b") and starts with("abc", "a") and ends with("abc", "c")', True),
    ("abs(-3) + floor(1.5) + ceiling(1.2)", 6),
    ("round(2.5) + round(3.5)", 6),
    ("round half up(2.345, 2)", 2.35),
    ("min([3, 1, 2]) + max(3, 1, 2)", 4),
    ("sum([1, 2, 3]) + count([1, 2]) + mean([1, 2, 3])", 10),
    ("list contains([1, 2], 2)", True),
    ('string join(["a", "b"], "-")', "a-b"),
    ('number("1,000.5", ",", ".")', 1000.5),
    ("string(1.50)", "1.50"),
    ('date("2020-01-31") + duration("P1M")', "2020-02-29"),
    ('date("2020-03-01") - date("2020-01-01")', "P60D"),
    ('date and time("2020-01-01T10:00:00Z").hour', 10),
    ('duration("P1DT2H") * 2', "P2DT4H"),
    ('@"P1Y2M" + @"P10M"', "P2Y"),
    ('date("2020-01-01") < date("2021-01-01")', True),
    ('years and months duration(date("2020-01-15"), date("2021-03-14"))', "P1Y1M"),
    ('day of week(date("2026-12-07"))', "Monday"),
    ("age instance of number", True),
    ("all(flags)", None),
    ("10 ** 999999", None),
    ('"\\u00e9t\\u00e9"', "été"),
    ("1 = 1.0", True),
    ('"1" = 1', None),
    ("null = null", True),
]


@pytest.mark.parametrize(("expression", "expected"), EXPRESSIONS)
def test_expression(expression, expected):
    assert evaluate(expression, CONTEXT) == expected


def test_numbers_are_decimal_not_binary_floats():
    assert evaluate_value("0.1 + 0.2", scope_of({})) == Decimal("0.3")


def test_today_reads_the_engine_clock_in_office_time():
    with frozen_time(datetime(2026, 3, 1, 3, 0, tzinfo=UTC)):  # 22:00 the day before in Toronto
        assert evaluate("today()") == "2026-02-28"


TESTS = [
    ("-", 5, True),
    ("", None, True),
    (">= 18", 18, True),
    ("< 18", 18, False),
    ('"Medium", "Low"', "Low", True),
    ('"Medium", "Low"', "High", False),
    ("[250..1000]", 300, True),
    ("[250..1000]", 1000.01, False),
    ("(250..1000)", 250, False),
    ('not("a", "b")', "c", True),
    ('not("a", "b")', "a", False),
    ("? > 5", 6, True),
    ("true", True, True),
    ("true", False, False),
    ("false", False, True),
    ("null", None, True),
    ('"x"', None, False),
    ("[1..5], > 10", 11, True),
    ("<= age", 17, True),
    ('date("2020-01-01")', "2020-01-01", False),  # a string is not a date
]


@pytest.mark.parametrize(("test", "value", "expected"), TESTS)
def test_unary_tests(test, value, expected):
    assert unary_test(test, value, CONTEXT) is expected


@pytest.mark.parametrize("text", ["1 +", "[1..", "a ? b", '"open'])
def test_syntax_errors_name_the_text(text):
    with pytest.raises(FeelSyntaxError) as caught:
        evaluate(text)
    assert caught.value.code == "feel_syntax"
    assert isinstance(caught.value, ScriptError)
    assert text.strip() in str(caught.value)


def test_python_dmn_cells_are_not_feel():
    with pytest.raises(FeelSyntaxError):
        check_tests("? == 'russia'")


@pytest.mark.parametrize(
    "expression",
    [
        "for i in 1..1000000000 return i",
        "for a in 1..1000, b in 1..1000 return a",
        "(" * 200 + "1" + ")" * 200,
        '"x" + "' + "y" * 1_100_000 + '"',
    ],
)
def test_evaluation_is_bounded(expression):
    with pytest.raises((FeelLimit, FeelSyntaxError)) as caught:
        evaluate(expression)
    assert caught.value.code == "feel_too_large"


def test_evaluation_steps_are_capped():
    with pytest.raises(FeelLimit, match="200,000 steps"):
        evaluate("for i in 1..30000 return i + i + i + i")


def test_copies_of_large_strings_cannot_add_up():
    doubling = "{a: " + '"' + "x" * 15_000 + '"' + ", b: a+a, c: b+b, d: c+c, e: d+d, f: e+e, g: f+f}"
    assert evaluate(f"string length({doubling}.g)") == 960_000
    with pytest.raises(FeelLimit, match="20,000,000 characters and items"):
        evaluate(f'count(for i in 1..100 return {doubling}.g + "y")')


def test_string_growth_is_capped():
    doubling = "{a: " + '"' + "x" * 15_000 + '"' + ", b: a+a, c: b+b, d: c+c, e: d+d, f: e+e, g: f+f, h: g+g}.h"
    with pytest.raises(FeelLimit, match="1,000,000 characters"):
        evaluate(doubling)
