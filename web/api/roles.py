"""Roles as data over the API: list, create, rename, retire, members, grant, revoke (engine/people/roles.py).

Admins and process designers read, create and rename roles; only admins retire them and grant or
revoke them. Every write is one transaction and one row of the role's audit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.errors import PermissionDenied
from engine.people import roles as engine_roles
from engine.people.roles import RoleInfo

from ..context import db
from .auth import current_user
from .blueprint import bp
from .spec import Param, operation
from .writes import Result, perform

ROLE_KEY = Param("key", "path", {"type": "string", "pattern": "^[a-z0-9_]{1,40}$"}, "Role key.", required=True)
ROLE: dict[str, Any] = {
    "type": "object",
    "required": ["key", "name_en", "name_fr", "built_in", "retired", "members"],
    "properties": {
        "key": {"type": "string"},
        "name_en": {"type": "string"},
        "name_fr": {"type": "string"},
        "built_in": {"type": "boolean"},
        "retired": {"type": "boolean"},
        "members": {"type": "integer", "description": "Active people holding the role."},
    },
}
NAMES: dict[str, Any] = {
    "type": "object",
    "required": ["name_en"],
    "additionalProperties": False,
    "properties": {
        "name_en": {"type": "string", "minLength": 1, "maxLength": 100},
        "name_fr": {"type": "string", "maxLength": 100},
        "key": {"type": "string", "pattern": "^[A-Za-z0-9_ -]{1,40}$", "description": "Default: from name_en."},
    },
}
PERSON = {
    "type": "object",
    "required": ["username"],
    "additionalProperties": False,
    "properties": {"username": {"type": "string", "minLength": 1, "maxLength": 64}},
}
MEMBER = {
    "type": "object",
    "required": ["username", "name"],
    "properties": {"username": {"type": "string"}, "name": {"type": "string"}},
}
GRANT_RESULT = {
    "type": "object",
    "required": ["role", "username", "changed"],
    "properties": {"role": {"type": "string"}, "username": {"type": "string"}, "changed": {"type": "boolean"}},
}
EDITORS = frozenset({"admin", "process_designer"})


def _require(roles: frozenset[str]) -> Any:
    caller = current_user()
    if not caller.roles & roles:
        raise PermissionDenied("roles_forbidden")
    return caller


def _view(session: Session, key: str) -> dict[str, Any]:
    role = engine_roles.get_role(session, key)
    found: RoleInfo = next(r for r in engine_roles.roles(session) if r.key == role.key)
    return {k: getattr(found, k) for k in ROLE["properties"]}


@operation(
    bp,
    "GET",
    "/roles",
    summary="Every role, with its names in both languages and its member count",
    tag="Roles",
    responses={200: ("The roles.", {"type": "array", "items": ROLE})},
    errors=(403,),
)
def roles_list(args: dict, body: Any) -> Any:
    """Every role (admins and process designers)."""
    _require(EDITORS)
    with db().reading() as s:
        return [{k: getattr(r, k) for k in ROLE["properties"]} for r in engine_roles.roles(s)]


@operation(
    bp,
    "POST",
    "/roles",
    summary="Create a role",
    description='The key is made from `name_en` unless given ("Finance Team" becomes `finance_team`); '
    "409 when it exists.",
    tag="Roles",
    body=NAMES,
    responses={201: ("The new role.", ROLE)},
    errors=(403, 409),
    idempotent=True,
)
def roles_create(args: dict, body: dict) -> Any:
    """Create a role (admins and process designers)."""
    caller = _require(EDITORS)

    def action(s: Session) -> Result:
        role = engine_roles.create_role(s, body["name_en"], body.get("name_fr"), caller.username, key=body.get("key"))
        return Result(201, _view(s, role.key))

    return perform(action)


@operation(
    bp,
    "PATCH",
    "/roles/{key}",
    summary="Rename a role (its key stays)",
    tag="Roles",
    params=[ROLE_KEY],
    body={**NAMES, "properties": {k: v for k, v in NAMES["properties"].items() if k != "key"}},
    responses={200: ("The role.", ROLE)},
    errors=(403, 404),
    idempotent=True,
)
def roles_rename(args: dict, body: dict) -> Any:
    """New names for a role (admins and process designers)."""
    caller = _require(EDITORS)

    def action(s: Session) -> Result:
        role = engine_roles.rename(s, args["key"], body["name_en"], body.get("name_fr"), caller.username)
        return Result(200, _view(s, role.key))

    return perform(action)


@operation(
    bp,
    "POST",
    "/roles/{key}/retire",
    summary="Retire a role (no new grants or lanes; Waypoint's own roles never retire)",
    tag="Roles",
    params=[ROLE_KEY],
    responses={200: ("The role.", ROLE)},
    errors=(403, 404, 409),
    idempotent=True,
)
def roles_retire(args: dict, body: Any) -> Any:
    """Retire a role (admins)."""
    caller = _require(frozenset({"admin"}))

    def action(s: Session) -> Result:
        role = engine_roles.retire(s, args["key"], caller.username)
        return Result(200, _view(s, role.key))

    return perform(action)


@operation(
    bp,
    "GET",
    "/roles/{key}/members",
    summary="The active people holding a role",
    tag="Roles",
    params=[ROLE_KEY],
    responses={200: ("Usernames and names.", {"type": "array", "items": MEMBER})},
    errors=(403, 404),
)
def roles_members(args: dict, body: Any) -> Any:
    """Members of a role (admins and process designers)."""
    _require(EDITORS)
    with db().reading() as s:
        role = engine_roles.get_role(s, args["key"])
        return [{"username": u.username, "name": u.display_name} for u in engine_roles.members(s, role.key)]


def _membership(args: dict, body: dict, grant: bool) -> Any:
    caller = _require(frozenset({"admin"}))

    def action(s: Session) -> Result:
        change = engine_roles.grant if grant else engine_roles.revoke
        engine_roles.get_role(s, args["key"])
        changed = change(s, body["username"], args["key"], caller.username)
        return Result(200, {"role": args["key"], "username": body["username"], "changed": changed})

    return perform(action)


@operation(
    bp,
    "POST",
    "/roles/{key}/members",
    summary="Grant a role to a person",
    tag="Roles",
    params=[ROLE_KEY],
    body=PERSON,
    responses={200: ("Whether the person did not hold it before.", GRANT_RESULT)},
    errors=(403, 404),
    idempotent=True,
)
def roles_grant(args: dict, body: dict) -> Any:
    """Grant a role (admins)."""
    return _membership(args, body, grant=True)


@operation(
    bp,
    "DELETE",
    "/roles/{key}/members/{username}",
    summary="Revoke a role from a person",
    tag="Roles",
    params=[ROLE_KEY, Param("username", "path", {"type": "string", "maxLength": 64}, required=True)],
    responses={200: ("Whether the person held it.", GRANT_RESULT)},
    errors=(403, 404),
    idempotent=True,
)
def roles_revoke(args: dict, body: Any) -> Any:
    """Revoke a role (admins)."""
    return _membership(args, {"username": args["username"]}, grant=False)
