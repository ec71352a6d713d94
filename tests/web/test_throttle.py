"""The guessing guard (issue 19 item 8): growing delays per (account, address), never a lockout of
the right password by someone else's failures, valid API tokens always accepted, and client
addresses taken from `X-Forwarded-For` only when a trusted proxy count is configured."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from engine.config import SecuritySettings, Settings
from engine.people import throttle
from engine.people.users import add_user
from tests.api.conftest import Api, assert_error, make_token
from web import create_app

POLICY = throttle.Policy(free=3, window=timedelta(hours=1), first=timedelta(seconds=2), cap=timedelta(minutes=15))


@pytest.fixture
def with_password(app, engine):
    with app.extensions["waypoint.db"].transaction() as s:
        add_user(s, "pat", now=engine.clock.now(), roles=["requester"], password="s3cret!")
    app.config["LOGIN_POLICY"] = POLICY
    return app


def sign_in(client, password: str, username: str = "pat", address: str = "10.0.0.1", **headers) -> int:
    environ = {"REMOTE_ADDR": address}
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login", environ_base=environ).text).group(1)
    data = {"username": username, "password": password, "csrf_token": token}
    return client.post("/login", data=data, environ_base=environ, headers=headers).status_code


def test_delays_grow_per_key_then_forget(db, clock):
    key = throttle.sign_in_key("Pat", "10.0.0.1")
    assert key == "pair:pat|10.0.0.1"
    waits = []
    with db.transaction() as s:
        for _ in range(6):
            throttle.record_failure(s, [key], clock.now(), POLICY.window)
            waits.append(throttle.wait(s, key, clock.now(), POLICY).total_seconds())
        assert throttle.wait(s, throttle.sign_in_key("pat", "10.0.0.2"), clock.now(), POLICY) == timedelta(0)
    assert waits == [0, 0, 2, 4, 8, 16]
    clock.advance(seconds=16)
    with db.transaction() as s:
        assert throttle.wait(s, key, clock.now(), POLICY) == timedelta(0)
    assert POLICY.delay(40) == POLICY.cap  # never more than the cap, however many failures


def test_the_right_password_works_once_the_delay_is_over(with_password, clock):
    page = with_password.test_client()
    assert [sign_in(page, "nope") for _ in range(3)] == [401, 401, 401]
    assert sign_in(page, "s3cret!") == 429  # the same pair waits 2 s...
    clock.advance(seconds=3)
    assert sign_in(page, "s3cret!") == 302  # ...and then the right password works


def test_failures_from_another_address_never_lock_the_account(with_password):
    attacker, owner = with_password.test_client(), with_password.test_client()
    assert {sign_in(attacker, "guess", address="203.0.113.9") for _ in range(12)} == {401, 429}
    assert sign_in(owner, "s3cret!", address="198.51.100.7") == 302


def test_failures_for_other_accounts_never_lock_an_address(with_password):
    office = with_password.test_client()
    assert {sign_in(office, "x", username=f"guess{n}") for n in range(30)} == {401}
    assert sign_in(office, "s3cret!") == 302  # same address, another account's failures don't count


def test_wrong_tokens_slow_their_sender_but_never_a_valid_token(app, clock):
    app.config["API_AUTH_POLICY"] = POLICY
    wrong = Api(app, "wpt_" + "x" * 43)
    for _ in range(3):
        assert_error(wrong.get("/me"), 401, "invalid_token")
    response = wrong.get("/me")
    assert_error(response, 429, "too_many_requests")
    assert int(response.headers["Retry-After"]) >= 1
    assert Api(app, make_token(app, "jdoe")).get("/me").status_code == 200  # same address, valid token


def _app_with_proxies(app, count: int):
    settings = Settings(security=SecuritySettings(trusted_proxies=count))
    db, engine = app.extensions["waypoint.db"], app.extensions["waypoint.engine"]
    made = create_app({"WAYPOINT_SETTINGS": settings, "WAYPOINT_DB": db, "WAYPOINT_ENGINE": engine, "TESTING": True})
    made.config["LOGIN_POLICY"] = POLICY
    return made


def test_forwarded_for_is_honoured_only_from_a_configured_proxy(with_password):
    behind = _app_with_proxies(with_password, 1).test_client()
    proxy = "10.0.0.254"  # every request reaches the app from the TLS proxy
    for _ in range(5):
        sign_in(behind, "typo", address=proxy, **{"X-Forwarded-For": "192.168.1.20"})
    assert sign_in(behind, "typo", address=proxy, **{"X-Forwarded-For": "192.168.1.20"}) == 429
    # a colleague behind the same proxy is another client address: not slowed
    assert sign_in(behind, "s3cret!", address=proxy, **{"X-Forwarded-For": "192.168.1.21"}) == 302

    direct = _app_with_proxies(with_password, 0).test_client()
    for n in range(3):  # without a trusted proxy a forged header changes nothing: the peer is counted
        sign_in(direct, "typo", username="pat", address="203.0.113.5", **{"X-Forwarded-For": f"1.2.3.{n}"})
    assert sign_in(direct, "typo", address="203.0.113.5", **{"X-Forwarded-For": "1.2.3.99"}) == 429
