"""Sign-in: passwords, session hygiene, cookie flags, rate limiting, CSRF, safe redirects."""

from __future__ import annotations

import re

import pytest

from engine.people.users import add_user
from web import create_app


@pytest.fixture
def with_password(app, engine):
    db = app.extensions["waypoint.db"]
    with db.transaction() as s:
        add_user(s, "pat", now=engine.clock.now(), roles=["requester"], display_name="Pat Doe", password="s3cret!")
    return app


def login_form(client):
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_login_logout(with_password):
    client = with_password.test_client()
    assert client.get("/inbox").headers["Location"] == "/login?next=/inbox"
    token = login_form(client)
    with client.session_transaction() as sess:
        sess["leftover"] = "from before"
    done = client.post(
        "/login", data={"username": "pat", "password": "s3cret!", "csrf_token": token, "next": "/inbox?tab=queue"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/inbox?tab=queue"
    with client.session_transaction() as sess:
        assert "leftover" not in sess  # session cleared at sign-in
        assert sess["csrf_token"] != token  # and the CSRF token rotated
        new_token = sess["csrf_token"]
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Pat Doe" in client.get("/inbox").text
    out = client.post("/logout", data={"csrf_token": new_token})
    assert out.headers["Location"] == "/login"
    assert client.get("/inbox").status_code == 302


def test_secure_cookie_with_https(people, engine, monkeypatch):
    monkeypatch.setenv("WAYPOINT_HTTPS", "1")
    app = create_app({"WAYPOINT_DB": people, "WAYPOINT_ENGINE": engine, "TESTING": True})
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_wrong_password_and_rate_limit(with_password):
    client = with_password.test_client()
    token = login_form(client)
    for _ in range(5):
        bad = client.post("/login", data={"username": "pat", "password": "nope", "csrf_token": token})
        assert bad.status_code == 401 and "Unknown username or wrong password" in bad.text
    limited = client.post("/login", data={"username": "pat", "password": "s3cret!", "csrf_token": token})
    assert limited.status_code == 429 and "Too many failed attempts" in limited.text


def test_unknown_user_gets_the_same_message(with_password):
    client = with_password.test_client()
    token = login_form(client)
    page = client.post("/login", data={"username": "ghost", "password": "x", "csrf_token": token})
    assert page.status_code == 401 and "Unknown username or wrong password" in page.text


def test_post_without_csrf_token_is_refused(with_password):
    client = with_password.test_client()
    login_form(client)
    page = client.post("/login", data={"username": "pat", "password": "s3cret!"})
    assert page.status_code == 400 and "expired" in page.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_cannot_leave_the_site(with_password, target):
    client = with_password.test_client()
    token = login_form(client)
    done = client.post("/login", data={"username": "pat", "password": "s3cret!", "csrf_token": token, "next": target})
    assert done.headers["Location"] == "/inbox"


def test_language_switch_is_remembered(as_user, app):
    browser = as_user("jdoe")
    browser.post("/language", {"lang": "fr", "next": "/inbox"})
    page = browser.get("/inbox")
    assert '<html lang="fr">' in page.text
    db = app.extensions["waypoint.db"]
    from engine.people.users import get_user

    with db.reading() as s:
        assert get_user(s, "jdoe").language == "fr"
