"""Real identity servers on 127.0.0.1 for the tests: OpenLDAP's slapd and npm's oidc-provider.

Each runs as a child process with its configuration in a temporary folder and a free high port;
`start_*` return None and a reason when the program is missing (`make test` installs both).
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ldap3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parent.parent.parent
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
NODE = shutil.which("node") or "/usr/bin/node"
PROVIDER_SCRIPT = Path(__file__).resolve().parent / "oidc_provider.mjs"
BASE_DN = "dc=example,dc=org"
ROOT_DN, ROOT_PW = f"cn=admin,{BASE_DN}", "root-secret"
SYNC_DN, SYNC_PW = f"cn=waypoint-sync,ou=services,{BASE_DN}", "sync-secret"

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {folder}/slapd.pid
database mdb
suffix "{base}"
rootdn "{root_dn}"
rootpw {root_pw}
# the sync account pages through any number of people (OpenLDAP caps a paged search at 500 by default)
limits dn.exact="{sync_dn}" size.prtotal=unlimited
directory {folder}/data
maxsize 10485760
{tls}access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{sync_dn}" read by * none
overlay memberof
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


class Slapd:
    """A slapd on loopback with an empty `dc=example,dc=org`; `admin()` binds as its root to seed and change it.

    It listens on `url` (ldap://, StartTLS offered) and `ldaps_url`, with a certificate for 127.0.0.1
    from a test CA whose certificate is `ca_file`."""

    def __init__(self, folder: Path):
        self.folder, self.port, self.tls_port = folder, free_port(), free_port()
        self.url, self.ldaps_url = f"ldap://127.0.0.1:{self.port}", f"ldaps://127.0.0.1:{self.tls_port}"
        (folder / "data").mkdir(parents=True)
        self.ca_file = write_certificates(folder)
        tls = (
            f"TLSCACertificateFile {folder}/ca.pem\nTLSCertificateFile {folder}/server.pem\n"
            f"TLSCertificateKeyFile {folder}/server.key\n"
        )
        conf = folder / "slapd.conf"
        conf.write_text(
            SLAPD_CONF.format(folder=folder, base=BASE_DN, root_dn=ROOT_DN, root_pw=ROOT_PW, sync_dn=SYNC_DN, tls=tls)
        )
        self.log = (folder / "slapd.log").open("w")
        self.process = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", f"{self.url}/ {self.ldaps_url}/", "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        _wait_for_port(self.port, self.process)
        _wait_for_port(self.tls_port, self.process)

    def admin(self) -> ldap3.Connection:
        return ldap3.Connection(ldap3.Server(self.url), ROOT_DN, ROOT_PW, auto_bind=True)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


class OidcProvider:
    """oidc-provider under Node.js on loopback: one confidential client, accounts with passwords and claims."""

    def __init__(self, folder: Path, redirect_uri: str, logout_uri: str, accounts: dict, port: int | None = None):
        self.folder, self.port = folder, port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id, self.client_secret = "waypoint", "waypoint-test-secret"
        self.redirect_uri, self.logout_uri, self.accounts = redirect_uri, logout_uri, accounts
        self.process: subprocess.Popen | None = None
        self.keys = [new_signing_key()]

    def start(self, id_token_ttl: int = 3600, claims_in_userinfo_only: bool = False) -> None:
        config = {
            "port": self.port,
            "issuer": self.issuer,
            "idTokenTtl": id_token_ttl,
            "conformIdTokenClaims": claims_in_userinfo_only,
            "jwks": {"keys": self.keys},
            "accounts": self.accounts,
            "clients": [
                {
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "redirect_uris": [self.redirect_uri],
                    "post_logout_redirect_uris": [self.logout_uri],
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            ],
        }
        path = self.folder / "provider.json"
        path.write_text(json.dumps(config))
        with (self.folder / "provider.log").open("a") as log:
            self.process = subprocess.Popen(
                [NODE, str(PROVIDER_SCRIPT), str(path)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
            )
        _wait_for_port(self.port, self.process, 30)

    def rotate_keys(self) -> None:
        """Restart with a new signing key only (the old one gone from the JWKS), on the same port."""
        self.stop()
        self.keys = [new_signing_key()]
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def write_certificates(folder: Path) -> Path:
    """A test CA and a server certificate for 127.0.0.1 signed by it (ca.pem, server.pem, server.key)."""
    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Waypoint test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "ca.pem"


def new_signing_key() -> dict:
    """A fresh RS256 key (private JWK) with a unique kid."""
    key = RSAKey.generate_key(2048, private=True)
    data = dict(key.as_dict(private=True))
    data.update(kid=key.thumbprint(), alg="RS256", use="sig")
    return data


def problem(program: str, what: str) -> str | None:
    """Why `program` cannot run here (None when it can)."""
    if not Path(program).exists():
        return f"{what} not found at {program}: `make test` installs it (as root)"
    return None


def provider_problem() -> str | None:
    if reason := problem(NODE, "Node.js"):
        return reason
    if not (ROOT / "node_modules" / "oidc-provider" / "package.json").exists():
        return "npm package oidc-provider missing: `make test` runs `npm ci` (package.json devDependencies)"
    return None
