"""engine/dmn: reading DMN 1.1–1.5, every hit policy, value checks, and errors that name the cell."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from engine.dmn import DecisionError, Decisions, DmnReadError, check_dmn, read_model
from engine.dmn.model import FEEL, NAMESPACES, PYTHON

DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"


def table_xml(
    policy: str, rules: list[tuple[str, str]], namespace: str = DMN15, extra: str = "", output: str = ""
) -> str:
    rows = "".join(
        f"<rule><inputEntry><text>{test}</text></inputEntry><outputEntry><text>{out}</text></outputEntry></rule>"
        for test, out in rules
    )
    return f"""<definitions xmlns="{namespace}" id="d" name="t" namespace="urn:t" {extra}>
      <decision id="grade" name="Grade"><decisionTable {policy}>
        <input label="Score"><inputExpression><text>score</text></inputExpression></input>
        <output name="grade">{output}</output>{rows}
      </decisionTable></decision></definitions>"""


def decide(xml: str, **data):
    model, findings = read_model(etree.fromstring(xml.encode()), "rules/t.dmn")
    assert findings == []
    return Decisions([model]).evaluate("grade", data)


RULES = [("&gt;= 90", '"A"'), ("&gt;= 50", '"B"'), ("&gt;= 80", '"C"'), ("&lt; 50", '"F"')]


@pytest.mark.parametrize(
    ("policy", "score", "expected"),
    [
        ('hitPolicy="FIRST"', 95, "A"),
        ('hitPolicy="UNIQUE"', 10, "F"),
        ('hitPolicy="RULE ORDER"', 95, ["A", "B", "C"]),
        ('hitPolicy="COLLECT"', 85, ["B", "C"]),
        ('hitPolicy="COLLECT" aggregation="COUNT"', 95, Decimal(3)),
        ('hitPolicy="COLLECT" aggregation="MIN"', 95, "A"),
        ('hitPolicy="COLLECT" aggregation="MAX"', 95, "C"),
        ('hitPolicy="RULE ORDER"', None, []),
    ],
)
def test_hit_policies(policy, score, expected):
    assert decide(table_xml(policy, RULES), score=score) == expected


def test_no_match_gives_the_default_output_entry_else_null_or_nothing():
    default = '<defaultOutputEntry><text>"none"</text></defaultOutputEntry>'
    assert decide(table_xml('hitPolicy="FIRST"', RULES[:1], output=default), score=10) == "none"
    assert decide(table_xml('hitPolicy="FIRST"', RULES[:1]), score=10) is None
    assert decide(table_xml('hitPolicy="COLLECT" aggregation="COUNT"', RULES[:1]), score=10) == Decimal(0)
    assert decide(table_xml('hitPolicy="COLLECT" aggregation="SUM"', [("&gt; 90", "1")]), score=10) is None


def test_count_counts_distinct_outputs():
    rules = [("-", '"x"'), ("&gt; 5", '"x"'), ("&gt; 6", '"y"')]
    assert decide(table_xml('hitPolicy="COLLECT" aggregation="COUNT"', rules), score=10) == Decimal(2)


def test_unsupported_boxed_expressions_are_findings():
    xml = f"""<definitions xmlns="{DMN15}" id="d" name="t" namespace="urn:t">
      <decision id="c" name="Boxed"><functionDefinition/></decision></definitions>"""
    findings = check_dmn("t.dmn", etree.fromstring(xml.encode()))
    assert "a functionDefinition expression is not supported yet" in findings[0]["message"]


def test_priority_and_output_order_follow_output_values():
    ordered = '<outputValues><text>"C", "B", "A", "F"</text></outputValues>'
    assert decide(table_xml('hitPolicy="PRIORITY"', RULES, output=ordered), score=95) == "C"
    assert decide(table_xml('hitPolicy="OUTPUT ORDER"', RULES, output=ordered), score=95) == ["C", "B", "A"]


def test_collect_sum_adds_numbers():
    rules = [("-", "10"), ("&gt; 5", "2.5"), ("&gt; 100", "1000")]
    assert decide(table_xml('hitPolicy="COLLECT" aggregation="SUM"', rules), score=6) == Decimal("12.5")


def test_unique_and_any_violations_name_the_rules():
    with pytest.raises(DecisionError) as caught:
        decide(table_xml('hitPolicy="UNIQUE"', RULES), score=95)
    assert str(caught.value) == (
        "rules/t.dmn, decision 'Grade': rules 1, 2, 3 all match, and the hit policy UNIQUE allows one"
    )
    with pytest.raises(DecisionError, match="different outputs"):
        decide(table_xml('hitPolicy="ANY"', RULES), score=95)


def test_output_values_are_checked():
    allowed = '<outputValues><text>"A", "B"</text></outputValues>'
    with pytest.raises(DecisionError) as caught:
        decide(table_xml('hitPolicy="FIRST"', RULES, output=allowed), score=10)
    assert "rule 4" in str(caught.value) and "outputValues" in str(caught.value)


def test_input_values_are_checked():
    xml = table_xml('hitPolicy="FIRST"', RULES).replace(
        "</inputExpression>", "</inputExpression><inputValues><text>[0..100]</text></inputValues>"
    )
    assert decide(xml, score=100) == "A"
    with pytest.raises(DecisionError, match="column 'Score'.*not among its inputValues"):
        decide(xml, score=101)


@pytest.mark.parametrize("namespace", sorted(NAMESPACES))
def test_every_dmn_version_is_read(namespace):
    assert decide(table_xml('hitPolicy="FIRST"', RULES, namespace=namespace), score=60) == "B"


def test_a_non_dmn_root_is_refused():
    with pytest.raises(DmnReadError, match="not a DMN 1.1–1.5"):
        read_model(etree.fromstring(b'<definitions xmlns="urn:other"/>'), "x.dmn")


def test_feel_errors_in_cells_name_decision_rule_and_column():
    xml = table_xml('hitPolicy="FIRST"', [("[250..", '"A"'), ("-", '"B" +')])
    findings = check_dmn("rules/t.dmn", etree.fromstring(xml.encode()))
    assert [f["message"].split(": FEEL")[0] for f in findings] == [
        "decision 'Grade', rule 1, column 'Score'",
        "decision 'Grade', rule 2, column 'grade'",
    ]
    assert all(f["file"] == "rules/t.dmn" and f["severity"] == "error" for f in findings)
    assert [f["element"] for f in findings] == ["grade", "grade"]  # the cells have no id: their decision's
    with_ids = xml.replace("<inputEntry>", '<inputEntry id="cell_1">', 1)
    assert check_dmn("rules/t.dmn", etree.fromstring(with_ids.encode()))[0]["element"] == "cell_1"


def test_an_unknown_expression_language_is_a_finding():
    xml = table_xml('hitPolicy="FIRST"', RULES, extra='expressionLanguage="http://www.w3.org/1999/XPath"')
    findings = check_dmn("rules/t.dmn", etree.fromstring(xml.encode()))
    assert "'http://www.w3.org/1999/XPath' is not one Waypoint reads (FEEL, Python)" in findings[0]["message"]


def test_files_name_their_language_and_waypoints_old_python_tables_stay_python():
    feel = table_xml('hitPolicy="FIRST"', RULES)
    python = table_xml('hitPolicy="FIRST"', [("? in ('a', 'b')", "True")])
    declared = table_xml('hitPolicy="FIRST"', RULES, extra='expressionLanguage="http://www.python.org"')
    exported = table_xml('hitPolicy="FIRST"', RULES, extra='exporter="Waypoint process content"')
    languages = []
    for xml in (feel, python, declared, exported):
        model, _ = read_model(etree.fromstring(xml.encode()), "t.dmn")
        languages.append(model.decisions["grade"].body.rules[0].inputs[0].language)
    assert languages == [FEEL, PYTHON, PYTHON, PYTHON]


def test_python_cells_run_in_the_callers_script_engine():
    xml = table_xml('hitPolicy="FIRST"', [("? in ('a', 'b')", "True"), ("", "False")])
    model, _ = read_model(etree.fromstring(xml.encode()), "t.dmn")
    seen = []

    def python(text, extra):
        seen.append(text)
        return eval(text, {}, {"score": "a", **extra})  # noqa: S307 (the test stands in for the restricted engine)

    assert Decisions([model]).outputs("grade", {"score": "a"}, python) == {"grade": True}
    assert seen[1] == "dmninputexpr in ('a', 'b')"


def test_required_decisions_that_go_round_in_a_circle_are_an_error():
    xml = f"""<definitions xmlns="{DMN15}" id="d" name="t" namespace="urn:t">
      <decision id="a" name="A"><informationRequirement><requiredDecision href="#b"/></informationRequirement>
        <literalExpression><text>B + 1</text></literalExpression></decision>
      <decision id="b" name="B"><informationRequirement><requiredDecision href="#a"/></informationRequirement>
        <literalExpression><text>A + 1</text></literalExpression></decision></definitions>"""
    model, _ = read_model(etree.fromstring(xml.encode()), "t.dmn")
    with pytest.raises(DecisionError, match="circle"):
        Decisions([model]).evaluate("a", {})


BOXED = f"""<definitions xmlns="{DMN15}" id="d" name="t" namespace="urn:t">
  <businessKnowledgeModel id="b_fee" name="Fee">
    <encapsulatedLogic><formalParameter name="amount"/><formalParameter name="rate"/>
      <literalExpression><text>amount * rate</text></literalExpression></encapsulatedLogic>
  </businessKnowledgeModel>
  <decision id="quote" name="Quote">
    <knowledgeRequirement><requiredKnowledge href="#b_fee"/></knowledgeRequirement>
    <context>
      <contextEntry><variable name="Base Fee"/>
        <invocation><literalExpression><text>Fee</text></literalExpression>
          <binding><parameter name="amount"/><literalExpression><text>Amount</text></literalExpression></binding>
          <binding><parameter name="rate"/><literalExpression><text>0.02</text></literalExpression></binding>
        </invocation></contextEntry>
      <contextEntry><variable name="Bands"/>
        <relation><column name="up to"/><column name="label"/>
          <row><literalExpression><text>1000</text></literalExpression><literalExpression><text>"small"</text></literalExpression></row>
          <row><literalExpression><text>100000</text></literalExpression><literalExpression><text>"large"</text></literalExpression></row>
        </relation></contextEntry>
      <contextEntry><variable name="Extras"/>
        <list><literalExpression><text>5</text></literalExpression>
          <literalExpression><text>Base Fee</text></literalExpression></list>
      </contextEntry>
      <contextEntry>
        <conditional>
          <if><literalExpression><text>Amount &gt; Bands[1].up to</text></literalExpression></if>
          <then><literalExpression><text>{{band: Bands[2].label, fee: sum(Extras)}}</text></literalExpression></then>
          <else><literalExpression><text>{{band: Bands[1].label, fee: Base Fee}}</text></literalExpression></else>
        </conditional>
      </contextEntry>
    </context>
  </decision>
</definitions>"""


@pytest.mark.parametrize(
    ("amount", "expected"), [(500, {"band": "small", "fee": 10}), (5000, {"band": "large", "fee": 105})]
)
def test_boxed_context_invocation_relation_list_and_conditional(amount, expected):
    model, findings = read_model(etree.fromstring(BOXED.encode()), "t.dmn")
    assert findings == []
    assert Decisions([model]).outputs("quote", {"Amount": amount}) == {"Quote": expected}


def test_cells_inside_boxed_expressions_are_checked():
    broken = BOXED.replace("<text>0.02</text>", "<text>0.02 +</text>")
    [finding] = check_dmn("t.dmn", etree.fromstring(broken.encode()))
    assert "decision 'Quote'" in finding["message"] and "0.02 +" in finding["message"]


def test_values_that_do_not_conform_to_their_type_become_null():
    xml = f"""<definitions xmlns="{DMN15}" id="d" name="t" namespace="urn:t">
      <itemDefinition name="tStatus"><typeRef>string</typeRef>
        <allowedValues><text>"EMPLOYED", "STUDENT"</text></allowedValues></itemDefinition>
      <inputData id="i_status" name="Status"><variable name="Status" typeRef="tStatus"/></inputData>
      <decision id="says" name="Says"><variable name="Says" typeRef="string"/>
        <informationRequirement><requiredInput href="#i_status"/></informationRequirement>
        <literalExpression><text>"You are " + Status</text></literalExpression></decision>
      <decision id="count" name="Count"><variable name="Count" typeRef="number"/>
        <literalExpression><text>"not a number"</text></literalExpression></decision></definitions>"""
    decisions = Decisions([read_model(etree.fromstring(xml.encode()), "t.dmn")[0]])
    assert decisions.evaluate("says", {"Status": "STUDENT"}) == "You are STUDENT"
    assert decisions.evaluate("says", {"Status": "RETIRED"}) is None
    assert decisions.evaluate("count", {}) is None
