"""Settings read from `WAYPOINT_*` environment variables, with safe defaults for a laptop.

This is the only module that reads the environment: the composition roots (`web.create_app`,
the CLI) call `Settings.from_env()` once and hand what each part needs to it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-insecure-change-me"
DEFAULT_ATTACHMENTS_DIR = Path("instance") / "attachments"
DEFAULT_MAIL_CAPTURE_DIR = Path("instance") / "captured-mail"
DEFAULT_DATABASE_URL = "sqlite:///instance/waypoint.db"


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpSettings:
    """Where outgoing mail goes (`WAYPOINT_SMTP_*`)."""

    host: str = "127.0.0.1"
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    sender: str = "waypoint@localhost"
    timeout: float = 10.0


@dataclass(frozen=True)
class MailSettings:
    """How task emails behave (`WAYPOINT_MAIL_REPLY_DOMAIN`, `_EMAIL_TOKEN_DAYS`, `_DIGEST_HOUR`, `_EMAILS`)."""

    #: domain of reply-to-approve addresses (`r-<token>@domain`); None: no Reply-To, no mail-in
    reply_domain: str | None = None
    token_days: float = 7.0
    digest_hour: int = 7
    #: False: actions write no email (timers are still kept)
    enabled: bool = True
    #: authserv-ids of the inbound MTAs whose `Authentication-Results` reply-to-approve believes
    trusted_authserv: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecuritySettings:
    """Proxies, metrics credentials (`WAYPOINT_TRUSTED_PROXIES`, `_METRICS_TOKEN`, `_METRICS_ALLOW`)."""

    #: how many reverse proxies in front of the app set `X-Forwarded-For`/`-Proto` (0: trust none)
    trusted_proxies: int = 0
    #: bearer token Prometheus sends to `/metrics`; None: only the allow-listed addresses
    metrics_token: str | None = None
    #: client addresses that may read `/metrics` without the token
    metrics_allow: tuple[str, ...] = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class OidcSettings:
    """Sign-in through an OpenID Connect provider (`WAYPOINT_OIDC_*`); off while `issuer` is empty."""

    issuer: str = ""
    client_id: str = ""
    client_secret: str = ""
    scopes: str = "openid profile email"
    #: which ID-token claims carry the person's username, email, display name and groups
    username_claim: str = "preferred_username"
    email_claim: str = "email"
    name_claim: str = "name"
    groups_claim: str = "groups"
    #: what the sign-in button names ("Sign in with …")
    label: str = "single sign-on"
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)


@dataclass(frozen=True)
class DirectorySettings:
    """People, managers and groups read from LDAP or Active Directory (`WAYPOINT_LDAP_*`); off while `url` is empty."""

    url: str = ""
    starttls: bool = False
    ca_file: str | None = None
    bind_dn: str = ""
    bind_password: str = ""
    base_dn: str = ""
    filter: str = "(objectClass=inetOrgPerson)"
    username_attr: str = "uid"
    email_attr: str = "mail"
    name_attr: str = "displayName"
    manager_attr: str = "manager"
    groups_attr: str = "memberOf"
    language_attr: str = "preferredLanguage"
    page_size: int = 500
    timeout: float = 10.0
    #: when the worker syncs (crontab, office time); empty: only `waypoint directory sync`
    sync_cron: str = "15 * * * *"

    @property
    def enabled(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a Waypoint process."""

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = DEFAULT_SECRET_KEY
    environment: str = "development"
    timezone: str = "America/Toronto"
    base_url: str = "http://127.0.0.1:5000"
    https: bool = False
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    #: one JSON object per log line (`WAYPOINT_LOG_JSON=1`), for web and worker alike
    log_json: bool = False
    #: `kid:base64key[,...]` for personal data at rest (engine/privacy/vault.py)
    data_key: str | None = None
    #: where attached files are kept (`WAYPOINT_ATTACHMENTS_DIR`), absolute: every process finds the same folder
    attachments_dir: Path = DEFAULT_ATTACHMENTS_DIR
    #: the Maildir `waypoint mail-sink` fills and /admin/mail shows in development (`WAYPOINT_MAIL_CAPTURE_DIR`)
    mail_capture_dir: Path = DEFAULT_MAIL_CAPTURE_DIR
    security: SecuritySettings = field(default_factory=SecuritySettings)
    #: the role whose queue gets a task nobody but its requester could work (`WAYPOINT_FALLBACK_ROLE`)
    fallback_role: str = "itv_coordinator"
    oidc: OidcSettings = field(default_factory=OidcSettings)
    directory: DirectorySettings = field(default_factory=DirectorySettings)
    #: sign-in with Waypoint passwords (`WAYPOINT_LOCAL_PASSWORDS=off`: only the break-glass accounts keep theirs)
    local_passwords: bool = True
    #: accounts that keep their password when local passwords are off (`WAYPOINT_BREAK_GLASS`, comma-separated)
    break_glass: tuple[str, ...] = ("admin",)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (default: the process environment)."""
        e = os.environ if env is None else env
        return cls(
            database_url=e.get("WAYPOINT_DATABASE_URL") or DEFAULT_DATABASE_URL,
            secret_key=e.get("WAYPOINT_SECRET_KEY") or DEFAULT_SECRET_KEY,
            environment=e.get("WAYPOINT_ENV", "development"),
            timezone=e.get("WAYPOINT_TIMEZONE", "America/Toronto"),
            base_url=e.get("WAYPOINT_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            https=_bool(e.get("WAYPOINT_HTTPS")),
            smtp=_smtp_from(e),
            mail=_mail_from(e),
            log_json=e.get("WAYPOINT_LOG_JSON") == "1",
            data_key=e.get("WAYPOINT_DATA_KEY") or _read_key_file(e.get("WAYPOINT_DATA_KEY_FILE", "instance/data.key")),
            attachments_dir=Path(e.get("WAYPOINT_ATTACHMENTS_DIR") or DEFAULT_ATTACHMENTS_DIR).resolve(),
            mail_capture_dir=Path(e.get("WAYPOINT_MAIL_CAPTURE_DIR") or DEFAULT_MAIL_CAPTURE_DIR).resolve(),
            security=_security_from(e),
            fallback_role=e.get("WAYPOINT_FALLBACK_ROLE") or "itv_coordinator",
            oidc=_oidc_from(e),
            directory=_directory_from(e),
            local_passwords=_bool(e.get("WAYPOINT_LOCAL_PASSWORDS"), default=True),
            break_glass=_words(e.get("WAYPOINT_BREAK_GLASS", "admin")),
        )


def _words(value: str | None) -> tuple[str, ...]:
    return tuple(w.strip() for w in (value or "").split(",") if w.strip())


def _security_from(e: Mapping[str, str]) -> SecuritySettings:
    allow = e.get("WAYPOINT_METRICS_ALLOW")
    return SecuritySettings(
        trusted_proxies=int(e.get("WAYPOINT_TRUSTED_PROXIES") or "0"),
        metrics_token=e.get("WAYPOINT_METRICS_TOKEN") or None,
        metrics_allow=SecuritySettings.metrics_allow if allow is None else _words(allow),
    )


def _smtp_from(e: Mapping[str, str]) -> SmtpSettings:
    return SmtpSettings(
        host=e.get("WAYPOINT_SMTP_HOST", "127.0.0.1"),
        port=int(e.get("WAYPOINT_SMTP_PORT", "25")),
        username=e.get("WAYPOINT_SMTP_USER") or None,
        password=e.get("WAYPOINT_SMTP_PASSWORD") or None,
        starttls=_bool(e.get("WAYPOINT_SMTP_STARTTLS")),
        ssl=_bool(e.get("WAYPOINT_SMTP_SSL")),
        sender=e.get("WAYPOINT_SMTP_FROM", "waypoint@localhost"),
        timeout=float(e.get("WAYPOINT_SMTP_TIMEOUT", "10")),
    )


def _mail_from(e: Mapping[str, str]) -> MailSettings:
    return MailSettings(
        reply_domain=e.get("WAYPOINT_MAIL_REPLY_DOMAIN") or None,
        token_days=float(e.get("WAYPOINT_EMAIL_TOKEN_DAYS", "7")),
        digest_hour=int(e.get("WAYPOINT_DIGEST_HOUR", "7")),
        enabled=e.get("WAYPOINT_EMAILS", "on").strip().lower() not in ("0", "off", "false", "no"),
        trusted_authserv=tuple(w.lower() for w in _words(e.get("WAYPOINT_MAIL_TRUSTED_AUTHSERV"))),
    )


def _oidc_from(e: Mapping[str, str]) -> OidcSettings:
    d = OidcSettings()
    return OidcSettings(
        issuer=e.get("WAYPOINT_OIDC_ISSUER", "").rstrip("/"),
        client_id=e.get("WAYPOINT_OIDC_CLIENT_ID", ""),
        client_secret=e.get("WAYPOINT_OIDC_CLIENT_SECRET", ""),
        scopes=e.get("WAYPOINT_OIDC_SCOPES") or d.scopes,
        username_claim=e.get("WAYPOINT_OIDC_USERNAME_CLAIM") or d.username_claim,
        email_claim=e.get("WAYPOINT_OIDC_EMAIL_CLAIM") or d.email_claim,
        name_claim=e.get("WAYPOINT_OIDC_NAME_CLAIM") or d.name_claim,
        groups_claim=e.get("WAYPOINT_OIDC_GROUPS_CLAIM") or d.groups_claim,
        label=e.get("WAYPOINT_OIDC_LABEL") or d.label,
        timeout=float(e.get("WAYPOINT_OIDC_TIMEOUT", "10")),
    )


def _directory_from(e: Mapping[str, str]) -> DirectorySettings:
    d = DirectorySettings()
    return DirectorySettings(
        url=e.get("WAYPOINT_LDAP_URL", ""),
        starttls=_bool(e.get("WAYPOINT_LDAP_STARTTLS")),
        ca_file=e.get("WAYPOINT_LDAP_CA_FILE") or None,
        bind_dn=e.get("WAYPOINT_LDAP_BIND_DN", ""),
        bind_password=e.get("WAYPOINT_LDAP_BIND_PASSWORD", ""),
        base_dn=e.get("WAYPOINT_LDAP_BASE_DN", ""),
        filter=e.get("WAYPOINT_LDAP_FILTER") or d.filter,
        username_attr=e.get("WAYPOINT_LDAP_USERNAME_ATTR") or d.username_attr,
        email_attr=e.get("WAYPOINT_LDAP_EMAIL_ATTR") or d.email_attr,
        name_attr=e.get("WAYPOINT_LDAP_NAME_ATTR") or d.name_attr,
        manager_attr=e.get("WAYPOINT_LDAP_MANAGER_ATTR") or d.manager_attr,
        groups_attr=e.get("WAYPOINT_LDAP_GROUPS_ATTR") or d.groups_attr,
        language_attr=e.get("WAYPOINT_LDAP_LANGUAGE_ATTR") or d.language_attr,
        page_size=int(e.get("WAYPOINT_LDAP_PAGE_SIZE", "500")),
        timeout=float(e.get("WAYPOINT_LDAP_TIMEOUT", "10")),
        sync_cron=e.get("WAYPOINT_LDAP_SYNC_CRON", d.sync_cron),
    )


def _read_key_file(path: str) -> str | None:
    """The key in `path` when the file exists (how `make run` keeps its development key)."""
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def ensure_sqlite_directory(database_url: str) -> None:
    """Create the folder of a file-based SQLite URL so a fresh checkout just works."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        path = Path(database_url[len(prefix) :].split("?", 1)[0])
        if str(path):
            path.parent.mkdir(parents=True, exist_ok=True)
