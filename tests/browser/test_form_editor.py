"""The designer edits Camunda forms visually with form-js's editor (npm @bpmn-io/form-js), in Chromium:
add a Camunda form to a draft, open it in the editor, add a required field, and the draft keeps
form-js JSON that Waypoint converts to the JSON Schema it renders and validates."""

from __future__ import annotations

import json
import re

import pytest

from engine.demo.people import DEMO_PASSWORD
from engine.formjs import convert
from tests.browser.conftest import ROOT, live_server

pytestmark = pytest.mark.browser
KEY = "conference_attendance"
FORM = "forms/extra_review.form"


studio = live_server("formjs", [ROOT / "bpmn"], deployed_by="admin")


def test_a_camunda_form_is_edited_visually_and_saved_as_form_js_json(chromium, studio):  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-CA")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{studio.url}/login")
    page.fill("#username", "ddesigner")
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{studio.url}/inbox")
    page.goto(f"{studio.url}/designer/")
    page.click(f"#edit-{KEY}")
    page.wait_for_url(re.compile(r"/designer/drafts/\d+$"))
    draft = page.url.rsplit("/", 1)[-1]

    page.click("text=Add a file")
    page.fill("#new-form-name", "extra_review")
    page.select_option("#new-form-kind", "formjs")
    page.click("form[action$='/forms'] button[type=submit]")
    page.click(f"[data-file='{FORM}']")
    page.wait_for_selector(f"[data-formjs='{FORM}'] .fjs-editor-container")
    assert page.locator(f"[data-formjs='{FORM}'] .fjs-palette-container").count() == 1  # the visual editor

    page.evaluate(
        """(path) => {
            const editor = document.querySelector(`[data-formjs="${path}"]`).__formEditor;
            const root = editor._getState().schema;
            const field = {type: 'textfield', key: 'reason', label: 'Reason',
                           validate: {required: true, maxLength: 200}};
            editor.get('modeling').addFormField(field, root, 0);
        }""",
        FORM,
    )
    page.wait_for_selector(f"[data-formjs='{FORM}'] .fjs-form-field-label:has-text('Reason')")
    saved: dict = {}
    for _ in range(40):  # the draft saves ~1 s after the last change
        page.wait_for_timeout(250)
        response = page.request.get(f"{studio.url}/designer/drafts/{draft}/files/{FORM}")
        saved = json.loads(response.text())
        if any(c.get("key") == "reason" for c in saved.get("components", [])):
            break
    [field] = [c for c in saved["components"] if c.get("key") == "reason"]
    assert field["type"] == "textfield" and field["validate"]["required"] is True
    schema = convert(saved)
    assert schema["required"] == ["reason"] and schema["properties"]["reason"]["maxLength"] == 200
    context.close()
    assert errors == []
