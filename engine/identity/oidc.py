"""Sign-in through an OpenID Connect provider (Authlib): authorization code with PKCE, state and nonce.

`OidcClient.begin` gives the provider's authorization URL and what the caller keeps in the
browser's session until the callback (state, nonce, PKCE verifier); `finish` checks the state
(once: the caller pops it), exchanges the code, and validates the ID token: signature against the
provider's published keys (fetched again once when a token names a key not seen yet, so key
rotation just works), issuer, audience, expiry and issue time at the engine's clock, and nonce
(joserfc, which Authlib itself decodes with).
Claims the ID token lacks (username, groups) are read from the userinfo endpoint, for the same
subject. `sign_in` then provisions the person and applies their groups (engine/identity/accounts.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.config import OidcSettings, Settings
from engine.errors import PermissionDenied, WaypointError
from engine.identity import accounts
from engine.models import User

#: seconds of clock difference tolerated between Waypoint and the provider
LEEWAY = 60
SOURCE = "oidc"


class SignInFailed(WaypointError):
    """The provider's answer cannot be trusted or used: nothing was changed, the person signs in again."""

    status = 400
    kind = "sign_in_failed"


class ProviderUnavailable(WaypointError):
    """The provider did not answer (or answered nonsense)."""

    status = 503
    kind = "provider_unavailable"


class OidcClient:
    """One configured provider: its discovery document and keys are fetched once and cached."""

    def __init__(self, settings: OidcSettings):
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=self.settings.timeout)
            response.raise_for_status()
            return dict(response.json())
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable("oidc_unreachable", url=url, reason=type(exc).__name__) from exc

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document; its `issuer` must be exactly the configured one."""
        if self._metadata is None:
            found = self._get(f"{self.settings.issuer}/.well-known/openid-configuration")
            if found.get("issuer") != self.settings.issuer:
                raise SignInFailed("oidc_wrong_issuer", issuer=str(found.get("issuer")), expected=self.settings.issuer)
            self._metadata = found
        return self._metadata

    def key_set(self, refresh: bool = False) -> KeySet:
        """The provider's signing keys (`jwks_uri`), fetched again when `refresh`."""
        if self._keys is None or refresh:
            self._keys = KeySet.import_key_set(self._get(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        return self._keys

    def _session(self, redirect_uri: str) -> OAuth2Session:
        s = self.settings
        return OAuth2Session(
            s.client_id, s.client_secret, scope=s.scopes, redirect_uri=redirect_uri, code_challenge_method="S256"
        )

    def begin(self, redirect_uri: str) -> tuple[str, dict[str, str]]:
        """The authorization URL to send the browser to, and what to keep until the callback."""
        pending = {
            "state": generate_token(32),
            "nonce": generate_token(32),
            "verifier": generate_token(64),
            "redirect_uri": redirect_uri,
        }
        with self._session(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=pending["state"],
                nonce=pending["nonce"],
                code_verifier=pending["verifier"],
            )
        return url, pending

    def finish(self, pending: Mapping[str, str] | None, params: Mapping[str, str], now: datetime) -> dict[str, Any]:
        """The validated ID-token claims (plus `id_token`, the raw token) of the callback's `params`.

        `pending` is what `begin` returned, taken out of the session (None: none there, so an
        old or replayed callback)."""
        if params.get("error"):
            raise SignInFailed("oidc_provider_refused", error=params["error"][:100])
        state = params.get("state") or ""
        if pending is None or not hmac.compare_digest(state.encode(), pending["state"].encode()):
            raise SignInFailed("oidc_bad_state")
        if not params.get("code"):
            raise SignInFailed("oidc_no_code")
        try:
            with self._session(pending["redirect_uri"]) as oauth:
                token = oauth.fetch_token(
                    self.metadata()["token_endpoint"],
                    grant_type="authorization_code",
                    code=params["code"],
                    code_verifier=pending["verifier"],
                )
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable("oidc_unreachable", url=self.settings.issuer, reason=type(exc).__name__) from exc
        except AuthlibBaseError as exc:  # the token endpoint said no (invalid_grant), or plain http off loopback
            raise SignInFailed("oidc_provider_refused", error=str(exc.error)[:100]) from exc
        claims = self.validate_id_token(token.get("id_token"), pending["nonce"], now)
        wanted = (self.settings.username_claim, self.settings.groups_claim)
        if any(name not in claims for name in wanted):  # some providers put them in userinfo only
            claims = {**self._userinfo(token.get("access_token"), claims["sub"]), **claims}
        return {**claims, "id_token": token["id_token"]}

    def _userinfo(self, access_token: str | None, subject: str) -> dict[str, Any]:
        """The userinfo endpoint's claims for the same subject ({} when the provider has none)."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not endpoint or not access_token:
            return {}
        try:
            response = requests.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}, timeout=self.settings.timeout
            )
            response.raise_for_status()
            info = dict(response.json())
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable("oidc_unreachable", url=endpoint, reason=type(exc).__name__) from exc
        if info.get("sub") != subject:  # OpenID Connect Core 5.3.2: must be the ID token's subject
            raise SignInFailed("oidc_bad_id_token", reason="userinfo sub")
        return info

    def validate_id_token(self, id_token: str | None, nonce: str, now: datetime) -> dict[str, Any]:
        """The claims of `id_token` once its signature, issuer, audience, expiry and nonce hold."""
        if not id_token:
            raise SignInFailed("oidc_bad_id_token", reason="missing")
        registry = JWSRegistry(algorithms=self.metadata().get("id_token_signing_alg_values_supported"))
        try:
            try:
                decoded = jwt.decode(id_token, self.key_set(), registry=registry)
            except InvalidKeyIdError:  # a key we have not seen: the provider rotated its keys
                decoded = jwt.decode(id_token, self.key_set(refresh=True), registry=registry)
        except (JoseError, ValueError) as exc:
            raise SignInFailed("oidc_bad_id_token", reason=type(exc).__name__) from exc
        claims = dict(decoded.claims)
        checks = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=LEEWAY,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            checks.validate(claims)
        except ExpiredTokenError as exc:
            raise SignInFailed("oidc_id_token_expired") from exc
        except ClaimError as exc:
            if exc.claim == "iss":
                raise SignInFailed(
                    "oidc_wrong_issuer", issuer=str(claims.get("iss")), expected=self.settings.issuer
                ) from exc
            raise SignInFailed("oidc_bad_id_token", reason=f"claim {exc.claim}") from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise SignInFailed("oidc_bad_id_token", reason="claim azp")
        return dict(claims)

    def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """The provider's RP-initiated logout address (None when it publishes none)."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except WaypointError:
            return None
        if not endpoint:
            return None
        query = {"client_id": self.settings.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


def person_from(claims: Mapping[str, Any], settings: OidcSettings) -> accounts.Person:
    """The person the claims describe, by the configured claim names."""
    groups = claims.get(settings.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    username = claims.get(settings.username_claim)
    return accounts.Person(
        username=str(username).lower() if username is not None else "",  # as the directory sync stores it
        email=claims.get(settings.email_claim) or None,
        display_name=claims.get(settings.name_claim) or None,
        language=accounts.language_of(claims.get("locale")),
        groups=[str(g) for g in groups if g],
        external_id=f"{claims.get('iss')}|{claims.get('sub')}",
    )


def sign_in(session: Session, claims: Mapping[str, Any], settings: OidcSettings, now: datetime) -> User:
    """The person signing in: provisioned at their first sign-in, roles from their groups at each.

    A deactivated person is refused (PermissionDenied), their account unchanged."""
    person = person_from(claims, settings)
    username = accounts.check_username(person.username, f"claim {settings.username_claim}")
    existing = session.scalars(select(User).where(User.username == username)).first()
    if existing is not None and not existing.active:
        raise PermissionDenied("account_deactivated", username=username)
    try:
        with session.begin_nested():
            user, _ = accounts.upsert(session, person, SOURCE, username, now)
    except IntegrityError:  # the same person's other first sign-in created them meanwhile: update it
        user, _ = accounts.upsert(session, person, SOURCE, username, now)
    accounts.apply_groups(session, user, person.groups, SOURCE)  # the audit says the provider's groups did it
    return user


def may_use_password(settings: Settings, username: str) -> bool:
    """Whether `username` may sign in with a Waypoint password: always, unless a provider is
    configured and local passwords are switched off; then only the break-glass accounts."""
    return settings.local_passwords or not settings.oidc.enabled or username in settings.break_glass
