"""API fuzzing with schemathesis against /api/v1/openapi.json (WSGI, through the Flask app):
generated requests to every operation, as an administrator, never get a 5xx, and every
answer matches the schema the spec declares for its status code."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from argon2 import PasswordHasher
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import update

from app.extensions import db
from app.models import ApiToken, User
from app.services import auth as auth_service
from tests.conftest import ApiClient

# 20 generated requests per operation keep the whole reliability+security suite within a few
# minutes; FUZZ_EXAMPLES=100 (or more) for a deeper run.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
# Revoking the fuzzer's own token would only turn the rest of the run into 401s.
SKIPPED = {("DELETE", "/api/v1/auth/token")}
FUZZER = "admin"


@pytest.fixture()
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated logins are many: a cheap Argon2id (hashing is tested elsewhere)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth_service, "_HASHER", cheap)
    monkeypatch.setattr(auth_service, "_DUMMY_HASH", cheap.hash("timing-equaliser"))


def _keep_fuzzer_alive(app: Flask) -> None:
    """Generated ids may hit the fuzzer itself (deactivate, revoke): undo that between cases."""
    with app.app_context():
        db.session.execute(update(User).where(User.username == FUZZER).values(is_active=True))
        db.session.execute(update(ApiToken).values(revoked_at=None))
        db.session.commit()
        db.session.remove()


def test_generated_requests_never_fail_the_server_or_the_schema(
    seeded: Flask, api: ApiClient, fast_hashing: None
) -> None:
    token = api.token(FUZZER)
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", seeded)
    cases: Counter[str] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        if (operation.method.upper(), operation.full_path) in SKIPPED:
            continue
        _fuzz(seeded, operation, headers, cases, failures)
    total = sum(cases.values())
    print(f"fuzz: {total} generated requests over {len(cases)} operations")
    assert failures == [], "\n\n".join(dict.fromkeys(failures))
    assert len(cases) == len(operations) - len(SKIPPED)
    assert total >= len(cases) * min(MAX_EXAMPLES, 5)


def _fuzz(
    app: Flask,
    operation: Any,
    headers: dict[str, str],
    cases: Counter[str],
    failures: list[str],
) -> None:
    """Run the generated cases of one operation; record failures instead of stopping."""
    label = f"{operation.method.upper()} {operation.full_path}"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if "/admin/" in label or "/auth/" in label:
            _keep_fuzzer_alive(app)
        cases[label] += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # an exception escaping the app (e.g. in a streamed body)
            failures.append(f"{label}: {exc!r} for {case.as_curl_command()}"[:800])
            raise BaseExceptionGroup("escaped", [exc]) from exc
        try:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )
        except BaseExceptionGroup as exc:  # collected: one report for the whole API
            failures.append(f"{label}: {str(exc)[:600]}")
            raise

    before = len(failures)
    try:
        run()
    except BaseExceptionGroup:
        if len(failures) == before:  # not a finding of the checks: a broken harness
            raise
