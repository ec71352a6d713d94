"""CSV downloads: one way to turn rows of dicts into a spreadsheet-safe CSV response."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from flask import Response


def csv_response(rows: list[dict[str, Any]], name: str) -> Response:
    """`rows` as `name`.csv (columns from the first row), as an attachment."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: cell(v) for k, v in row.items()})
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}
    )


def cell(value: Any) -> Any:
    """One CSV cell: dates in ISO 8601, structures as JSON, formulas defused."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # keep spreadsheet formulas out of exported text
    return value
