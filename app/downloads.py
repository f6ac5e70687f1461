"""File downloads for the API and the UI: one way to name a file in the response."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import current_app


def download(body: Any, filename: str, mimetype: str) -> Any:
    """A response saved by the browser as `filename` (RFC 5987: any language in the name)."""
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def csv_download(text: str, filename: str) -> Any:
    """A CSV file for spreadsheets: UTF-8 with a byte-order mark so Excel reads Cyrillic."""
    response = download("\ufeff" + text, filename, "text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    return response
