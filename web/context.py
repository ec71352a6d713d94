"""Accessors for the per-app objects views need: database, engine, attachment store, user."""

from __future__ import annotations

from flask import current_app, g

from engine import Database, Engine
from engine.attachments import AttachmentStore
from engine.models import User


def db() -> Database:
    return current_app.extensions["waypoint.db"]


def engine() -> Engine:
    return current_app.extensions["waypoint.engine"]


def attachments() -> AttachmentStore:
    return current_app.extensions["waypoint.attachments"]


def user() -> User:
    """The signed-in user (views behind `login_required` only)."""
    return g.user
