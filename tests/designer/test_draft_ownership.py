"""A draft is its designer's (issue 19 item 9, F15): another process designer can neither open,
edit, check, deploy nor discard it; its creator and admins can."""

from __future__ import annotations

import pytest

from engine.people.users import add_user

from .test_views import MAIN, new_draft, put


@pytest.fixture
def second_designer(designer_app, engine, as_user):
    with designer_app.extensions["waypoint.db"].transaction() as s:
        add_user(s, "odesigner", now=engine.clock.now(), roles=["process_designer"])
    return as_user("odesigner")


def test_another_designer_cannot_touch_a_draft(as_user, second_designer):
    owner = as_user("ddesigner")
    draft = new_draft(owner)
    other = second_designer
    assert other.get(f"/designer/drafts/{draft}").status_code == 403
    assert other.get(f"/designer/drafts/{draft}/files/{MAIN}").status_code == 403
    assert put(other, draft, "forms/x.schema.json", '{"type": "object"}').status_code == 403
    assert other.post(f"/designer/drafts/{draft}/deploy").status_code == 403
    assert other.post(f"/designer/drafts/{draft}/discard").status_code == 403
    assert f"/designer/drafts/{draft}" not in other.get("/designer/").text  # not listed either
    assert owner.get(f"/designer/drafts/{draft}").status_code == 200  # untouched, still the owner's
    assert "forms/x.schema.json" not in owner.get(f"/designer/drafts/{draft}").text


def test_the_creator_and_an_admin_may(as_user):
    owner, admin = as_user("ddesigner"), as_user("admin")
    draft = new_draft(owner)
    assert put(owner, draft, "forms/x.schema.json", '{"type": "object"}').status_code == 200
    assert admin.get(f"/designer/drafts/{draft}").status_code == 200
    assert f"/designer/drafts/{draft}" in admin.get("/designer/").text
    assert admin.post(f"/designer/drafts/{draft}/discard").status_code == 302
    assert owner.get(f"/designer/drafts/{draft}").status_code == 404
