"""Both official languages: every template string is wrapped for translation, and the French
catalogue has every message the code and templates use (extracted in the test itself)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import Environment

from tests.workflows.test_forms import CONFERENCE as ENGLISH_CONFERENCE

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "web" / "templates"
FRENCH = ROOT / "web" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
#: Text that is the same in both languages (brand, language names shown in their own language).
INVARIANT = {"Waypoint", "English", "Français", "BPMN", "DMN", "JSON", "CSV", "API", "ID", "OK", "KB", "MB", "UTC"}
_WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’-]+")
_TEXT_ATTRS = {"aria-label", "placeholder", "title", "alt"}
_CODE_TAGS = {"script", "style", "code", "kbd", "pre", "samp"}
_ATTRIBUTE_SOURCE = re.compile(r'^(?=.*=")\s*(?:[a-z-]+(?:="[^"]*")?\s*)+$', re.S)  # a macro emitting attributes
_HOLE = "\x00"  # where a {{ ... }} or {% ... %} was


class _TextFinder(HTMLParser):
    """Collects human-readable text of a template with its Jinja parts cut out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag in _CODE_TAGS:
            self._skip += 1
        for name, value in attrs:
            if name in _TEXT_ATTRS and value:
                self._check(value)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in _CODE_TAGS:
            self._skip -= 1

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if not self._skip:
            self._check(data)

    def _check(self, text: str) -> None:
        if _ATTRIBUTE_SOURCE.match(text.replace(_HOLE, "")):
            return
        words = [w for w in _WORD.findall(text.replace(_HOLE, " ")) if w not in INVARIANT]
        if words:
            self.found.append((self.getpos()[0], text.replace(_HOLE, "…").strip()[:60]))


def _raw_text_problems(path: Path) -> list[str]:
    env = Environment(extensions=["jinja2.ext.i18n"])
    parts = []
    for _lineno, kind, value in env.lex(path.read_text()):
        if kind == "data":
            parts.append(value)
        elif kind in ("variable_begin", "block_begin", "comment_begin"):
            parts.append(_HOLE)
        elif "\n" in value:
            parts.append("\n" * value.count("\n"))  # keep line numbers
    finder = _TextFinder()
    finder.feed("".join(parts))
    return [f"{path.relative_to(ROOT)}:{line}: {text!r}" for line, text in finder.found]


def test_every_template_string_is_translatable():
    problems = [p for template in sorted(TEMPLATES.rglob("*.html")) for p in _raw_text_problems(template)]
    assert problems == [], "wrap these in {{ _('...') }}:\n" + "\n".join(problems)


def _messages() -> set[str]:
    method_map = [
        ("web/templates/**.html", "jinja2"),
        ("web/**.py", "python"),
        ("engine/**.py", "python"),
        ("workflows/**.py", "python"),
    ]
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map={"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None},
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return {m for m in found if m}


def test_french_catalogue_is_complete():
    if not FRENCH.exists():
        pytest.fail(f"missing {FRENCH.relative_to(ROOT)}")
    with FRENCH.open("rb") as f:
        catalogue = read_po(f)
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalogue if m.id}
    missing = sorted(m for m in _messages() if not translated.get(m))
    assert missing == [], f"{len(missing)} message(s) without French:\n" + "\n".join(missing[:80])


# --- beyond the catalogue: the French the pages, emails and checks actually show -----------------
CONFERENCE = {  # a valid request, its free text in French
    **ENGLISH_CONFERENCE,
    "event_name": "Assemblée générale d'Interpol",
    "purpose": "Présenter nos résultats.",
    "benefit": "Partenariats.",
}


def _outbox(app, **where):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from engine.models import OutboxMessage

    with app.extensions["waypoint.db"].reading() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list(s.scalars(query))


def test_a_french_speaking_approver_clears_her_queue_in_french(app, as_user, clock):
    """cgagnon (French) approves a conference request of lokafor, whose manager she is: the inbox,
    the task page, its validation message, the flash and the empty inbox, then her reminder email."""
    import re
    from datetime import timedelta

    from engine.worker.loop import Worker
    from tests.web.conftest import task_ids

    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        instance_id = engine.start(s, "conference_attendance", CONFERENCE, "lokafor").id
    cgagnon = as_user("cgagnon")
    inbox = cgagnon.get("/inbox")
    assert '<html lang="fr">' in inbox.text
    assert "Mes tâches" in inbox.text and "Examen par le superviseur" in inbox.text
    assert '<td data-label="Processus">Participation à une conférence</td>' in inbox.text
    assert '<td data-label="Étape">Examen par le superviseur</td>' in inbox.text
    [task_id] = task_ids(inbox.text)

    page = cgagnon.get(f"/tasks/{task_id}")
    assert "<title>Examen par le superviseur · #" in page.text
    assert "4\u00a0310,00\u00a0$" in page.text  # money the Canadian French way
    assert "Décision" in page.text or "décision" in page.text

    returned = cgagnon.post(f"/tasks/{task_id}", {"supervisor_decision": "return", "version": ""})
    assert returned.status_code == 400
    assert "Veuillez corriger les champs signalés." in returned.text
    assert re.search(
        r'id="f-supervisor_comment-error"><strong>Erreur\u00a0:</strong> ce champ est obligatoire', returned.text
    )

    done = cgagnon.post(f"/tasks/{task_id}", {"supervisor_decision": "approve"}, follow_redirects=True)
    assert f"Terminé\u00a0: «\u00a0Examen par le superviseur\u00a0» pour la demande nº\u00a0{instance_id}" in done.text
    assert task_ids(cgagnon.get("/inbox").text) == [] and "Rien ici." in cgagnon.get("/inbox").text

    # Her new-task email was in French; so is the reminder when a task of hers is overdue.
    [new_task] = _outbox(app, kind="new_task", task_id=task_id)
    assert "Examen par le superviseur" in new_task.subject + new_task.body_text
    with db.transaction() as s:
        second = engine.start(s, "conference_attendance", {**CONFERENCE, "city": "Genève"}, "lokafor").id
    clock.advance(timedelta(days=3, hours=1))  # the review is due after three days: a reminder
    Worker(db, engine).run_timers()  # what `waypoint worker` does (the email stays in the outbox)
    reminders = [m for m in _outbox(app, kind="reminder", instance_id=second) if m.recipient_name == "Chantal Gagnon"]
    assert reminders, "no reminder for the overdue task"
    assert "Examen par le superviseur" in reminders[0].subject + reminders[0].body_text
    assert "Supervisor review" not in reminders[0].body_text
    assert "Rappel" in reminders[0].subject or "rappel" in reminders[0].subject.lower()


def test_language_switch_and_accept_language(app, as_user, client):
    assert '<html lang="fr">' in client.get("/login", headers={"Accept-Language": "fr-CA,fr;q=0.9"}).text
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "en-CA"}).text
    jdoe = as_user("jdoe")
    assert "Boîte de réception" not in jdoe.get("/inbox").text
    jdoe.post("/language", {"lang": "fr", "next": "/inbox"})
    page = jdoe.get("/inbox")
    assert '<html lang="fr">' in page.text and "Passer au contenu principal" in page.text
    assert 'lang="en">English</button>' in page.text  # the switch names the other language in itself
    fresh = as_user("jdoe")  # the choice is jdoe's preference from now on
    assert "Boîte de réception" in fresh.get("/inbox").text
    fresh.post("/language", {"lang": "en", "next": "/inbox"})


def test_error_pages_and_engine_messages_in_french(app, as_user):
    rmartin = as_user("rmartin")
    missing = rmartin.get("/no-such-page")
    assert missing.status_code == 404 and "<title>Introuvable · Waypoint</title>" in missing.text
    assert "Il n&#39;y a rien à cette adresse" in missing.text
    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        from flask_babel import refresh

        from engine.errors import FieldError, TaskAlreadyClaimed, ValidationFailed, WaypointError
        from web.errors import error_message, ui_message

        refresh()
        assert error_message(WaypointError("own_request")).startswith("vous avez soumis cette demande")
        assert error_message(TaskAlreadyClaimed("task_claimed_by", who="Marc Smith", task="Confirm funds")) == (
            "Marc Smith travaille sur la tâche «\u00a0Confirmer les fonds\u00a0»"
        )
        refused = ValidationFailed("form_has_errors", [FieldError("comment", "rule", rule="Explain the rejection.")])
        assert ui_message(refused) == "le formulaire contient des erreurs\u00a0: comment\u00a0: Expliquez le rejet."
        assert ui_message("Déjà en français") == "Déjà en français"  # text (a flash) is shown as it is
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        from flask_babel import refresh

        refresh()
        assert ui_message(refused) == "the form has errors: comment: Explain the rejection."  # English: as raised


def test_every_validator_message_has_its_french():
    """The cross-field validators of workflows/ speak English; web/errors.py lists each of their
    messages for translation. A new message in workflows/ must be added there."""
    import ast

    from web.errors import VALIDATOR_MESSAGES

    found = set()
    for path in sorted((ROOT / "workflows").glob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef)
            and n.body
            and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and re.match(r"^[A-Z][^\n]* [^\n]*\.$", node.value)
            ):
                found.add(node.value)
    listed = {m._args[0] for m in VALIDATOR_MESSAGES}
    assert sorted(found - listed) == [], "add these to web/errors.py VALIDATOR_MESSAGES and the catalogue"


def test_role_catalogue_covers_every_role():
    from engine.people.users import KNOWN_ROLES
    from web.process_text import ROLE_NAMES

    assert set(KNOWN_ROLES) <= set(ROLE_NAMES)


def test_shipped_processes_are_bilingual_and_the_check_says_what_is_missing():
    import json

    from engine.bilingual import check_bilingual

    files = {
        str(p.relative_to(ROOT / "bpmn")): p.read_text()
        for p in (ROOT / "bpmn").rglob("*")
        if p.is_file() and p.suffix in (".bpmn", ".json")
    }
    assert check_bilingual(files) == []
    broken = dict(files)
    form = json.loads(broken["forms/conference_request.schema.json"])
    del form["properties"]["city"]["x-fr"]
    broken["forms/conference_request.schema.json"] = json.dumps(form)
    broken["conference_attendance.bpmn"] = broken["conference_attendance.bpmn"].replace(
        '<spiffworkflow:property name="name_fr" value="Examen par le superviseur" />', ""
    )
    messages = sorted(f["message"] for f in check_bilingual(broken))
    assert messages == [
        "/properties/city: title 'City' has no French (x-fr.title)",
        "user task has no 'name_fr' property (its French name)",
    ]


def test_french_process_names_come_from_the_bpmn_files(app):
    from flask_babel import refresh

    from web.process_text import process_name, role_name, task_name

    with app.test_request_context("/", headers={"Accept-Language": "fr"}):
        refresh()
        assert task_name("conference_attendance", "Confirm funds") == "Confirmer les fonds"
        assert task_name(None, "Host unit approval") == "Approbation de l'unité hôte"
        assert process_name("delegation_visit", "Foreign delegation visit") == "Visite d'une délégation étrangère"
        assert task_name("conference_attendance", "Rejected by finance") == "Rejetée par les finances"
        assert role_name("passport_officer") == role_name("Passport officer") == "Agent des passeports"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        refresh()
        assert task_name("conference_attendance", "Confirm funds") == "Confirm funds"


@pytest.mark.parametrize("value", ["1E100", "-1e300", "abc", None])
def test_money_and_numbers_show_what_they_cannot_format_as_it_was_given(app, value):
    """An amount a form let through but Babel cannot round (found by the hostile-forms test: a
    registration fee of 1E100 made the request's page fail) is shown as given, not a 500."""
    from web.i18n import money, number

    with app.test_request_context("/"):
        assert (money(value), number(value)) == (str(value), str(value))
        assert money("1800.5") == "$1,800.50"
