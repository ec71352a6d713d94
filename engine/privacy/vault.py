"""Personal information: which fields are personal, their encryption at rest, and masking.

Form schemas mark personal fields with `"x-sensitive": true` (passport numbers, birth dates,
screening results) or `"x-personal": true` (names and nationalities). Both are encrypted
(AES-256-GCM-SIV from the `cryptography` library, never a home-made cipher; the nonce is
derived from the value with HMAC, so an unchanged value keeps its ciphertext and stored states
stay byte-stable across saves, at the price of showing when two stored values are equal) wherever Waypoint
stores task data: the serialized workflow and the instance's data snapshot. A stored value
reads `enc:v1:<key id>:<base64 nonce+ciphertext>`; keys come from `WAYPOINT_DATA_KEY` as
`kid:base64key[,kid:base64key...]`, the first one encrypting, all of them decrypting, so
keys rotate by putting a new one first and re-encrypting (`waypoint privacy rotate`).

Specific field names (`passport_number`, `date_of_birth`) are protected wherever they
appear (copies in multi-instance items and message payloads included); generic names
(`number`, `expiry`) only under the parent that declares them (`current_passport.number`).
`SENSITIVE_EVERYWHERE` names are sensitive in every process, declared by a form or not: they
also arrive in message payloads and script results, which have no form. Variables a script
derives from personal values (engine/privacy/taint.py) are covered as top-level task data
(`Classification.top`). A mask reveals nothing of the value (`••••`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from engine.errors import WaypointError

PREFIX = "enc:v1:"
#: first bytes of an encrypted file (attachments); files without it were stored in clear before
FILE_PREFIX = b"WPENC1\0"
#: Roles whose work needs personal data in clear (besides the requester for their own request).
REVEAL_ROLES = frozenset({"passport_officer", "security", "itv_coordinator", "senior_management"})
GENERIC_NAMES = frozenset({"number", "value", "id", "name", "expiry", "date", "note", "notes", "text", "code"})
#: Sensitive in every process whatever its forms say (a passport authority's message, say).
SENSITIVE_EVERYWHERE = frozenset({"passport_number", "date_of_birth"})
MASK = "••••"
#: parents of top-level task data: none (the data snapshot), or in the serialized state a task's
#: `data` or the `updates` of its delta against its parent
TOP_PARENTS = (None, "data", "updates")
#: form keywords that make a field personal (both are sealed, masked and purged alike)
PERSONAL_KEYWORDS = ("x-sensitive", "x-personal")
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: a sealed value in JSON text; `_whole_value` tells one that is a whole string value
_TOKEN = re.compile(r'"enc:v1:([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/=]*)"')
_BEFORE_VALUE, _AFTER_VALUE = frozenset("[{,: \n\t\r"), re.compile(r"\s*(?:[,}\]]|$)")
#: a memo of ciphertexts (see `Vault`) is dropped when it grows past this many values
MEMO_LIMIT = 4096


class DataKeyError(WaypointError):
    """The data key is missing, malformed, or does not fit what is stored."""

    status = 500
    kind = "data_key"


@dataclass(frozen=True)
class Keyring:
    """Encryption keys by id; `current` encrypts, any decrypts."""

    keys: dict[str, bytes]
    current: str
    #: a cipher per key id, made on first use (making one costs more than a value's encryption)
    _ciphers: dict[str, AESGCMSIV] = field(default_factory=dict, init=False, repr=False, compare=False)

    def cipher(self, kid: str) -> AESGCMSIV:
        """The cipher of key `kid`; DataKeyError when the keyring does not hold it."""
        cipher = self._ciphers.get(kid)
        if cipher is None:
            key = self.keys.get(kid)
            if key is None:
                raise DataKeyError("data_key_unknown", kid=kid)
            cipher = self._ciphers[kid] = AESGCMSIV(key)
        return cipher

    @classmethod
    def parse(cls, text: str | None) -> Keyring:
        """`kid:base64key,...` → Keyring; a clear error when absent or malformed."""
        if not text or not text.strip():
            raise DataKeyError("data_key_missing")
        keys: dict[str, bytes] = {}
        order = []
        for part in text.split(","):
            kid, sep, encoded = part.strip().partition(":")
            if not sep or not _KID.match(kid):
                raise DataKeyError("data_key_format")
            try:
                key = base64.b64decode(encoded, validate=True)
            except ValueError as exc:
                raise DataKeyError("data_key_not_base64", kid=kid) from exc
            if len(key) != 32:
                raise DataKeyError("data_key_length", kid=kid, length=len(key))
            keys[kid] = key
            order.append(kid)
        return cls(keys, order[0])

    @staticmethod
    def new_key(kid: str = "k1") -> str:
        """A fresh `kid:base64key` entry."""
        return f"{kid}:{base64.b64encode(AESGCMSIV.generate_key(bit_length=256)).decode()}"

    def encrypt(self, value: Any, memo: dict[bytes, str] | None = None) -> str:
        """`enc:v1:<kid>:<nonce+ciphertext>` of the JSON text of `value`. With a `memo` (plaintext →
        ciphertext under the current key), a plaintext it holds keeps its ciphertext, and a fresh
        one is remembered: the same bytes encrypting again would give (the nonce is derived)."""
        plain = json.dumps(value, sort_keys=True).encode()
        token = memo.get(plain) if memo is not None else None
        if token is not None:
            return token
        key = self.keys[self.current]
        nonce = hmac.new(key, b"waypoint-nonce:" + plain, hashlib.sha256).digest()[:12]
        sealed = self.cipher(self.current).encrypt(nonce, plain, self.current.encode())
        token = f"{PREFIX}{self.current}:{base64.b64encode(nonce + sealed).decode()}"
        if memo is not None:
            memo[plain] = token
        return token

    def _open(self, kid: str, body: str) -> bytes:
        """The JSON text a sealed value holds, from its key id and base64 body; DataKeyError when
        the key is unknown or wrong."""
        cipher, raw = self.cipher(kid), base64.b64decode(body)
        try:
            return cipher.decrypt(raw[:12], raw[12:], kid.encode())
        except InvalidTag as exc:
            raise DataKeyError("data_key_wrong", kid=kid) from exc

    def unseal_text(self, text: str, memo: dict[bytes, str] | None = None) -> str:
        """JSON `text` with each sealed value replaced by the JSON text it holds: one scan of the
        text, no walk of the tree. With a `memo`, each plaintext under the current key is
        remembered with its ciphertext (see `encrypt`)."""

        def opened(match: re.Match[str]) -> str:
            if not _whole_value(match):
                return match.group(0)
            kid, body = match.groups()
            plain = self._open(kid, body)
            if memo is not None and kid == self.current:
                memo[plain] = match.group(0)[1:-1]
            return plain.decode()

        return _TOKEN.sub(opened, text) if PREFIX in text else text

    def encrypt_bytes(self, plain: bytes) -> bytes:
        """A file's content sealed with the current key: `FILE_PREFIX`, key id, nonce, ciphertext."""
        kid, nonce = self.current.encode(), os.urandom(12)
        sealed = self.cipher(self.current).encrypt(nonce, plain, b"file:" + kid)
        return FILE_PREFIX + bytes([len(kid)]) + kid + nonce + sealed

    def decrypt_bytes(self, stored: bytes) -> bytes:
        """The content of `encrypt_bytes` output; DataKeyError when the key is unknown or wrong."""
        size = stored[len(FILE_PREFIX)]
        start = len(FILE_PREFIX) + 1
        kid = stored[start : start + size]
        cipher, body = self.cipher(kid.decode("ascii", "replace")), stored[start + size :]
        try:
            return cipher.decrypt(body[:12], body[12:], b"file:" + kid)
        except InvalidTag as exc:
            raise DataKeyError("data_key_wrong", kid=kid.decode("ascii", "replace")) from exc


def _whole_value(match: re.Match[str]) -> bool:
    """Whether a `_TOKEN` match is a whole string value: its opening quote follows a structural
    character (inside a string a quote is escaped as \\"), and a key's colon does not follow it."""
    start, text = match.start(), match.string
    return (start == 0 or text[start - 1] in _BEFORE_VALUE) and _AFTER_VALUE.match(text, match.end()) is not None


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


@dataclass(frozen=True)
class Classification:
    """Which data keys are personal: names protected anywhere, and (parent, name) pairs."""

    names: frozenset[str] = frozenset()
    qualified: frozenset[tuple[str, str]] = frozenset()
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: variables derived from personal values: covered at the top of task data only
    #: (`TOP_PARENTS`), so that no key of the serializer's own is taken for one
    top: frozenset[str] = frozenset()
    #: `keys_under` of the parents with keys of their own (the top of task data, the containers),
    #: computed on first use; any other parent has `names` alone, and is not kept: a state's
    #: mappings sit under task ids, and keeping one entry per id grew without end (issue 21)
    _under: dict[str | None, frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, hash=False, compare=False
    )

    def __bool__(self) -> bool:
        return bool(self.names or self.qualified or self.top)

    def covers(self, parent: str | None, key: str) -> bool:
        return key in self.keys_under(parent)

    def keys_under(self, parent: str | None) -> frozenset[str]:
        """The personal keys of a mapping under the key `parent`."""
        if not self._under:  # filled in one dict.update: another thread sees it empty or whole
            self._under.update({above: self._keys_of(above) for above in {*TOP_PARENTS, *self.containers}})
        return self._under.get(parent, self.names)

    def _keys_of(self, parent: str | None) -> frozenset[str]:
        keys = self.names | {key for above, key in self.qualified if above == parent}
        return keys | self.top if parent in TOP_PARENTS else keys

    def with_top(self, derived: Iterable[str]) -> Classification:
        """This classification plus `derived` top-level variables."""
        return Classification(self.names, self.qualified, self.labels, self.top | frozenset(derived))

    @property
    def containers(self) -> frozenset[str]:
        """Keys whose children the forms classify one by one (`members`, `current_passport`)."""
        return frozenset(parent for parent, _ in self.qualified)


def classify(schemas: Iterable[Mapping[str, Any]], keywords: tuple[str, ...] = PERSONAL_KEYWORDS) -> Classification:
    """The fields a set of form schemas marks with any of `keywords` (default: every personal one,
    `x-sensitive` and `x-personal`), and `SENSITIVE_EVERYWHERE`."""
    names: set[str] = set(SENSITIVE_EVERYWHERE)
    qualified: set[tuple[str, str]] = set()

    def walk(node: Mapping[str, Any], parent: str | None) -> None:
        for key, child in (node.get("properties") or {}).items():
            if not isinstance(child, Mapping):
                continue
            if any(child.get(k) for k in keywords):
                if key in GENERIC_NAMES and parent:
                    qualified.add((parent, key))
                else:
                    names.add(key)
            if child.get("type") == "object":
                walk(child, key)
            elif child.get("type") == "array" and isinstance(child.get("items"), Mapping):
                walk(child["items"], key)

    for schema in schemas:
        walk(schema, None)
    return Classification(frozenset(names), frozenset(qualified))


def transform(tree: Any, classification: Classification, fn: Callable[[Any], Any], parent: str | None = None) -> Any:
    """A copy of `tree` with `fn` applied to every value of a sensitive key (any depth)."""
    if isinstance(tree, dict):
        covered = classification.keys_under(parent)
        if covered.isdisjoint(tree):  # most mappings of a workflow state: only look for deeper ones
            return {k: transform(v, classification, fn, k) if isinstance(v, _NESTED) else v for k, v in tree.items()}
        return {
            k: fn(v) if k in covered else transform(v, classification, fn, k) if isinstance(v, _NESTED) else v
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [transform(v, classification, fn, parent) if isinstance(v, _NESTED) else v for v in tree]
    return tree


_NESTED = (dict, list)


def personal_paths(tree: Any, personal: Classification, path: str = "", parent: str | None = None) -> list[str]:
    """Dotted paths of the personal values in `tree` (for the access log)."""
    found: list[str] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            here = f"{path}.{key}" if path else key
            if personal.covers(parent, key):
                found.append(here)
            else:
                found += personal_paths(value, personal, here, key)
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += personal_paths(value, personal, f"{path}.{index}", parent)
    return found


def seal(tree: Any, classification: Classification, keyring: Keyring, memo: dict[bytes, str] | None = None) -> Any:
    """Encrypt every sensitive value not yet encrypted (with `memo`: see `Keyring.encrypt`)."""
    return transform(tree, classification, lambda v: v if v is None or is_encrypted(v) else keyring.encrypt(v, memo))


def unseal(tree: Any, classification: Classification, keyring: Keyring) -> Any:
    """Decrypt every encrypted value (whatever its key: classification may have changed)."""
    return json.loads(keyring.unseal_text(json.dumps(tree)))


def mask_value(value: Any) -> str:
    """`••••` for any value, whatever its length or content (a mask that kept the last characters
    would give away a birth day or most of a short name); empty stays empty."""
    return "" if value is None or value == "" else MASK


def mask(tree: Any, classification: Classification) -> Any:
    """A copy with every personal value (encrypted or not) replaced by its mask."""
    return transform(tree, classification, mask_value)


def redact(tree: Any, classification: Classification) -> Any:
    """A copy with every personal value removed (None): what summary lines and report facets
    are computed from, so they never carry personal data whatever a process's glue does."""
    return transform(tree, classification, lambda _value: None)


class Vault:
    """The engine's personal-data protection: seals and unseals stored trees with the keyring from
    WAYPOINT_DATA_KEY, parsed only when needed (processes without personal fields never ask).

    An action reads a workflow (`unseal_state`), changes little of it and stores it again (`seal`,
    state and data snapshot): the vault remembers, per thread, the ciphertext of each value of the
    workflow it last read under the current key, and sealing an equal value gives that ciphertext
    back instead of encrypting again. It is what encrypting again gives (the nonce is derived from
    the value), so nothing stored changes: changed values are encrypted afresh, values under an
    older key are not remembered (rotation re-encrypts them), and each read starts a new memo.
    """

    def __init__(self, key_text: str | None):
        self._key_text = key_text
        self._keyring: Keyring | None = None
        self._local = threading.local()

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            self._keyring = Keyring.parse(self._key_text)
        return self._keyring

    def check(self) -> None:
        """Raise DataKeyError now when a key is configured but malformed."""
        if self._key_text:
            _ = self.keyring

    def seal(self, tree: Any, classification: Classification) -> Any:
        return seal(tree, classification, self.keyring, self._memo()) if classification else tree

    def unseal(self, tree: Any) -> Any:
        return unseal(tree, Classification(), self.keyring)

    def unseal_state(self, text: str) -> str:
        """A stored workflow state (JSON text) with its personal values in clear; starts this
        thread's memo of their ciphertexts."""
        memo: dict[bytes, str] = {}
        self._local.memo = memo
        return self.keyring.unseal_text(text, memo)

    def forget(self) -> None:
        """Drop this thread's memo: a save calls it once sealed, so no value it read stays in
        memory in clear after the action."""
        self._local.memo = None

    def _memo(self) -> dict[bytes, str]:
        memo = getattr(self._local, "memo", None)
        if memo is None or len(memo) > MEMO_LIMIT:  # many saves without a read (starts): bounded
            memo = self._local.memo = {}
        return memo

    def clear(self, tree: Any) -> Any:
        """`tree` with its encrypted values decrypted; as it is (no key needed) when it holds none."""
        return self.unseal(tree) if PREFIX in json.dumps(tree, default=str) else tree

    def seal_file(self, content: bytes) -> bytes:
        """A file's content encrypted with the current key, or as it is when no key is configured
        (development without `instance/data.key`; production refuses to start without one)."""
        return self.keyring.encrypt_bytes(content) if self._key_text else content

    def file_key(self, stored: bytes) -> bytes | None:
        """The id of the key a stored file is encrypted with (None: stored in clear)."""
        if not stored.startswith(FILE_PREFIX):
            return None
        size = stored[len(FILE_PREFIX)]
        return stored[len(FILE_PREFIX) + 1 : len(FILE_PREFIX) + 1 + size]

    def open_file(self, stored: bytes) -> bytes:
        """A stored file's content: decrypted, or as it is when it was stored in clear."""
        return self.keyring.decrypt_bytes(stored) if stored.startswith(FILE_PREFIX) else stored
