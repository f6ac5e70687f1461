"""Security headers of the HTML pages: a Content-Security-Policy without inline scripts (our
pages load every script from /static, bpmn-js included), no framing, no MIME sniffing and a
same-origin referrer."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request

# Styles may be inline: bpmn-js positions its overlays and palette with style attributes.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _security_headers(response: Any) -> Any:
    """Add the headers to every response outside the API (which sets its own)."""
    if request.path.startswith("/api/"):
        return response
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        policy = current_app.config.get("CONTENT_SECURITY_POLICY", DEFAULT_CSP)
        if policy:
            headers.setdefault("Content-Security-Policy", policy)
    return response


def init_security_headers(app: Flask) -> None:
    """Register the header hook on the app."""
    app.after_request(_security_headers)
