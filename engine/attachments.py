"""Files attached to requests: type- and size-checked, stored by content hash outside the web root,
encrypted with the data key (engine/privacy/vault.py) in folders only the service account can
open (0700, files 0600). Files stored in clear before encryption are still read as they are."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import FieldError, NotFound, ValidationFailed
from engine.models import Attachment, ProcessInstance, User
from engine.privacy.vault import Vault
from engine.versions import latest_definition

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
#: Accepted types, recognised by their first bytes (the browser's claim is not trusted).
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def sniff_type(content: bytes) -> str | None:
    """The accepted content type whose signature `content` starts with, if any."""
    for content_type, signatures in SIGNATURES.items():
        if any(content.startswith(sig) for sig in signatures):
            return content_type
    return None


def safe_filename(name: str) -> str:
    """A display name without path parts or odd characters."""
    base = os.path.basename(name.replace("\\", "/")).strip() or "attachment"
    return _UNSAFE.sub("_", base)[:200]


class AttachmentStore:
    """Content-addressed files under a root folder (e.g. instance/attachments)."""

    def __init__(self, root: str | Path, vault: Vault | None = None):
        # absolute: a relative root would mean one folder to the writer and another to whoever serves it
        self.root = Path(root).resolve()
        self.vault = vault or Vault(None)

    def path_for(self, digest: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise NotFound("no_such_file")
        return self.root / digest[:2] / digest

    def add(
        self,
        session: Session,
        instance: ProcessInstance,
        user: User,
        filename: str,
        content: bytes,
        now: datetime,
        task_id: str | None = None,
    ) -> Attachment:
        """Check and store a file for `instance`; the caller has checked the user may see it."""
        if not content:
            raise ValidationFailed("file_empty", [FieldError("file", "choose_a_file")])
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise ValidationFailed(
                "file_too_large",
                [FieldError("file", "files_at_most", limit=MAX_ATTACHMENT_BYTES // (1024 * 1024))],
                limit=MAX_ATTACHMENT_BYTES // (1024 * 1024),
            )
        content_type = sniff_type(content)
        if content_type is None:
            raise ValidationFailed("file_type_refused", [FieldError("file", "unsupported_type")])
        digest = hashlib.sha256(content).hexdigest()
        path = self.path_for(digest)
        if not path.exists():
            self._write(path, self.vault.seal_file(content))
        attachment = Attachment(
            instance_id=instance.id,
            task_id=task_id,
            filename=safe_filename(filename),
            content_type=content_type,
            size=len(content),
            sha256=digest,
            uploaded_by_id=user.id,
            uploaded_at=now,
        )
        session.add(attachment)
        session.flush()
        return attachment

    def read(self, attachment: Attachment) -> bytes:
        """The file's content in clear (decrypted, or as stored when it predates encryption)."""
        path = self.path_for(attachment.sha256)
        if not path.exists():
            raise NotFound("file_missing")
        return self.vault.open_file(path.read_bytes())

    def reseal_all(self) -> int:
        """Encrypt every stored file with the current key (files in clear from before encryption,
        files under an older key); return how many were rewritten. Part of `waypoint privacy rotate`:
        afterwards the older key can go."""
        current = self.vault.keyring.current.encode()
        rewritten = 0
        for path in sorted(self.root.glob("??/*")) if self.root.is_dir() else []:
            if not re.fullmatch(r"[0-9a-f]{64}", path.name):
                continue  # a temporary file of an interrupted write
            stored = path.read_bytes()
            if self.vault.file_key(stored) == current:
                continue
            self._write(path, self.vault.seal_file(self.vault.open_file(stored)))
            rewritten += 1
        return rewritten

    def _write(self, path: Path, stored: bytes) -> None:
        for folder in (self.root, path.parent):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)  # mkdir's mode goes through the umask
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(stored)
        os.replace(tmp, path)


def start_files_rule(schema: dict | None) -> tuple[int, dict]:
    """A start form's `x-attachments` ({"required": 1, "title": "Agenda", "x-fr": {...}}): how many
    files the request needs and the node naming them (its title, in both languages)."""
    rule = (schema or {}).get("x-attachments")
    if not isinstance(rule, dict):
        return 0, {}
    required = rule.get("required", 0)
    return (required if isinstance(required, int) and required > 0 else 0), rule


def check_files(files: list[tuple[str, bytes]], required: int = 0, field: str = "attachments") -> None:
    """Refuse, before anything is stored, fewer than `required` files or one `add` would refuse."""
    problems: list[FieldError] = []
    if len(files) < required:
        problems.append(FieldError(field, "attach_at_least", count=required))
    for name, content in files:
        if len(content) > MAX_ATTACHMENT_BYTES:
            problems.append(FieldError(field, "files_at_most", limit=MAX_ATTACHMENT_BYTES // (1024 * 1024)))
        elif not content or sniff_type(content) is None:
            problems.append(FieldError(field, "file_not_accepted", name=safe_filename(name)))
    if problems:
        raise ValidationFailed("attachments_refused", problems[:1])


def check_start_files(engine: Any, session: Session, key: str, files: Sequence[tuple[str, bytes]]) -> None:
    """Refuse `files` for a new request of `key` (too few for its start form, or one refused)."""
    parsed = engine.specs.get(session, latest_definition(session, key))
    required, _rule = start_files_rule(parsed.form(parsed.start_form))
    check_files(list(files), required)


def start_with_files(
    engine: Any,
    store: AttachmentStore,
    session: Session,
    key: str,
    data: Mapping[str, Any] | None,
    user: User | None,
    files: Sequence[tuple[str, bytes]] = (),
    **options: Any,
) -> ProcessInstance:
    """Start a request of `key` as `user` (None: the system) and attach `files`, in the caller's
    transaction (both or neither), for every channel (page, API, CLI): refused before anything runs
    when the start form asks for more files (`x-attachments.required`) than given, or a file would be
    refused. Files need a person to have attached them."""
    check_start_files(engine, session, key, files)
    instance = engine.start(session, key, data, user.username if user is not None else None, **options)
    if user is not None:
        for name, content in files:
            store.add(session, instance, user, name, content, engine.clock.now())
    return instance


def list_for(session: Session, instance_id: int) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment).where(Attachment.instance_id == instance_id).order_by(Attachment.uploaded_at)
        )
    )
