"""The transaction boundary of every use case."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from .errors import Conflict


@contextmanager
def transaction() -> Iterator[None]:
    """Commit on success, roll back on any error; concurrent updates become Conflict."""
    try:
        yield
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise Conflict(
            "Данные изменены другим пользователем одновременно с вами. "
            "Обновите страницу и повторите."
        ) from exc
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("Операция конфликтует с уже сохранёнными данными.") from exc
    except BaseException:
        db.session.rollback()
        raise
