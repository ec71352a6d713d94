"""The start form helps before submitting: who will approve (the route tables' answer on the form as
it stands), money shown as money with a total, in both languages (issue 18 items 6 and 12)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.models import ProcessInstance
from tests.conftest import FIXTURES
from tests.web.test_requests import CONFERENCE_FORM, PDF

ROUTE = "/requests/new/conference_attendance/route"
#: the $5,600 sponsored trip of the walk: supervisor, finance, ethics and the director
SPONSORED = dict(
    CONFERENCE_FORM,
    **{
        "costs.registration": "950",
        "costs.airfare": "2400",
        "costs.lodging": "1500",
        "costs.per_diem": "600",
        "costs.other": "150",
        "funding_source": "event_sponsor",
    },
)


def test_route_preview_names_the_manager_and_the_queues(as_user):
    jdoe = as_user("jdoe")
    found = jdoe.post(ROUTE, SPONSORED).get_json()
    assert found["complete"] is True
    assert [a["who"] for a in found["approvers"]] == ["Marc Smith", "Finance", "Ethics", "Senior management"]
    assert found["text"].startswith("Approvals: Marc Smith (Supervisor review) → Finance (Confirm funds)")
    assert found["reason"] == "Cost $5,000 or more; sponsored hospitality"


def test_route_preview_follows_costs_and_funding(as_user):
    jdoe = as_user("jdoe")
    small = jdoe.post(ROUTE, dict(CONFERENCE_FORM, funding_source="own_unit")).get_json()
    assert [a["who"] for a in small["approvers"]] == ["Marc Smith", "Finance"]
    assert small["reason"] == "Standard route"
    four = jdoe.post(ROUTE, dict(CONFERENCE_FORM, members_attending="4")).get_json()
    assert [a["who"] for a in four["approvers"]] == ["Marc Smith", "Finance", "Senior management"]


def test_route_preview_in_french(as_user):
    jdoe = as_user("jdoe")
    jdoe.post("/language", {"lang": "fr", "next": "/inbox"})
    found = jdoe.post(ROUTE, SPONSORED).get_json()
    assert [a["who"] for a in found["approvers"]] == ["Marc Smith", "Finances", "Éthique", "Haute direction"]
    assert "Marc Smith (Examen par le superviseur)" in found["text"] and found["text"].startswith("Approbations")
    assert found["reason"] == "Coût de 5 000 $ ou plus ; hospitalité commanditée"


def test_route_preview_of_a_half_filled_form_says_what_it_waits_for(as_user):
    jdoe = as_user("jdoe")
    found = jdoe.post(ROUTE, {"event_name": "Interpol"}).get_json()
    assert found["complete"] is False and found["approvers"] == []
    assert "costs" in found["text"]


def test_route_preview_needs_the_csrf_token_and_a_startable_process(as_user):
    jdoe = as_user("jdoe")
    assert jdoe.post(ROUTE, SPONSORED, csrf=False).status_code == 400
    assert jdoe.post("/requests/new/no_such_process/route", SPONSORED).status_code == 404


def test_start_page_has_the_preview_region(as_user):
    page = as_user("jdoe").get("/requests/new/conference_attendance").text
    assert f'data-route-url="{ROUTE}"' in page and 'id="route-preview-text" aria-live="polite"' in page


def test_amounts_come_back_as_money_with_a_total(as_user):
    jdoe = as_user("jdoe")
    page = jdoe.post("/requests/new/conference_attendance", dict(SPONSORED, event_name="")).text
    assert 'value="950.00"' in page and 'value="2400.00"' in page and '950.0"' not in page
    assert 'aria-live="polite">$5,600.00</output>' in page
    jdoe.post("/language", {"lang": "fr", "next": "/inbox"})
    french = jdoe.post("/requests/new/conference_attendance", dict(SPONSORED, event_name="")).text
    assert 'value="950,00"' in french
    assert "5\u00a0600,00\u00a0$</output>" in french


def _require_a_file(app, tmp_path: Path) -> None:
    """small_approval, version 2: its start form needs one file, called a quote."""
    folder = tmp_path / "small"
    shutil.copytree(FIXTURES / "small", folder)
    schema_path = folder / "forms" / "request.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["x-attachments"] = {"required": 1, "title": "Quote"}  # an English-only set: no x-fr anywhere
    schema_path.write_text(json.dumps(schema))
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        engine.deploy(s, [folder])


def _count(app) -> int:
    db = app.extensions["waypoint.db"]
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(ProcessInstance)) or 0


def test_a_required_file_is_asked_for_with_the_form_kept(app, as_user, tmp_path):
    _require_a_file(app, tmp_path)
    jdoe = as_user("jdoe")
    form = jdoe.get("/requests/new/small_approval").text
    assert 'enctype="multipart/form-data"' in form and "Quote" in form and 'name="attachments"' in form
    missing = jdoe.post("/requests/new/small_approval", {"title": "Chairs", "amount": "950"})
    assert missing.status_code == 400 and _count(app) == 0
    assert "attach at least 1 file (PDF, PNG or JPEG)" in missing.text and 'id="f-attachments-error"' in missing.text
    assert 'value="Chairs"' in missing.text and 'value="950"' in missing.text  # nothing typed is lost
    wrong = jdoe.post(
        "/requests/new/small_approval",
        {"title": "Chairs", "amount": "950", "attachments": (io.BytesIO(b"MZ\x90\x00"), "quote.exe")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 400 and "quote.exe is not a PDF, PNG or JPEG file" in wrong.text and _count(app) == 0
    jdoe.post("/language", {"lang": "fr", "next": "/inbox"})
    french = jdoe.post("/requests/new/small_approval", {"title": "Chairs", "amount": "950"})
    assert french.status_code == 400 and "Quote" in french.text
    assert "joindre au moins 1 fichier (PDF, PNG ou JPEG)" in french.text


def test_files_chosen_on_the_start_form_are_attached_to_the_request(app, as_user, tmp_path):
    _require_a_file(app, tmp_path)
    jdoe = as_user("jdoe")
    done = jdoe.post(
        "/requests/new/small_approval",
        {
            "title": "Chairs",
            "amount": "950",
            "attachments": [(io.BytesIO(PDF), "quote.pdf"), (io.BytesIO(PDF), "b.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 302, done.text[-1500:]
    page = jdoe.get(done.headers["Location"]).text
    assert "quote.pdf" in page and "b.pdf" in page


def test_conference_form_offers_its_agenda_without_requiring_it(as_user):
    page = as_user("jdoe").get("/requests/new/conference_attendance").text
    assert "Agenda or invitation" in page and 'name="attachments"' in page
    done = as_user("jdoe").post(
        "/requests/new/conference_attendance",
        dict(CONFERENCE_FORM, attachments=(io.BytesIO(PDF), "agenda.pdf")),
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    assert "agenda.pdf" in as_user("jdoe").get(done.headers["Location"]).text


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the CLI's own connections: one database is enough
def test_start_attaches_the_files_its_start_form_requires(app, monkeypatch, tmp_path: Path):
    """`waypoint start --attach FILE`: without the file the start form requires, nothing starts."""
    from click.testing import CliRunner

    from cli import main
    from engine.attachments import list_for

    _require_a_file(app, tmp_path)
    settings = app.config["WAYPOINT_SETTINGS"]
    monkeypatch.setenv("WAYPOINT_DATABASE_URL", app.extensions["waypoint.db"].url)
    monkeypatch.setenv("WAYPOINT_ATTACHMENTS_DIR", str(settings.attachments_dir))
    start = ["start", "small_approval", "--as", "jdoe", "--data", '{"title": "Chairs", "amount": 950}']
    refused = CliRunner().invoke(main, start)
    assert refused.exit_code == 1 and "attach at least 1 file" in refused.stderr and _count(app) == 0
    quote = tmp_path / "quote.pdf"
    quote.write_bytes(PDF)
    done = CliRunner().invoke(main, [*start, "--attach", str(quote), "--json"])
    assert done.exit_code == 0, done.output
    instance_id = json.loads(done.stdout)["instance_id"]
    with app.extensions["waypoint.db"].reading() as s:
        [stored] = list_for(s, instance_id)
        assert (stored.filename, stored.size) == ("quote.pdf", len(PDF))
