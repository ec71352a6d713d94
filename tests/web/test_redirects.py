"""One safe-redirect helper behind every `next=` (issue 19 item 9): claim, release, bulk, reassign,
upload, token revocation, sign-in and the language switch all stay on this site."""

from __future__ import annotations

import re
from io import BytesIO

import pytest

from engine.people.users import add_user
from tests.web.conftest import task_ids
from web.redirects import is_safe

HOSTILE = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    " /inbox",
    "/inbox\x00",
    "inbox",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_the_helper_refuses_what_a_browser_would_read_as_another_site(target):
    assert not is_safe(target)


@pytest.mark.parametrize("target", ["/inbox", "/inbox?tab=queue&page=2", "/requests/7#files", "/tasks/a-b"])
def test_the_helper_keeps_plain_paths(target):
    assert is_safe(target)


def start(app, user="dlee"):
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    with db.transaction() as s:
        return engine.start(s, "small_approval", {"title": "Laptop", "amount": 1000}, user).id


def stays_here(response) -> bool:
    """A page (bulk answers with its results), or a redirect to a path on this site."""
    if response.status_code == 200:
        return "Location" not in response.headers
    location = response.headers.get("Location", "")
    return response.status_code == 302 and location.startswith("/") and is_safe(location)


@pytest.mark.parametrize("target", ["/\t/evil.example", "//evil.example", "/\\evil.example", "/\r\nX: y"])
def test_every_next_on_the_site_stays_on_the_site(app, as_user, target):
    iid = start(app)
    msmith = as_user("msmith")
    [task_id] = task_ids(msmith.get("/inbox?tab=queue").text)
    answers = {
        "claim": msmith.post(f"/tasks/{task_id}/claim", {"next": target}),
        "release": msmith.post(f"/tasks/{task_id}/release", {"next": target}),
        "bulk": msmith.post("/inbox/bulk", {"task_ids": [task_id], "next": target}),
        "reassign": as_user("dlee").post("/tasks/reassign", {"task_ids": [task_id], "to": "msmith", "next": target}),
        "upload": as_user("dlee").post(
            f"/requests/{iid}/attachments",
            {"file": (BytesIO(b"%PDF-1.4 x"), "a.pdf"), "next": target},
            content_type="multipart/form-data",
        ),
        "language": msmith.post("/language", {"lang": "en", "next": target}),
        "token revoke": msmith.post("/account/tokens/999/revoke", {"next": target}),
    }
    wrong = {name: (r.status_code, r.headers.get("Location")) for name, r in answers.items() if not stays_here(r)}
    assert not wrong


def test_sign_in_next_refuses_a_tab_trick(app, engine):
    with app.extensions["waypoint.db"].transaction() as s:
        add_user(s, "pat", now=engine.clock.now(), roles=["requester"], password="s3cret!")
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    data = {"username": "pat", "password": "s3cret!", "csrf_token": token, "next": "/\t/evil.example"}
    assert client.post("/login", data=data).headers["Location"] == "/inbox"
