"""One-click links from emails: a confirmation page for approve/reject, and digest opt-out.

A link carries a signed, expiring, single-use token bound to one user and one task
(engine/mail/links.py). GET only shows what would happen; the POST of the confirmation form acts,
as the token's user, through `Engine.complete` (engine/one_click.py), so nothing changes on a
GET (mail scanners and link previews follow links). The token authenticates that one action,
so this blueprint's POSTs need no session or CSRF token. Pages speak the recipient's language.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, make_response, render_template, request
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from engine.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from engine.mail.bodies import format_datetime
from engine.mail.links import ActionToken, TokenExpired, TokenRejected, TokenUsed, verify
from engine.models import User
from engine.one_click import NeedsTaskPage, check, comment_required, decide, load_grant
from engine.worker import digest

from .context import db, engine
from .errors import error_message, field_messages
from .i18n import LANGUAGES, language

bp = Blueprint("email_actions", __name__)

#: The texts of these pages; each page is rendered in its recipient's language (`force_locale`).
TEXT = {
    "approve": _l("Approve"),
    "reject": _l("Reject"),
    "expired": _l("This link has expired. Open the task in Waypoint to decide."),
    "invalid": _l("This link is not valid. Open the task in Waypoint to decide."),
    "used": _l("This link was already used. Each link works once."),
    "closed": _l("This task is no longer waiting: it was already completed or withdrawn."),
    "needs_page": _l("This task needs more than a one-word decision. Please open it in Waypoint."),
}


def _page(template: str, status: int = 200, lang: str = "en", **context: Any) -> Any:
    """Render a page of this blueprint in `lang`, never cached (it is reached through a secret link)."""
    with force_locale(lang):
        context = {k: str(v) if isinstance(v, LazyString) else v for k, v in context.items()}
        response = make_response(render_template(f"email_actions/{template}", **context), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(key: str, status: int, lang: str = "en", task_url: str | None = None) -> Any:
    return _page("problem.html", status, lang, message=TEXT[key], task_url=task_url)


def _grant(token: str) -> ActionToken | Any:
    """The token's grant, or the problem page to show instead."""
    try:
        return verify(engine().mail.config.secret_key, token, engine().clock.now())
    except TokenExpired:
        return _problem("expired", 410)
    except TokenRejected:
        return _problem("invalid", 404)


def _task_url(task_id: str | None) -> str | None:
    return f"{engine().mail.config.base_url}/tasks/{task_id}" if task_id else None


@bp.route("/email-actions/<token>", methods=["GET", "POST"])
def action(token: str) -> Any:
    """GET: confirm the decision (or digest opt-out) a link carries; POST: record it, once."""
    grant = _grant(token)
    if not isinstance(grant, ActionToken):
        return grant
    if grant.action == "digest_off":
        return _digest_off(grant)
    if grant.action not in ("approve", "reject"):
        return _problem("invalid", 404)
    with db().reading() as s:
        try:
            user, row = load_grant(s, grant)
        except (NotFound, PermissionDenied):
            return _problem("invalid", 404)
        lang = _language(user)
        task_url = _task_url(row.id)
        try:  # the guards `decide` applies on the POST, asked once here
            _, _, form = check(s, engine(), grant, grant.action)
        except (NotFound, PermissionDenied):
            return _problem("invalid", 404, lang, task_url)
        except TokenUsed:
            return _problem("used", 409, lang, task_url)
        except NeedsTaskPage:
            return _problem("needs_page", 409, lang, task_url)
        except Conflict:
            return _problem("closed", 409, lang, task_url)
        view = {
            "user_name": user.display_name,
            "task_name": row.name,
            "element_id": row.element_id,
            "process_key": row.process_key,
            "summary": row.instance.summary_in(language()),
            "due": format_datetime(row.due_at, lang, engine().mail.config.timezone),
            "has_comment": form.comment_field is not None,
            "comment_required": comment_required(s, engine(), row, form, grant.action),
        }
    verb = TEXT[grant.action]
    if request.method == "GET":
        return _page("confirm.html", lang=lang, verb=verb, task_url=task_url, view=view, error=None, comment="")
    comment = request.form.get("comment", "")
    now = engine().clock.now()
    try:
        with db().transaction() as s:
            decide(s, engine(), grant, grant.action, comment, now)
    except ValidationFailed as exc:
        errors = LazyString(lambda error=exc: "; ".join(field_messages(error).values()))
        return _page("confirm.html", 400, lang, verb=verb, task_url=task_url, view=view, error=errors, comment=comment)
    except TokenUsed:
        return _problem("used", 409, lang, task_url)
    except NeedsTaskPage:
        return _problem("needs_page", 409, lang, task_url)
    except Conflict:
        return _problem("closed", 409, lang, task_url)
    except PermissionDenied as exc:
        return _page("problem.html", 403, lang, message=LazyString(error_message, exc), task_url=task_url)
    return _page("done.html", lang=lang, verb=verb, view=view, task_url=task_url)


def _digest_off(grant: ActionToken) -> Any:
    if request.method == "GET":
        with db().reading() as s:
            user = s.get(User, grant.user_id)
            if user is None:
                return _problem("invalid", 404)
            lang, name = _language(user), user.display_name
        return _page("digest.html", lang=lang, user_name=name, done=False)
    with db().transaction() as s:
        user = digest.opt_out(s, grant, engine().clock.now())
        lang, name = _language(user), user.display_name
    return _page("digest.html", lang=lang, user_name=name, done=True)


def _language(user: User) -> str:
    return user.language if user.language in LANGUAGES else "en"


def init_app(app: Flask) -> None:
    """Register the blueprint; its POSTs are authenticated by their signed single-use tokens."""
    from . import csrf

    csrf.exempt(bp.name)
    app.register_blueprint(bp)
