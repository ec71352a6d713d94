"""Identity settings as the environment gives them, and the defaults `make run` uses: no single
sign-on, no directory, passwords on."""

from __future__ import annotations

from engine.config import Settings


def test_the_defaults_are_passwords_only():
    settings = Settings.from_env({})
    assert not settings.oidc.enabled and not settings.directory.enabled
    assert settings.local_passwords and settings.break_glass == ("admin",)
    assert settings.directory.sync_cron == "15 * * * *" and settings.directory.username_attr == "uid"


def test_every_identity_variable_is_read():
    settings = Settings.from_env(
        {
            "WAYPOINT_OIDC_ISSUER": "https://login.example/tenant/v2.0/",
            "WAYPOINT_OIDC_CLIENT_ID": "cid",
            "WAYPOINT_OIDC_CLIENT_SECRET": "secret",
            "WAYPOINT_OIDC_SCOPES": "openid email groups",
            "WAYPOINT_OIDC_USERNAME_CLAIM": "upn",
            "WAYPOINT_OIDC_EMAIL_CLAIM": "mail",
            "WAYPOINT_OIDC_NAME_CLAIM": "display",
            "WAYPOINT_OIDC_GROUPS_CLAIM": "roles",
            "WAYPOINT_OIDC_LABEL": "Police account",
            "WAYPOINT_OIDC_TIMEOUT": "4",
            "WAYPOINT_LOCAL_PASSWORDS": "off",
            "WAYPOINT_BREAK_GLASS": "admin, root",
            "WAYPOINT_LDAP_URL": "ldaps://dc01:636",
            "WAYPOINT_LDAP_STARTTLS": "1",
            "WAYPOINT_LDAP_CA_FILE": "/etc/ca.pem",
            "WAYPOINT_LDAP_BIND_DN": "CN=svc",
            "WAYPOINT_LDAP_BIND_PASSWORD": "pw",
            "WAYPOINT_LDAP_BASE_DN": "OU=Staff",
            "WAYPOINT_LDAP_FILTER": "(objectClass=user)",
            "WAYPOINT_LDAP_USERNAME_ATTR": "sAMAccountName",
            "WAYPOINT_LDAP_EMAIL_ATTR": "userPrincipalName",
            "WAYPOINT_LDAP_NAME_ATTR": "cn",
            "WAYPOINT_LDAP_MANAGER_ATTR": "mgr",
            "WAYPOINT_LDAP_GROUPS_ATTR": "groups",
            "WAYPOINT_LDAP_LANGUAGE_ATTR": "lang",
            "WAYPOINT_LDAP_PAGE_SIZE": "100",
            "WAYPOINT_LDAP_TIMEOUT": "3",
            "WAYPOINT_LDAP_SYNC_CRON": "",
        }
    )
    o, d = settings.oidc, settings.directory
    assert (o.issuer, o.client_id, o.client_secret, o.scopes) == (
        "https://login.example/tenant/v2.0",
        "cid",
        "secret",
        "openid email groups",
    )
    assert (o.username_claim, o.email_claim, o.name_claim, o.groups_claim, o.label, o.timeout) == (
        "upn",
        "mail",
        "display",
        "roles",
        "Police account",
        4.0,
    )
    assert not settings.local_passwords and settings.break_glass == ("admin", "root")
    assert (d.url, d.starttls, d.ca_file, d.bind_dn, d.bind_password, d.base_dn, d.filter) == (
        "ldaps://dc01:636",
        True,
        "/etc/ca.pem",
        "CN=svc",
        "pw",
        "OU=Staff",
        "(objectClass=user)",
    )
    assert (d.username_attr, d.email_attr, d.name_attr, d.manager_attr, d.groups_attr, d.language_attr) == (
        "sAMAccountName",
        "userPrincipalName",
        "cn",
        "mgr",
        "groups",
        "lang",
    )
    assert (d.page_size, d.timeout, d.sync_cron) == (100, 3.0, "")


def test_the_sign_in_page_make_run_serves_has_passwords_and_no_provider(client):
    page = client.get("/login")
    assert 'id="password"' in page.text and "sign-in-oidc" not in page.text and "break-glass" not in page.text
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?state=x&code=y").status_code == 404
