"""Expression languages: Python (Waypoint's own), FEEL (Camunda 8, DMN) and JUEL (Camunda 7).

The language of a condition, completion condition, loop cardinality or timer is read from its
text first (`=...` is FEEL as Camunda 8 writes it; `${...}` and `#{...}` are JUEL), then from the
`language` attribute of the expression, then from the file's `expressionLanguage` (BPMN's
default there, XPath, is how tools leave it unset, and means Python here). The check refuses any
other language by name; before SpiffWorkflow parses a file, JUEL is translated to Python
(engine/parsing/juel.py) and FEEL is marked (`FEEL_MARK`) so the script engine hands it to engine/feel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine import feel
from engine.parsing.juel import JuelError, to_python
from engine.scripting import FEEL_MARK, ScriptRejected, check_source

PYTHON, FEEL, JUEL = "Python", "FEEL", "JUEL"
SPOKEN = (PYTHON, FEEL, JUEL)
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
EXPRESSIONS = (
    "//bpmn:conditionExpression | //bpmn:completionCondition | //bpmn:loopCardinality | //bpmn:timerEventDefinition/*"
)
XPATH = "http://www.w3.org/1999/XPath"


def _named(language: str) -> str:
    lowered = language.lower()
    if "feel" in lowered:
        return FEEL
    if "juel" in lowered or lowered.rstrip("/").endswith(("/el", "javaee/el")) or lowered == "el":
        return JUEL
    if "python" in lowered:
        return PYTHON
    return language


def language_of(node: Any) -> str:
    """PYTHON, FEEL, JUEL, or the language an expression declares when Waypoint does not speak it."""
    text = (node.text or "").strip()
    if text.startswith("="):
        return FEEL
    if text.startswith(("${", "#{")):
        return JUEL
    if node.get("language"):
        return _named(node.get("language"))
    declared = node.getroottree().getroot().get("expressionLanguage") or ""
    return PYTHON if declared in ("", XPATH) else _named(declared)


def for_library(node: Any) -> str | None:
    """The text SpiffWorkflow gets for an expression node (None: unchanged)."""
    text = (node.text or "").strip()
    language = language_of(node)
    if language == JUEL:
        return to_python(text)
    if language == FEEL:
        return FEEL_MARK + text.removeprefix("=")
    return None


def translate_expressions(root: Any) -> list[str]:
    """Rewrite FEEL and JUEL expressions of BPMN tree `root` in place for the library."""
    done = []
    for node in root.xpath(EXPRESSIONS, namespaces=NS):
        try:
            text = for_library(node)
        except JuelError:
            continue  # the check reports it; the library then refuses the untranslated text
        if text is not None:
            node.text = text
            done.append(f"line {node.sourceline}: {language_of(node)} expression")
    return done


def check_languages(path: str, root: Any, names: set[str], finding: Callable[[str, Any, str], dict]) -> list[dict]:
    """Findings for expressions not in a language Waypoint speaks, or not valid in their own."""
    out = []
    for node in root.xpath(EXPRESSIONS, namespaces=NS):
        text = (node.text or "").strip()
        language = language_of(node)
        try:
            if language == JUEL:
                check_source(to_python(text), "eval", names)
            elif language == FEEL:
                feel.check_expression(text.removeprefix("="))
            elif language != PYTHON:
                message = f"this expression is in {language}: Waypoint runs {', '.join(SPOKEN)} expressions"
                out.append(finding(path, node, message))
        except (JuelError, SyntaxError, ScriptRejected, feel.FeelSyntaxError) as exc:
            out.append(finding(path, node, f"{language} expression '{text[:60]}' cannot run: {exc}"))
    return out
