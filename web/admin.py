"""Administration pages (admins only): people and roles."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from engine.models import User

from .auth import role_required
from .context import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@role_required("admin")
def users():  # type: ignore[no-untyped-def]
    """Everyone with their roles and manager."""
    with db().reading() as s:
        people = list(s.scalars(select(User).order_by(User.username)))
        rows = [(u, sorted(u.roles), u.manager.display_name if u.manager else "") for u in people]
    return render_template("admin/users.html", rows=rows)
