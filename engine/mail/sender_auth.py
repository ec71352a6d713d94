"""Who really sent a reply: the evidence reply-to-approve needs before it acts (issue 19 item 3).

A `From:` header proves nothing: anyone may write any address there, and the envelope sender
(`MAIL FROM`) is no better without checks. A reply is believed only with one of two proofs, on top
of both the envelope sender and `From:` being the approver's registered address:

* **the organisation's mail server vouches for it**: the topmost `Authentication-Results` header
  (RFC 8601, parsed with `authres`) was added by an inbound MTA named in
  `WAYPOINT_MAIL_TRUSTED_AUTHSERV`, and it says `dmarc=pass` for the `From:` domain, or
  `dkim=pass` for a signing domain aligned with it. That MTA must add its header to every message
  it hands on (and drop look-alikes arriving from outside, RFC 8601 section 5); a header with
  another name, or lower down, is ignored;
* **the reply carries the notification's reply code**: a short HMAC of the reply address
  (`links.reply_code`) printed in the body of the email only the approver received, and quoted
  back by an ordinary reply. Knowing the reply address (it travels in headers and mail logs) is
  not enough to compute it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import EmailMessage

import authres  # type: ignore[import-untyped]

_CODE = re.compile(r"\b([A-Z2-7]{5})-([A-Z2-7]{5})\b")


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed DMARC alignment: the same domain, or the From domain under it."""
    domain, from_domain = domain.lower().strip(". "), from_domain.lower().strip(". ")
    return bool(domain) and (from_domain == domain or from_domain.endswith("." + domain))


def _property(result: authres.core.AuthenticationResult, name: str) -> str:
    for prop in result.properties:
        if prop.type == "header" and prop.name == name:
            return str(prop.value or "").lstrip("@").rpartition("@")[2]
    return ""


def mta_verdict(message: EmailMessage, from_domain: str, trusted: Iterable[str]) -> str | None:
    """`dmarc=pass (<mta>)` or `dkim=pass d=<domain> (<mta>)` when a trusted MTA vouches, else None."""
    trusted = {name.lower() for name in trusted}
    headers = message.get_all("Authentication-Results") or []
    if not trusted or not headers:
        return None
    try:
        top = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + " ".join(str(headers[0]).split()))
    except Exception:  # authres raises its own syntax errors; an unreadable header vouches for nothing
        return None
    mta = str(top.authserv_id or "").lower()
    if mta not in trusted:
        return None
    for result in top.results:
        if result.method == "dmarc" and result.result == "pass" and _aligned(_property(result, "from"), from_domain):
            return f"dmarc=pass ({mta})"
    for result in top.results:
        if result.method == "dkim" and result.result == "pass":
            signer = _property(result, "d") or _property(result, "i")
            if _aligned(signer, from_domain):
                return f"dkim=pass d={signer} ({mta})"
    return None


def quotes_code(text: str, code: str) -> bool:
    """True when `text` (the reply, quoted lines included) contains the reply code."""
    return any(f"{a}-{b}" == code for a, b in _CODE.findall(text.upper()))
