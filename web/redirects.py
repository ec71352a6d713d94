"""The one check for every `next=` a form or link carries: a path on this site, or the default.

Browsers and Werkzeug forgive a lot in a Location header: a tab or newline is dropped (`/\\t/evil.com`
becomes `//evil.com`, another site), a backslash reads as a slash, and a CR/LF would split the
header. So a target is kept only when it is a plain absolute path: one leading slash, no scheme or
host, no backslash, no control character. Anything else sends the person to `default`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import url_for

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


def is_safe(target: object) -> bool:
    """True when `target` is a same-site path safe to redirect to."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return False
    if _UNSAFE.search(target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: object, default: str | None = None) -> str:
    """`target` when it is safe (`is_safe`), else `default` (the inbox when not given)."""
    return str(target) if is_safe(target) else (default or url_for("inbox.index"))
