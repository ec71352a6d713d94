"""Password hashes: werkzeug's scrypt format, and hashes of the old hand-written format still sign in.

An old `scrypt$n$r$p$salt$hash` hash is replaced by werkzeug's at the first successful sign-in,
never by a failed one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from werkzeug.security import check_password_hash

from engine.demo.people import DEMO_PASSWORD, seed_demo_users
from engine.people.users import find_user, hash_password, verify_password


def legacy_hash(password: str) -> str:
    """A hash as Waypoint wrote them before werkzeug: `scrypt$n$r$p$salt$hash`, base64 parts."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${2**14}$8$1${b64(salt).decode()}${b64(digest).decode()}"


def sign_in(client, username: str, password: str) -> int:  # type: ignore[no-untyped-def]
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}).status_code


def stored_hash(app, username: str) -> str:  # type: ignore[no-untyped-def]
    with app.extensions["waypoint.db"].reading() as s:
        return find_user(s, username).password_hash


def test_an_old_format_hash_signs_in_and_is_replaced_by_a_werkzeug_hash(app):
    old = legacy_hash("s3cret!")
    with app.extensions["waypoint.db"].transaction() as s:
        find_user(s, "jdoe").password_hash = old
    client = app.test_client()

    assert sign_in(client, "jdoe", "wrong") == 401
    assert stored_hash(app, "jdoe") == old  # a failed sign-in rewrites nothing

    assert sign_in(client, "jdoe", "s3cret!") == 302
    new = stored_hash(app, "jdoe")
    assert new.startswith("scrypt:") and check_password_hash(new, "s3cret!")
    assert sign_in(app.test_client(), "jdoe", "s3cret!") == 302  # and the new hash signs in


def test_hash_and_verify(app):
    with app.extensions["waypoint.db"].transaction() as s:
        user = find_user(s, "jdoe")
        user.password_hash = hash_password("s3cret!")
        assert user.password_hash.startswith("scrypt:")
        assert verify_password(user, "s3cret!")
        assert not verify_password(user, "s3cret")
        assert not verify_password(user, "")
        user.password_hash = None
        assert not verify_password(user, "")
        user.password_hash = "md5$salt$0123"  # a method werkzeug does not know
        assert not verify_password(user, "s3cret!")
        user.password_hash = "scrypt$not$a$hash"
        assert not verify_password(user, "s3cret!") and user.password_hash == "scrypt$not$a$hash"


def test_demo_people_sign_in_with_the_demo_password(app, engine):
    with app.extensions["waypoint.db"].transaction() as s:
        seed_demo_users(s, engine.clock.now())
    assert stored_hash(app, "msmith").startswith("scrypt:")
    assert sign_in(app.test_client(), "msmith", DEMO_PASSWORD) == 302
    assert sign_in(app.test_client(), "jdoe", "not-the-demo-password") == 401
