"""OpenID Connect sign-in against a real oidc-provider on loopback: the happy path over HTTP, and
every bad answer refused with a clear error that changes nothing.

ID tokens here are the provider's own (from a real authorization-code exchange), altered or
checked at another time; the wrong-issuer token is signed with the provider's real key, so only
its issuer is wrong.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import func, select

from engine.identity import accounts, oidc
from engine.models import PersonEvent, User
from engine.people.users import find_user, hash_password
from tests.identity.conftest import provider_sign_in
from web import create_app


def counts(sso) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with sso.db.reading() as s:
        return s.scalar(select(func.count()).select_from(User)), s.scalar(select(func.count()).select_from(PersonEvent))


def real_claims(sso, login="nora", password="nora-pw"):  # type: ignore[no-untyped-def]
    """A real code exchange through the engine's client: (client, pending, claims)."""
    client = oidc.OidcClient(sso.settings.oidc)
    url, pending = client.begin(f"{sso.url}/login/oidc/callback")
    callback = provider_sign_in(requests.Session(), url, login, password)
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    return client, pending, client.finish(pending, params, sso.clock.now())


def test_first_sign_in_provisions_the_person_with_mapped_roles_and_a_replayed_state_is_refused(sso):
    http = requests.Session()
    callback = provider_sign_in(http, f"{sso.url}/login/oidc", "nora", "nora-pw")
    signed_in = http.get(callback, allow_redirects=False)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/inbox"
    assert "Nora Newcomer" in http.get(f"{sso.url}/inbox").text
    with sso.db.reading() as s:
        nora = find_user(s, "nnew")
        assert (nora.email, nora.display_name, nora.roles) == (
            "nora.new@example.org",
            "Nora Newcomer",
            {"finance", "requester"},
        )
    before = counts(sso)
    replay = requests.Session().get(callback, allow_redirects=False)
    assert replay.status_code == 400 and "already used" in replay.text
    again = http.get(callback, allow_redirects=False)  # the same browser, its pending state spent
    assert again.status_code == 400 and counts(sso) == before


def test_the_mapping_is_applied_at_each_sign_in(sso):
    http = requests.Session()
    http.get(provider_sign_in(http, f"{sso.url}/login/oidc", "nora", "nora-pw"))
    with sso.db.transaction() as s:
        accounts.add_mapping(s, "staff", "ethics", "admin", sso.clock.now())
        accounts.remove_mapping(s, "travel-finance", "finance", "admin", sso.clock.now())
    fresh = requests.Session()
    assert fresh.get(provider_sign_in(fresh, f"{sso.url}/login/oidc", "nora", "nora-pw")).status_code == 200
    with sso.db.reading() as s:
        assert find_user(s, "nnew").roles == {"ethics", "requester"}


def test_a_person_without_a_username_claim_is_refused_and_nothing_is_created(sso):
    before = counts(sso)
    http = requests.Session()
    page = http.get(provider_sign_in(http, f"{sso.url}/login/oidc", "nameless", "nameless-pw"))
    assert page.status_code == 400 and "claim preferred_username gives no usable username" in page.text
    assert counts(sso) == before


def test_a_deactivated_person_is_refused(sso):
    with sso.db.transaction() as s:
        find_user(s, "dlee").active = False
    http = requests.Session()
    page = http.get(provider_sign_in(http, f"{sso.url}/login/oidc", "gone", "gone-pw"))
    assert page.status_code == 403 and "deactivated" in page.text


def test_expired_tampered_and_wrong_issuer_id_tokens_are_refused(sso):
    client, pending, claims = real_claims(sso)
    token, nonce, now = claims["id_token"], pending["nonce"], sso.clock.now()
    assert client.validate_id_token(token, nonce, now)["preferred_username"] == "nnew"
    with pytest.raises(oidc.SignInFailed) as expired:
        client.validate_id_token(token, nonce, now + timedelta(hours=2))
    assert expired.value.code == "oidc_id_token_expired"
    header, payload, signature = token.split(".")
    tampered = ".".join([header, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), signature])
    with pytest.raises(oidc.SignInFailed) as bad:
        client.validate_id_token(tampered, nonce, now)
    assert bad.value.code == "oidc_bad_id_token"
    with pytest.raises(oidc.SignInFailed) as wrong_nonce:
        client.validate_id_token(token, "another-nonce", now)
    assert wrong_nonce.value.code == "oidc_bad_id_token"
    key = KeySet.import_key_set({"keys": sso.provider.keys}).keys[0]
    forged = jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims, "iss": "http://127.0.0.1:9/other"}, key)
    with pytest.raises(oidc.SignInFailed) as wrong_issuer:
        client.validate_id_token(forged, nonce, now)
    assert wrong_issuer.value.code == "oidc_wrong_issuer"


def test_a_provider_whose_discovery_names_another_issuer_is_refused(sso):
    """The same server asked under another name (localhost): its discovery document names 127.0.0.1."""
    aliased = replace(sso.settings.oidc, issuer=sso.provider.issuer.replace("127.0.0.1", "localhost"))
    with pytest.raises(oidc.SignInFailed) as caught:
        oidc.OidcClient(aliased).begin(f"{sso.url}/login/oidc/callback")
    assert caught.value.code == "oidc_wrong_issuer" and "not from the configured provider" in str(caught.value)


def test_rotated_keys_are_fetched_again(sso):
    client, pending, claims = real_claims(sso)
    old_kid = client.key_set().keys[0].kid
    sso.provider.rotate_keys()
    url, pending = client.begin(f"{sso.url}/login/oidc/callback")
    callback = provider_sign_in(requests.Session(), url, "nora", "nora-pw")
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    claims = client.finish(pending, params, sso.clock.now())
    assert claims["preferred_username"] == "nnew" and client.key_set().keys[0].kid != old_kid


def test_local_passwords_off_keeps_only_the_break_glass_accounts(sso):

    with sso.db.transaction() as s:
        for name in ("admin", "jdoe"):
            find_user(s, name).password_hash = hash_password("pw-" + name)
    settings = replace(sso.settings, local_passwords=False)
    app = create_app({"WAYPOINT_SETTINGS": settings, "WAYPOINT_DB": sso.db, "WAYPOINT_ENGINE": sso.engine})
    client = app.test_client()
    page = client.get("/login")
    assert "Sign in with Example ID" in page.text and 'id="break-glass"' in page.text
    with client.session_transaction() as sess:
        sess["csrf_token"] = "t"
    refused = client.post("/login", data={"username": "jdoe", "password": "pw-jdoe", "csrf_token": "t"})
    assert refused.status_code == 403 and "switched off" in refused.text
    allowed = client.post("/login", data={"username": "admin", "password": "pw-admin", "csrf_token": "t"})
    assert allowed.status_code == 302


def test_an_unreachable_provider_is_a_clear_error_in_the_page_language(sso):
    sso.provider.stop()
    page = requests.get(f"{sso.url}/login/oidc", headers={"Accept-Language": "fr"}, allow_redirects=False)
    assert page.status_code == 503 and "pas répondu" in page.text and "rien n&#39;a été modifié" in page.text
    assert 'id="password"' in page.text  # the password form is still there


def test_claims_the_id_token_lacks_come_from_userinfo(sso):
    """A provider that keeps profile and group claims out of the ID token (oidc-provider's default,
    like some Keycloak and ADFS set-ups): they are read from userinfo for the same subject."""
    sso.provider.stop()
    sso.provider.start(claims_in_userinfo_only=True)
    client, pending, claims = real_claims(sso)
    assert client.validate_id_token(claims["id_token"], pending["nonce"], sso.clock.now()).get("groups") is None
    assert (claims["preferred_username"], claims["groups"]) == ("nnew", ["travel-finance", "staff"])


def test_a_code_used_twice_is_refused_by_the_provider(sso):
    """Even with its state (a copied session cookie), an authorization code works once."""
    client = oidc.OidcClient(sso.settings.oidc)
    url, pending = client.begin(f"{sso.url}/login/oidc/callback")
    callback = provider_sign_in(requests.Session(), url, "nora", "nora-pw")
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    assert client.finish(pending, params, sso.clock.now())["preferred_username"] == "nnew"
    with pytest.raises(oidc.SignInFailed) as caught:
        client.finish(pending, params, sso.clock.now())
    assert caught.value.code == "oidc_provider_refused" and caught.value.params["error"] == "invalid_grant"


def test_sign_out_without_the_token_hint_still_reaches_the_provider(sso, monkeypatch):
    """An ID token too big for the cookie (Entra ID with many groups) is not kept: sign-out then
    names the client, and the provider still offers to end its session."""
    monkeypatch.setattr("web.login_oidc.HINT_LIMIT", 10)
    http = requests.Session()
    inbox = http.get(provider_sign_in(http, f"{sso.url}/login/oidc", "nora", "nora-pw"))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', inbox.text).group(1)
    out = http.post(f"{sso.url}/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.headers["Location"] == "/logout/oidc"
    onward = http.get(f"{sso.url}/logout/oidc")
    target = re.search(r'id="provider-logout" href="([^"]+)"', onward.text).group(1).replace("&amp;", "&")
    assert "id_token_hint" not in target and "client_id=waypoint" in target
    provider_page = http.get(target)
    assert provider_page.status_code == 200 and "Yes, sign me out" in provider_page.text
    assert http.get(f"{sso.url}/inbox", allow_redirects=False).status_code == 302  # Waypoint's session ended
