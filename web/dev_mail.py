"""Captured mail (development only): what `waypoint mail-sink` received, for admins to read.

`make run` sends Waypoint's email to a local sink (engine/mail/capture.py); this page shows it, so a
newcomer sees every notification without a mail server. In production the page does not exist (404).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from engine.mail.capture import captured

from .auth import role_required

bp = Blueprint("dev_mail", __name__, url_prefix="/admin")


@bp.get("/mail")
@role_required("admin")
def mail():
    """The newest captured emails, each with its recipients, subject and text."""
    settings = current_app.config["WAYPOINT_SETTINGS"]
    if settings.is_production:
        abort(404)
    folder = settings.mail_capture_dir
    return render_template("admin/captured_mail.html", messages=captured(folder), folder=folder)
