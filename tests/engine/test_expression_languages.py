"""Conditions in the diagram's language: JUEL (Camunda 7) and FEEL (Camunda 8) run; other languages are refused
at check by name. The instance waits for a message first, so it is saved and restored, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.definitions import read_sources
from engine.models import Timer
from engine.parsing.juel import JuelError, to_python
from engine.queries.tasks import instance_view
from tests.conftest import FIXTURES

LANGUAGES = FIXTURES / "languages"


@pytest.fixture
def deployed(people, engine):
    with people.transaction() as s:
        engine.deploy(s, [LANGUAGES], deployed_by="admin")
    return people


@pytest.mark.parametrize(
    ("data", "end"),
    [
        ({"amount": 1500, "label": "urgent", "copies": 2}, "Big and labelled"),
        ({"amount": 1500, "label": "later", "copies": 2}, "Big, other label"),
        ({"amount": 1500, "label": "", "copies": 2}, "Small"),
        ({"amount": 10, "label": "urgent", "copies": 2}, "Small"),
    ],
)
def test_juel_and_feel_conditions_decide_the_path(deployed, engine, data, end):
    with deployed.transaction() as s:
        iid = engine.start(s, "conditions", data, "jdoe").id
    with deployed.transaction() as s:
        engine.deliver_message(s, "lang_go", {}, {"instance": iid})
    with deployed.reading() as s:
        view = instance_view(s, iid)
    assert (view["status"], view["outcome"]) == ("completed", end)
    if end != "Small":
        assert view["data"]["made"] == [0, 1]  # loopCardinality ${copies}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("${copies}", "copies", None),
        ("${amount &gt; 1000 &amp;&amp; !empty label}", "${a.foo()}", "JUEL expression '${a.foo()}' cannot run"),
        ('=label = "urgent" and count(made) = copies', "=label = = 2", "FEEL expression '=label = = 2' cannot run"),
    ],
)
def test_check_names_the_language(engine, tmp_path, old, new, message):
    text = (LANGUAGES / "conditions.bpmn").read_text()
    assert old in text
    path = tmp_path / "conditions.bpmn"
    path.write_text(text.replace(old, new))
    findings = [f["message"] for f in engine.check(read_sources([path]))]
    if message is None:
        assert findings == []
    else:
        assert [f for f in findings if message in f], findings


def test_a_language_waypoint_does_not_speak_is_refused_by_name(engine, tmp_path):
    text = (
        (LANGUAGES / "conditions.bpmn")
        .read_text()
        .replace(
            '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${amount',
            '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="groovy">${amount',
        )
    )
    text = text.replace("${amount &gt; 1000 &amp;&amp; !empty label}", "amount &gt; 1000")
    path = tmp_path / "conditions.bpmn"
    path.write_text(text)
    findings = engine.check(read_sources([path]))
    assert [f["message"] for f in findings] == [
        "this expression is in groovy: Waypoint runs Python, FEEL, JUEL expressions"
    ]
    assert findings[0]["element"] == "Flow_big"


def test_juel_translation():
    assert to_python("${a > 1 && !b || c eq 'z'}") == "(((a > 1) and (not b)) or (c == 'z'))"
    assert to_python("#{order.total ge 10}") == "(order['total'] >= 10)"
    assert to_python("${empty items ? 'none' : 'some'}") == "('none' if (items in (None, '', [], {})) else 'some')"
    assert to_python("${execution.getVariable('amount') > 5}") == "(amount > 5)"
    with pytest.raises(JuelError):
        to_python("total: ${a}")


def test_timers_in_feel_and_juel(deployed, engine, clock):
    with deployed.transaction() as s:
        iid = engine.start(s, "timer_languages", {"hours": 2, "wait": "P1D"}, "jdoe").id
    dues = []
    for _ in range(3):
        with deployed.reading() as s:
            timers = s.scalars(select(Timer).where(Timer.instance_id == iid, Timer.kind == "bpmn_timer")).all()
        if not timers:
            break
        dues.append(timers[0].due_at - clock.now())
        clock.set(timers[0].due_at + timedelta(seconds=1))
        with deployed.transaction() as s:
            assert engine.fire_timer(s, timers[0].id) is True
    assert dues == [timedelta(hours=2), timedelta(days=1)]
    with deployed.reading() as s:
        assert instance_view(s, iid)["status"] == "completed"
