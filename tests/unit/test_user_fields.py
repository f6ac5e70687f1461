"""The `x-user` annotation of form fields: malformed annotations are refused at deploy."""

from __future__ import annotations

from typing import Any

import pytest

from app.services import forms


def _form(spec: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"who": {"type": "string", "x-user": spec}}}


def test_well_formed_annotations_pass() -> None:
    assert forms.check_schema(_form({})) is None
    assert forms.check_schema(_form({"within": "unit", "roles": ["mo_head"]})) is None


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"within": "region"}, "x-user.within"),
        ({"roles": "mo_head"}, "x-user.roles: ожидается список"),
        ({"roles": ["captain"]}, "неизвестные роли: captain"),
    ],
)
def test_malformed_annotations_are_named(spec: dict[str, Any], fragment: str) -> None:
    problem = forms.check_schema(_form(spec))
    assert problem is not None and "«who»" in problem and fragment in problem
