"""CSV downloads: one way to turn rows of dicts into a spreadsheet-safe CSV response."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from flask import Response

#: First characters a spreadsheet may read as a formula (OWASP's list: a leading tab or carriage
#: return is skipped by some spreadsheets, which then see the `=` after it)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_response(rows: list[dict[str, Any]], name: str) -> Response:
    """`rows` as `name`.csv (columns from the first row), as an attachment no cache keeps."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: cell(v) for k, v in row.items()})
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "no-store"}
    return Response(out.getvalue(), mimetype="text/csv", headers=headers)


def cell(value: Any) -> Any:
    """One CSV cell: dates in ISO 8601, structures as JSON, formulas defused."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value  # keep spreadsheet formulas out of exported text
    return value
