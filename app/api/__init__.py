"""REST API: flask-smorest, errors in the contract's {message, errors} shape."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from ..extensions import csrf
from ..services.errors import ServiceError

_HTTP_MESSAGES = {
    400: "Некорректный запрос.",
    401: "Требуется вход.",
    403: "Доступ запрещён.",
    404: "Не найдено.",
    405: "Метод не поддерживается.",
    409: "Конфликт.",
    413: "Запрос слишком большой.",
    415: "Неподдерживаемый тип содержимого: ожидается application/json.",
    422: "Данные не прошли проверку.",
}


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "form", "files") and not prefix:
                result.update(_flatten(value, ""))
                continue
            name = f"{prefix}.{key}" if prefix else str(key)
            result.update(_flatten(value, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        result[prefix or "_schema"] = [_translate(m) for m in messages]
    else:
        result[prefix or "_schema"] = [_translate(str(messages))]
    return result


_TRANSLATIONS = {
    "Missing data for required field.": "Обязательное поле.",
    "Not a valid integer.": "Ожидается целое число.",
    "Not a valid string.": "Ожидается строка.",
    "Not a valid mapping type.": "Ожидается объект.",
    "Unknown field.": "Неизвестное поле.",
    "Not a valid datetime.": "Ожидается дата и время ISO 8601.",
    "Invalid JSON body.": "Тело запроса не является корректным JSON.",
    "Field may not be null.": "Поле не может быть пустым.",
}


def _translate(message: str) -> str:
    return _TRANSLATIONS.get(message, message)


def _is_api() -> bool:
    return request.path.startswith("/api/")


class _MarkupSafeJSONProvider(DefaultJSONProvider):
    """JSON with <, >, & and ' written as \\u escapes: the same data for any JSON reader,
    but text fields holding HTML or script can never be read as markup by a browser."""

    ensure_ascii = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        for char, escape in (
            ("<", "\\u003c"),
            (">", "\\u003e"),
            ("&", "\\u0026"),
            ("'", "\\u0027"),
        ):
            text = text.replace(char, escape)
        return text


# Ids are 32-bit integer columns on PostgreSQL; SQLite stops at 64 bits.
MAX_DB_INT = 2**31 - 1


class _DatabaseIdConverter(IntegerConverter):
    """`<int:…>` bounded by what the id columns hold: a larger number matches no route (404)
    instead of reaching the database and failing there (500)."""

    def __init__(
        self,
        url_map: Any,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = MAX_DB_INT,
        signed: bool = False,
    ) -> None:
        super().__init__(url_map, fixed_digits, min, max, signed)


def _harden_responses(app: Flask) -> None:
    """Markup-safe JSON everywhere; API answers are never content-sniffed into HTML."""
    app.json = _MarkupSafeJSONProvider(app)
    app.url_map.converters["int"] = _DatabaseIdConverter

    @app.after_request
    def _no_sniff(response: Any) -> Any:
        if _is_api():
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def init_api(app: Flask) -> None:
    """Register the API blueprint, OpenAPI and the error handlers."""
    from .admin import blp as admin_blp
    from .audit import blp as audit_blp
    from .designer import blp as designer_blp
    from .monitoring import blp as monitoring_blp
    from .notifications import blp as notifications_blp
    from .register import blp as register_blp
    from .routes import blp
    from .signatures import blp as signatures_blp
    from .task_drafts import blp as task_drafts_blp

    api = Api(app, spec_kwargs={"info": {"description": "REST API системы процессов РСНМС"}})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    _harden_responses(app)
    for blueprint in (
        blp,
        designer_blp,
        audit_blp,
        notifications_blp,
        admin_blp,
        register_blp,
        signatures_blp,
        task_drafts_blp,
        monitoring_blp,
    ):
        csrf.exempt(blueprint)  # the API authenticates with bearer tokens, not cookies
        api.register_blueprint(blueprint)

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Any:
        body: dict[str, Any] = {"message": exc.message, "errors": exc.errors}
        problems = getattr(exc, "problems", None)
        if problems is not None:
            body["report"] = [p.as_dict() for p in problems]
        return jsonify(body), exc.status

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _out_of_range(exc: Exception) -> Any:
        # A number (or text) the database cannot hold is bad input, never a server error.
        if not _is_api():
            raise exc
        message = "Значение вне допустимого диапазона."
        return jsonify({"message": message, "errors": {"_schema": [message]}}), 422

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if not _is_api():
            return exc
        code = exc.code or 500
        data = getattr(exc, "data", None) or {}
        errors = _flatten(data.get("messages", {})) if data.get("messages") else {}
        message = _HTTP_MESSAGES.get(code, exc.name)
        if errors and code == 400 and "_schema" in errors:
            message = errors["_schema"][0]
        if code == 422:
            message = "Данные не прошли проверку."
        return jsonify({"message": message, "errors": errors}), code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        app.logger.exception("Unhandled error")
        if _is_api():
            return jsonify(
                {"message": "Внутренняя ошибка сервера. Операция не выполнена.", "errors": {}}
            ), 500
        return "Внутренняя ошибка сервера", 500
