"""REST API: flask-smorest, errors in the contract's {message, errors} shape."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

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


def init_api(app: Flask) -> None:
    """Register the API blueprint, OpenAPI and the error handlers."""
    from .routes import blp

    api = Api(app, spec_kwargs={"info": {"description": "REST API системы процессов РСНМС"}})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(blp)

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Any:
        body: dict[str, Any] = {"message": exc.message, "errors": exc.errors}
        problems = getattr(exc, "problems", None)
        if problems is not None:
            body["report"] = [p.as_dict() for p in problems]
        return jsonify(body), exc.status

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
