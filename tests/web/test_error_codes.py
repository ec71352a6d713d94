"""Engine errors in French by code: every code of the one catalogue has its French, with its
parameters; a French page shows the French of an error raised by a real action; no module of
web/ matches engine wording."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import refresh

from engine.error_catalogue import MESSAGES
from engine.errors import FieldError, TaskAlreadyCompleted, ValidationFailed, WaypointError
from tests.web.conftest import task_ids
from tests.web.test_i18n import CONFERENCE

ROOT = Path(__file__).resolve().parent.parent.parent
FRENCH = ROOT / "web" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
#: Codes whose text is a parameter alone: a validator of workflows/ words it (tested below).
WORDED_ELSEWHERE = {"rule"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _samples(code: str) -> dict[str, str]:
    """A distinct value per parameter of `code`, unlike any word of either language."""
    return {name: f"Qx{i}{name}Z" for i, name in enumerate(_PLACEHOLDER.findall(MESSAGES[code]))}


@pytest.fixture
def french(app):  # type: ignore[no-untyped-def]
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        refresh()
        yield


def test_the_catalogue_has_french_for_every_code():
    with FRENCH.open("rb") as f:
        catalogue = {m.id: m for m in read_po(f) if m.id}
    missing = [code for code, text in MESSAGES.items() if code not in WORDED_ELSEWHERE and not _french(catalogue, text)]
    assert missing == [], "add their French to messages.po (make messages): " + ", ".join(missing)


def _french(catalogue: dict, text: str) -> str:
    entry = catalogue.get(text)
    return "" if entry is None or entry.fuzzy else entry.string


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_every_code_renders_in_french_with_its_parameters(french):
    from web.errors import error_message

    problems = []
    for code in sorted(set(MESSAGES) - WORDED_ELSEWHERE):
        params = _samples(code)
        error = WaypointError(code, **params)
        shown = error_message(error)
        if shown == str(error):
            problems.append(f"{code}: the French is the English ({shown!r})")
        problems += [f"{code}: {value} missing from {shown!r}" for value in params.values() if value not in shown]
    assert problems == []


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_names_in_parameters_are_shown_in_french(french):
    from web.errors import error_message, field_messages

    needs_role = WaypointError("task_needs_role", task="Confirm funds", role="passport_officer")
    assert (
        error_message(needs_role)
        == "la tâche «\u00a0Confirmer les fonds\u00a0» exige le rôle «\u00a0Agent des passeports\u00a0»"
    )
    done = TaskAlreadyCompleted.closed("Supervisor review", "completed", "Marc Smith")
    assert error_message(done) == "la tâche «\u00a0Examen par le superviseur\u00a0» a déjà été traitée par Marc Smith"
    stopped = WaypointError("request_not_running", id=7, status="cancelled")
    assert error_message(stopped) == "la demande nº\u00a07 est annulée\u00a0: elle n'est plus en cours"
    refused = ValidationFailed(
        "form_has_errors",
        [FieldError("comment", "rule", rule="Explain the rejection."), FieldError("total", "below_minimum", limit=0)],
    )
    assert field_messages(refused) == {"comment": "Expliquez le rejet.", "total": "doit être d'au moins 0"}
    assert error_message(refused) == (
        "le formulaire contient des erreurs\u00a0: "
        "comment\u00a0: Expliquez le rejet.; total\u00a0: doit être d'au moins 0"
    )
    assert field_messages(WaypointError("own_request")) == {
        "": "vous avez soumis cette demande\u00a0: vous ne pouvez pas l'approuver ni l'examiner vous-même"
    }


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_english_pages_show_the_engine_sentence_with_labels(app):
    from web.errors import error_message

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        refresh()
        error = WaypointError("task_needs_role", task="Confirm funds", role="passport_officer")
        assert str(error) == "task 'Confirm funds' needs the role 'passport_officer'"
        assert error_message(error) == "task 'Confirm funds' needs the role 'Passport officer'"  # the role's label


def test_jsonschema_problems_get_codes_not_sentences():
    from engine.forms import validate_submission

    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 5},
            "count": {"type": "integer", "minimum": 1},
            "kind": {"enum": ["a", "b"]},
            "on": {"type": "string", "format": "date"},
        },
    }
    with pytest.raises(ValidationFailed) as refused:
        validate_submission(schema, {"name": "toolong", "count": 0, "kind": "c", "on": "soon", "x": 1})
    codes = {e.path: (e.code, e.params) for e in refused.value.errors}
    assert codes == {
        "x": ("unknown_field", {}),
        "name": ("too_long", {"limit": 5}),
        "count": ("below_minimum", {"limit": 1}),
        "kind": ("not_an_option", {}),
        "on": ("invalid_date", {}),
    }
    with pytest.raises(ValidationFailed) as empty:
        validate_submission(schema, {"count": "two"})
    assert {e.path: e.code for e in empty.value.errors} == {"name": "required", "count": "not_a_whole_number"}


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_french_page_shows_the_french_of_an_engine_error(app, as_user):
    """cgagnon (French) approves a request, then submits the same task again from a stale page:
    the conflict page says in French who completed it (the task's name in French too); so do the
    flashes of a claim of that task and of a withdrawal she may not make."""
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        instance_id = engine.start(s, "conference_attendance", CONFERENCE, "lokafor").id
    cgagnon = as_user("cgagnon")
    [task_id] = task_ids(cgagnon.get("/inbox").text)
    assert cgagnon.post(f"/tasks/{task_id}", {"supervisor_decision": "approve"}).status_code == 302
    again = cgagnon.post(f"/tasks/{task_id}", {"supervisor_decision": "approve"})
    assert again.status_code == 409
    assert "la tâche «\u00a0Examen par le superviseur\u00a0» a déjà été traitée par Chantal Gagnon" in again.text
    assert "was already completed" not in again.text
    claimed = cgagnon.post(f"/tasks/{task_id}/claim", follow_redirects=True)
    assert "la tâche «\u00a0Examen par le superviseur\u00a0» a déjà été traitée par Chantal Gagnon" in claimed.text
    withdrawn = cgagnon.post(f"/requests/{instance_id}/cancel", {"reason": "x"}, follow_redirects=True)
    assert "seule la personne qui a soumis cette demande (ou un administrateur) peut l&#39;annuler" in withdrawn.text


def _web_modules() -> list[Path]:
    return sorted((ROOT / "web").rglob("*.py"))


def test_no_web_module_matches_engine_wording():
    """The web translates engine errors by code: it never restates an engine sentence (to match
    it, or to translate it), and web/errors.py has no regular expressions at all."""
    errors_module = ast.parse((ROOT / "web" / "errors.py").read_text())
    imported = {a.name for n in ast.walk(errors_module) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names}
    assert "re" not in imported and not any(
        isinstance(n, ast.ImportFrom) and n.module == "re" for n in ast.walk(errors_module)
    )
    sentences = {text for text in MESSAGES.values() if len(_PLACEHOLDER.sub("", text)) > 20}
    restated = []
    for path in _web_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in sentences:
                restated.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert restated == []


def test_pages_flash_engine_errors_in_the_page_language():
    """A flash is text in the session: views put `error_message(exc)` there, never `str(exc)`."""
    found = []
    for path in _web_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "flash" and node.args:
                shown = node.args[0]
                if isinstance(shown, ast.Call) and getattr(shown.func, "id", None) == "str":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_patterns_ticks_and_choices_say_what_to_enter():
    """No regular expression, `True was expected` or `not valid under any of the given schemas`
    reaches a person: the usual patterns are said in words, a required tick and a choice too."""
    from engine.forms import validate_submission

    schema = {
        "type": "object",
        "properties": {
            "number": {"type": "string", "pattern": "^[A-Z0-9]{6,20}$"},
            "centre": {"type": "string", "pattern": "^[A-Z0-9-]{3,20}$"},
            "comment": {"type": "string", "pattern": "\\S"},
            "signed": {"type": "boolean", "const": True},
            "pick": {"type": "string", "oneOf": [{"const": "approve"}, {"const": "reject"}]},
        },
    }
    bad = {"number": "oc771234x y", "centre": "CC 4410", "comment": "  ", "signed": False, "pick": "maybe"}
    with pytest.raises(ValidationFailed) as refused:
        validate_submission(schema, bad)
    codes = {e.path: (e.code, e.params) for e in refused.value.errors}
    assert codes == {
        "number": ("pattern_capitals_digits", {"min": 6, "max": 20}),
        "centre": ("pattern_capitals_digits_hyphens", {"min": 3, "max": 20}),
        "comment": ("required", {}),
        "signed": ("must_be_ticked", {}),
        "pick": ("not_an_option", {}),
    }
    text = str(refused.value)
    assert "enter 6 to 20 capital letters and digits, without spaces" in text and "tick this box" in text
    assert "^[" not in text and "was expected" not in text and "given schemas" not in text


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_start_form_says_the_passport_number_format_in_both_languages(as_user):
    form = {"traveller_name": "Jane Doe", "current_passport.held": "on", "current_passport.number": "oc771234"}
    english = as_user("jdoe").post("/requests/new/passport_visa", form).text
    assert "enter 6 to 20 capital letters and digits, without spaces" in english
    french = as_user("rmartin").post("/requests/new/passport_visa", form).text
    assert "entrez de 6 à 20 lettres majuscules et chiffres, sans espace" in french


def test_the_compiled_catalogue_is_current():
    """Pages read the compiled catalogue, which `make install` builds from messages.po."""
    compiled = FRENCH.with_suffix(".mo")
    assert compiled.exists(), "run `make install` (it compiles the French catalogue)"
    assert compiled.stat().st_mtime >= FRENCH.stat().st_mtime, "messages.po changed: run `make install`"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_pages_own_refusals_are_french_too(as_user):
    """What the web itself refuses (a number it cannot read, a NUL character) is worded in the
    page's language where it is refused, with no lookup of English text afterwards."""
    lokafor = as_user("lokafor")
    lokafor.post("/language", {"lang": "fr", "next": "/inbox"})
    refused = lokafor.post("/requests/new/conference_attendance", {"costs.registration": "douze"})
    assert refused.status_code == 400 and "entrez un nombre" in refused.text
    nul = lokafor.get("/inbox?q=a%00b")
    assert nul.status_code == 400 and "Le texte ne peut pas contenir de caractères NUL." in nul.text
