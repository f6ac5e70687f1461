"""The transaction boundary of every use case."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from .errors import ConcurrentUpdate, Conflict

T = TypeVar("T")
P = ParamSpec("P")
_ATTEMPTS = 3
_log = logging.getLogger(__name__)


@contextmanager
def transaction() -> Iterator[None]:
    """Commit on success, roll back on any error; concurrent updates become Conflict."""
    try:
        yield
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        raise ConcurrentUpdate(
            "Данные изменены другим пользователем одновременно с вами. "
            "Обновите страницу и повторите."
        ) from exc
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("Операция конфликтует с уже сохранёнными данными.") from exc
    except BaseException:
        db.session.rollback()
        raise


def retry_on_concurrent_update(use_case: Callable[P, T]) -> Callable[P, T]:
    """Run a use case again (up to 3 times) when another transaction changed its rows first.

    Each attempt is a whole transaction that re-reads and re-checks everything, so a retry
    either applies the actor's intent to the new state (e.g. the other branch of a parallel
    gateway) or fails with the real reason (the task was completed meanwhile); nothing of the
    lost attempt survives its rollback.
    """

    @functools.wraps(use_case)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return use_case(*args, **kwargs)
            except ConcurrentUpdate:
                if attempt == _ATTEMPTS:
                    raise
                _log.warning("%s: concurrent update, attempt %d", use_case.__name__, attempt + 1)
        raise AssertionError("unreachable")

    return run
