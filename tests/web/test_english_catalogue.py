"""The English UI catalogue covers every extracted string and keeps its placeholders.

`make translations-update` extracts the UI strings into app/translations/messages.pot and
merges them into the English .po; every msgid of the template must have an English msgstr.
"""

from __future__ import annotations

import re
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from tests.conftest import ROOT

TRANSLATIONS = ROOT / "app" / "translations"
_PLACEHOLDER = re.compile(r"%\([A-Za-z_]\w*\)[sdifr]|\{[^{}]*\}")


def _read(path: Any) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def _key(msgid: Any) -> str:
    return str(msgid if isinstance(msgid, str) else msgid[0])


def _english() -> dict[str, Any]:
    catalog = _read(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po")
    return {_key(m.id): m.string for m in catalog if m.id}


def _translated(string: Any) -> bool:
    if isinstance(string, (tuple, list)):
        return bool(string) and all(string)
    return bool(string)


def test_every_extracted_msgid_has_an_english_translation() -> None:
    template = _read(TRANSLATIONS / "messages.pot")
    english = _english()
    msgids = [_key(m.id) for m in template if m.id]
    assert msgids, "the extracted catalogue is empty"
    missing = sorted(i for i in msgids if not _translated(english.get(i)))
    assert not missing, (
        f"{len(missing)} of {len(msgids)} UI strings have no English translation "
        f"(run `make translations-update`, then fill app/translations/en): {missing[:20]}"
    )


def test_english_translations_keep_the_placeholders() -> None:
    catalog = _read(TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po")
    broken = []
    for message in catalog:
        if not message.id or not _translated(message.string):
            continue
        msgid: Any = message.id
        msgstr: Any = message.string
        ids = tuple(msgid) if isinstance(msgid, (tuple, list)) else (msgid,)
        strings = tuple(msgstr) if isinstance(msgstr, (tuple, list)) else (msgstr,)
        expected = sorted(_PLACEHOLDER.findall(str(ids[0])))
        for string in strings:
            if sorted(_PLACEHOLDER.findall(str(string))) != expected:
                broken.append((ids[0], string))
    assert not broken, broken


def test_admin_and_audit_pages_render_in_english(login_as: Any, english_catalog: None) -> None:
    web = login_as("admin")
    web.post("/language", {"lang": "en", "next": "/"}, page="/")
    users = web.get("/admin/users").get_data(as_text=True)
    assert '<html lang="en">' in users
    assert "New user" in users and "Full name" in users
    assert "Новый пользователь" not in users
    # Role titles of the catalogue are shown in the UI language too.
    assert "Head of the school ·" in users  # the grant column (demo full names stay Russian)
    auditor = login_as("auditor")
    auditor.post("/language", {"lang": "en", "next": "/"}, page="/")
    log = auditor.get("/audit/").get_data(as_text=True)
    assert "Audit log" in log and "Verify integrity" in log
    assert "Журнал аудита" not in log
