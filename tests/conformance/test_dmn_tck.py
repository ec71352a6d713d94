"""The DMN TCK's compliance-level-2 cases, run through Waypoint's decision engine.

The table (`make conformance`) reports passed / failed / skipped per kit folder; this test fails
when the number of passing test cases falls below the figure measured when it was last raised.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.conformance.tck import kit_folder, run_kit, same, table

#: measured with `make conformance`: every level-2 test case of the kit's 28 models
PASSED_AT_LEAST = 116


@pytest.fixture(scope="module")
def results():
    if not kit_folder().is_dir():
        pytest.skip(f"no DMN TCK at {kit_folder()}")
    return run_kit()


def test_the_kit_passes_and_the_count_cannot_fall(results, capsys):
    print(table(results))
    passed = sum(r.passed for r in results)
    failing = [f"{r.name}: {r.notes}" for r in results if r.failed or r.skipped]
    assert passed >= PASSED_AT_LEAST, "\n".join(failing)
    assert not failing
    assert len(results) == 28


def test_every_folder_reports_its_cases(results):
    for result in results:
        assert result.passed + result.failed + result.skipped > 0, result.name


def test_the_comparison_is_not_lenient():
    assert not same(Decimal("2878.69"), Decimal("2878.69354943277"))
    assert same(Decimal("2878.693549432766768088520383236299"), Decimal("2878.69354943277"))
    assert not same(None, Decimal(0))
    assert not same("Approved", "Declined")
    assert not same([{"a": "x"}], [{"a": "x"}, {"a": "y"}])
    assert not same(Decimal(1), True)
