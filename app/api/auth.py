"""Bearer-token authentication for the API."""

from __future__ import annotations

from flask import request

from ..models import User
from ..services import auth as auth_service
from ..services.errors import AuthenticationFailed


def current_user() -> User:
    """The user of the request's bearer token (401 otherwise)."""
    cached = request.environ.get("rsnms.api_user")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Требуется вход: заголовок Authorization: Bearer <токен>.")
    user = auth_service.user_for_token(token.strip())
    request.environ["rsnms.api_user"] = user
    return user
