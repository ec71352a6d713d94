"""The one way Waypoint reads BPMN/DMN XML: UTF-8 only, no DTDs, no entities, no network, size-capped.

Every uploaded or deployed file goes through `parse_xml`, which refuses a document type
declaration outright (that is where XXE and "billion laughs" live) before lxml sees it,
then parses with entity resolution, DTD loading and network access switched off and
libxml2's default depth limit kept (no `huge_tree`). The byte scan only works on UTF-8: in
UTF-7, `+ADw-!DOCTYPE` is a DOCTYPE libxml2 decodes while the scan sees none. So an XML
declaration naming any other encoding is refused before parsing, and a parsed document that
still has a DOCTYPE or an internal DTD is refused after.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from engine.errors import DefinitionError

MAX_FILE_BYTES = 2 * 1024 * 1024
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARED = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)
_UTF8_NAMES = frozenset({"utf-8", "utf8"})

_PARSER_OPTIONS: dict[str, Any] = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=False,
)


def to_bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def parse_xml(content: str | bytes, filename: str, max_bytes: int = MAX_FILE_BYTES):
    """Parse `content` safely and return the root element, or raise `DefinitionError`."""
    raw = to_bytes(content)
    if len(raw) > max_bytes:
        raise DefinitionError(
            "file_over_limit",
            [{"file": filename, "message": "file too large"}],
            path=filename,
            size=f"{len(raw):,}",
            limit=f"{max_bytes:,}",
        )
    declared = _DECLARED.match(raw)
    encoding = declared.group(1).decode("ascii", "replace").strip()[:40] if declared else "UTF-8"
    if encoding.lower() not in _UTF8_NAMES:
        raise DefinitionError(
            "xml_encoding_refused",
            [{"file": filename, "line": 1, "message": f"only UTF-8 is accepted (declared {encoding})"}],
            path=filename,
            encoding=encoding,
        )
    match = _DOCTYPE.search(raw)
    if match:
        line = raw[: match.start()].count(b"\n") + 1
        raise DefinitionError(
            "xml_dtd_refused",
            [{"file": filename, "line": line, "message": "DOCTYPE/ENTITY declaration refused"}],
            path=filename,
        )
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(raw, parser=parser)
    except etree.XMLSyntaxError as exc:
        at = exc.lineno if exc.lineno else None
        raise DefinitionError(
            "xml_not_well_formed",
            [{"file": filename, "line": at, "message": f"not well-formed XML: {exc.msg}"}],
            path=filename,
            line=at,
            detail=exc.msg,
        ) from exc
    if root is None:
        raise DefinitionError("xml_empty", [{"file": filename, "message": "empty"}], path=filename)
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs know no `doctype`
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise DefinitionError(
            "xml_dtd_refused",
            [{"file": filename, "line": 1, "message": "DOCTYPE/ENTITY declaration refused"}],
            path=filename,
        )
    return root


def serialize_xml(root: Any) -> str:
    """An element tree (from `parse_xml`) back to a UTF-8 XML document, as text."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")
