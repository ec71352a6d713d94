"""The process designer in Chromium, on a server of its own (new versions deployed here must not
change the processes the other browser tests walk through).

1. Open the modeler on the conference process, change a due duration in the properties panel,
   check, deploy, and see version N+1 in the library.
2. The issue's "done when": lower the director threshold in the DMN table, check, simulate a
   request that now needs director approval (path shown on the diagram), deploy, and move the
   waiting requests onto the new version with the changed table applied again.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from engine.demo.people import DEMO_PASSWORD
from engine.models import ProcessInstance
from tests.browser.conftest import ROOT, live_server, screenshot

pytestmark = pytest.mark.browser
KEY = "conference_attendance"
SCENARIO = "$3,900 now needs director approval"


studio = live_server("studio", [ROOT / "bpmn"], deployed_by="admin")


@pytest.fixture
def designer_page(chromium, studio):  # type: ignore[no-untyped-def]
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
    yield page
    context.close()
    assert errors == []


def latest_version(page, studio) -> int:  # type: ignore[no-untyped-def]
    page.goto(f"{studio.url}/designer/")
    return int(page.locator(f"table[data-key={KEY}] tbody tr").first.get_attribute("data-version"))


def open_draft(page, studio) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{studio.url}/designer/")
    page.click(f"#edit-{KEY}")
    page.wait_for_url(re.compile(r"/designer/drafts/\d+$"))
    page.wait_for_selector(f"[data-canvas-for='{KEY}.bpmn'][data-ready=true]")


def check_passes(page) -> None:  # type: ignore[no-untyped-def]
    page.click("#run-check")
    page.wait_for_selector("#findings[data-count]")
    assert page.get_attribute("#findings", "data-count") == "0", page.inner_text("#findings")


def test_change_a_due_duration_check_deploy_see_the_next_version(designer_page, studio):
    page = designer_page
    before = latest_version(page, studio)
    open_draft(page, studio)
    page.click("[data-element-id='UserTask_supervisor_review']")
    assert page.input_value("#prop-dueIn") == "P3D"
    assert "role supervisor" in page.inner_text("#prop-lane")
    page.fill("#prop-dueIn", "four days")  # not a duration: the check names and highlights the task
    page.press("#prop-dueIn", "Tab")
    page.click("#run-check")
    page.wait_for_selector("#findings[data-count='1']")
    assert "UserTask_supervisor_review (Supervisor review)" in page.inner_text("#findings")
    page.wait_for_selector("[data-element-id='UserTask_supervisor_review'].wp-finding")
    page.fill("#prop-dueIn", "P4D")
    page.press("#prop-dueIn", "Tab")
    page.wait_for_selector("[data-dirty-for='conference_attendance.bpmn']", state="hidden")  # saved
    check_passes(page)
    assert page.locator(".wp-finding").count() == 0
    screenshot(page, "designer-workspace")

    page.click("[data-file='forms/conference_senior_approval.schema.json']")  # a form, with its live preview
    page.wait_for_selector("#form-preview [data-preview-ok]")
    schema = json.loads(page.input_value("#json-editor"))
    schema["properties"]["senior_decision"]["title"] = "Director's decision"
    page.fill("#json-editor", json.dumps(schema, indent=2))
    page.locator("#form-preview", has_text="Director's decision").wait_for()
    page.click("#deploy")
    page.wait_for_url(re.compile(r"/designer/#process-conference_attendance$"))
    assert f"Version {before + 1} of {KEY} deployed." in page.inner_text(".flashes")
    row = page.locator(f"table[data-key={KEY}] tbody tr").first
    assert row.get_attribute("data-version") == str(before + 1) and "ddesigner" in row.inner_text()
    with studio.db.reading() as s:
        parsed = studio.engine.specs.get(s, _definition(s, before + 1))
    assert parsed.spec.task_specs["UserTask_supervisor_review"].extensions["properties"]["dueIn"] == "P4D"

    page.goto(f"{studio.url}/designer/processes/{KEY}/diff")  # what changed, in words and on the diagram
    assert "dueIn: 'P3D' → 'P4D'" in page.inner_text("#diff-list")
    page.wait_for_selector(".wp-diagram[data-ready=true] [data-element-id='UserTask_supervisor_review'].wp-changed")


def _definition(session, version):  # type: ignore[no-untyped-def]
    from engine.versions import find_definition

    return find_definition(session, KEY, version)


def test_lower_the_threshold_simulate_deploy_and_migrate_waiting_requests(designer_page, studio):
    page = designer_page
    request = json.loads((ROOT / "bpmn" / "scenarios" / f"{KEY}.json").read_text())["start"]["data"]
    request["costs"] = {"registration": 500, "airfare": 1800, "lodging": 1200, "per_diem": 400, "other": 0}
    with studio.db.transaction() as s:
        waiting = [studio.engine.start(s, KEY, request, "jdoe").id for _ in range(2)]
    before = latest_version(page, studio)
    open_draft(page, studio)

    # The director threshold: $5,000 → $3,000, in the decision table.
    page.click("[data-file='rules/conference_approval_route.dmn']")
    page.wait_for_selector("[data-dmn-for='rules/conference_approval_route.dmn'][data-ready=true]")
    for rule in (3, 6, 9, 12):
        cell = page.locator(f"td[data-element-id='InputEntry_conference_approval_route_{rule}_1'] .content-editable")
        assert cell.inner_text().strip() == ">= 5000"
        cell.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(">= 3000")

    # A scenario for a request that now needs director approval.
    page.click(f"[data-file='scenarios/{KEY}.json']")
    page.wait_for_selector("#scenario-list li")
    doc = json.loads(page.input_value("#json-editor"))
    doc["scenarios"] = [s for s in doc["scenarios"] if not s["name"].startswith("$3,900")] + [
        {
            "name": SCENARIO,
            "start": {"data": {"costs": request["costs"]}},
            "steps": [
                {"complete": "UserTask_supervisor_review", "data": {"supervisor_decision": "approve"}},
                {"complete": "UserTask_finance_review", "data": {"finance_decision": "confirm", "cost_centre": "CC-1"}},
            ],
            "expect": {"open": ["UserTask_senior_approval"], "data": {"needs_senior_approval": True}},
        }
    ]
    page.fill("#json-editor", json.dumps(doc, indent=2))
    check_passes(page)

    page.click(f"#scenario-list button[data-scenario='{SCENARIO}']")
    result = page.locator(f".sim-result[data-scenario='{SCENARIO}']")
    result.wait_for()
    assert result.get_attribute("class") == "sim-result pass", result.inner_text()
    assert "Director approval (waiting)" in result.locator(".sim-path").inner_text()
    page.wait_for_selector("[data-element-id='UserTask_senior_approval'].wp-sim-current")  # on the diagram
    assert page.locator("[data-element-id='Flow_senior_yes'].wp-sim-done").count() >= 1
    screenshot(page, "designer-simulation")

    page.fill("#deploy-note", "Director approval from $3,000")
    page.click("#deploy")
    page.wait_for_url(re.compile(r"/designer/#process-conference_attendance$"))
    version = before + 1
    assert f"Version {version} of {KEY} deployed." in page.inner_text(".flashes")

    page.click(f"#migrate-{KEY}")
    page.check("#reapply")
    page.click("#replan")
    for instance_id in waiting:
        row = page.locator(f"#migration-plan tr[data-instance='{instance_id}']")
        assert "needs_senior_approval: False → True" in row.inner_text()
        assert page.is_checked(f"#move-{instance_id}")
    screenshot(page, "designer-migration")
    page.click("#migrate")
    page.wait_for_selector("#moved")
    moved = page.inner_text("#moved")
    assert all(f"#{i}" in moved for i in waiting) and "None." in page.inner_text("#left")
    with studio.db.reading() as s:
        for instance_id in waiting:
            instance = s.get(ProcessInstance, instance_id)
            assert (instance.definition.version, instance.data["needs_senior_approval"]) == (version, True)
        assert s.scalars(select(ProcessInstance).where(ProcessInstance.status != "running")).all() == []


def test_the_palette_sits_beside_a_tall_wide_diagram_not_over_it(designer_page, studio):
    """Issue 18 item 19: the canvas uses the page's height and width, and bpmn-js's palette sits
    in a gutter beside the diagram: no shape of the diagram (pool and lanes included) lies under it."""
    page = designer_page
    open_draft(page, studio)
    canvas = page.locator(f"[data-canvas-for='{KEY}.bpmn']")
    sizes = canvas.evaluate(
        """canvas => {
            const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
            return {
                canvas: box(canvas),
                palette: box(canvas.querySelector('.djs-palette')),
                drawing: box(canvas.querySelector('svg')),
                shapes: Array.from(canvas.querySelectorAll('.djs-shape[data-element-id]'))
                    .map(e => [e.getAttribute('data-element-id'), box(e)]),
            };
        }"""
    )
    left, top, right, bottom = sizes["canvas"]
    assert bottom - top >= 640 and right - left >= 800, sizes["canvas"]  # at 1440 × 900
    p_left, p_top, p_right, p_bottom = sizes["palette"]
    assert p_right <= sizes["drawing"][0] + 1, (sizes["palette"], sizes["drawing"])  # beside the drawing
    assert len(sizes["shapes"]) > 10
    under = [
        element
        for element, (s_left, s_top, s_right, s_bottom) in sizes["shapes"]
        if s_left < p_right and p_left < s_right and s_top < p_bottom and p_top < s_bottom
    ]
    assert under == []
    screenshot(page, "designer-palette-beside")
    page.click("[data-element-id='UserTask_supervisor_review']")  # the approval and subject properties
    assert page.input_value("#prop-approval") == "" and page.input_value("#prop-subject") == ""
