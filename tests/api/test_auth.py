"""Bearer tokens: stored hashed, shown once, revocable, expiring; guessing is rate-limited; UI and CLI manage them."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import Context, main
from engine.models import ApiToken
from engine.people.api_tokens import hash_token
from engine.people.throttle import Policy
from engine.people.users import get_user
from tests.api.conftest import Api, assert_error, make_token

sqlite_only = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def cli(monkeypatch, db, *args: str):  # type: ignore[no-untyped-def]
    """Run `waypoint ARGS` in-process on `db`, closing its connections afterwards."""
    monkeypatch.setenv("WAYPOINT_DATABASE_URL", db.url)
    context = Context()
    try:
        return CliRunner().invoke(main, list(args), obj=context)
    finally:
        context.db.dispose()


def test_no_token_is_401_with_a_bearer_challenge(api):
    response = api(None).get("/tasks")
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(api(None).get("/tasks", headers={"Authorization": "Basic amRvZTp4"}), 401, "unauthenticated")


def test_the_token_is_stored_only_as_a_hash_and_acts_as_its_user(app, api):
    text = make_token(app, "jdoe", "laptop")
    assert re.fullmatch(r"wpt_[A-Za-z0-9_-]{43}", text)
    with app.extensions["waypoint.db"].reading() as s:
        row = s.scalars(select(ApiToken)).one()
        assert (row.token_hash, row.prefix, row.name) == (hash_token(text), text[:12], "laptop")
        assert text not in {str(v) for v in vars(row).values()}
    me = Api(app, text).get("/me")
    assert me.status_code == 200 and me.json["username"] == "jdoe" and me.json["service_account"] is None


def test_revoked_expired_and_deactivated_tokens_are_refused(app, api, clock, monkeypatch):
    db = app.extensions["waypoint.db"]
    text = make_token(app, "jdoe")
    client = Api(app, text)
    assert client.get("/me").status_code == 200
    with db.reading() as s:
        token_id = s.scalars(select(ApiToken.id)).one()
    result = cli(monkeypatch, db, "tokens", "revoke", str(token_id))
    assert result.exit_code == 0, result.output
    assert_error(client.get("/me"), 401, "invalid_token")

    from engine.people.api_tokens import create_token

    with db.transaction() as s:
        short = create_token(s, get_user(s, "ppatel"), "short", now=clock.now(), expires_in_days=1).secret
    assert Api(app, short).get("/me").status_code == 200
    clock.advance(days=1, seconds=1)
    assert_error(Api(app, short).get("/me"), 401, "invalid_token")

    other = make_token(app, "msmith")
    with db.transaction() as s:
        get_user(s, "msmith").active = False
    assert_error(Api(app, other).get("/me"), 401, "invalid_token")


def test_guessing_tokens_is_rate_limited_per_address(app, api):
    app.config["API_AUTH_POLICY"] = Policy(free=3)
    wrong = Api(app, "wpt_" + "x" * 43)
    for _ in range(3):
        assert_error(wrong.get("/me"), 401, "invalid_token")
    response = wrong.get("/me")
    assert_error(response, 429, "too_many_requests")
    assert int(response.headers["Retry-After"]) > 0
    assert api("jdoe").get("/me").status_code == 200  # a valid token from the same address is never refused


def test_last_use_is_recorded_without_a_write_per_request(app, clock):
    text = make_token(app, "jdoe")
    client = Api(app, text)
    db = app.extensions["waypoint.db"]
    client.get("/me")
    with db.reading() as s:
        first = s.scalars(select(ApiToken.last_used_at)).one()
    assert first == clock.now()
    clock.advance(minutes=1)
    client.get("/me")
    with db.reading() as s:
        assert s.scalars(select(ApiToken.last_used_at)).one() == first
    clock.advance(minutes=5)
    client.get("/me")
    with db.reading() as s:
        assert s.scalars(select(ApiToken.last_used_at)).one() == clock.now()


@sqlite_only
def test_people_create_and_revoke_their_tokens_in_the_ui(db, app, as_user):
    jdoe = as_user("jdoe")
    assert "API tokens" in jdoe.get("/account/tokens").text
    created = jdoe.post("/account/tokens", {"name": "reporting script", "expires_in_days": "30"})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    text = re.search(r'value="(wpt_[^"]+)"', created.text).group(1)
    assert Api(app, text).get("/me").json["username"] == "jdoe"
    page = jdoe.get("/account/tokens").text
    assert text[:12] in page and text not in page  # the list shows the prefix, never the token
    with app.extensions["waypoint.db"].reading() as s:
        token_id = s.scalars(select(ApiToken.id)).one()
    assert as_user("msmith").post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert Api(app, text).get("/me").status_code == 200  # someone else's token: untouched
    assert jdoe.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert_error(Api(app, text).get("/me"), 401, "invalid_token")
    assert jdoe.post("/account/tokens", {"name": "x"}, csrf=False).status_code == 400  # CSRF still applies here


@sqlite_only
def test_admins_manage_service_accounts_in_the_ui(db, app, as_user):
    admin = as_user("admin")
    assert as_user("jdoe").get("/admin/service-accounts").status_code == 403
    saved = admin.post(
        "/admin/service-accounts",
        {"username": "embassy", "display_name": "Embassy link", "messages": "visa_decision", "roles": []},
    )
    assert saved.status_code == 302
    page = admin.get("/admin/service-accounts").text
    assert "Embassy link" in page and "visa_decision" in page
    created = admin.post("/admin/service-accounts/embassy/tokens", {"name": "production"})
    text = re.search(r'value="(wpt_[^"]+)"', created.text).group(1)
    me = Api(app, text).get("/me").json
    assert me["service_account"]["messages"] == ["visa_decision"] and me["roles"] == []
    assert admin.post("/admin/service-accounts/jdoe/tokens", {"name": "x"}).status_code == 302  # not a service account
    assert admin.post("/admin/service-accounts", {"username": "jdoe", "messages": "*"}).status_code == 302
    with app.extensions["waypoint.db"].reading() as s:
        from engine.people.service_accounts import service_account

        assert service_account(s, get_user(s, "jdoe")) is None  # a person's account is never turned into one


def test_the_cli_creates_lists_and_revokes_tokens_and_adds_service_accounts(app, db, monkeypatch):
    added = cli(
        monkeypatch, db, "service-accounts", "add", "embassy", "--message", "visa_decision", "--name", "Embassy"
    )
    assert added.exit_code == 0 and "visa_decision" in added.output, added.output
    created = cli(monkeypatch, db, "tokens", "create", "embassy", "--name", "prod")
    assert created.exit_code == 0, created.output
    text = created.output.strip()
    assert Api(app, text).get("/me").json["service_account"]["messages"] == ["visa_decision"]
    listed = cli(monkeypatch, db, "tokens", "list", "--user", "embassy")
    assert text[:12] in listed.output and text not in listed.output and "active" in listed.output
    assert cli(monkeypatch, db, "service-accounts", "list").output.startswith("embassy")
    missing = cli(monkeypatch, db, "tokens", "create", "nobody")
    assert missing.exit_code == 1 and "no user called 'nobody'" in missing.output
    assert cli(monkeypatch, db, "tokens", "revoke", "99").exit_code == 1
