"""Hardened XML parsing for uploads: no DTDs, no entities, no network, bounded size and shape.

Everything is checked before a tree is built or while it is being built: the byte size, the
encoding (UTF-8 only, so what is stored is exactly what was checked), DOCTYPE and ENTITY
declarations (XXE and entity-expansion bombs), the nesting depth and the element count.
"""

from __future__ import annotations

import io
import re

from lxml import etree

MAX_XML_BYTES = 2 * 1024 * 1024
MAX_XML_DEPTH = 64
MAX_XML_ELEMENTS = 10_000  # the largest real diagram has under 1 000; XSD time grows fast

_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*\bencoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class UnsafeXmlError(ValueError):
    """Raised when an XML document is refused before it reaches the engine."""

    def __init__(self, message: str, code: str = "unsafe_xml") -> None:
        super().__init__(message)
        self.code = code


def _parser_options() -> dict[str, bool]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "dtd_validation": False,
        "load_dtd": False,
        "huge_tree": False,
        "remove_comments": False,
    }


def _parser() -> etree.XMLParser:
    return etree.XMLParser(**_parser_options())


def check_bytes(content: bytes, *, max_bytes: int = MAX_XML_BYTES) -> None:
    """Refuse content that must never reach the XML parser (size, encoding, DTDs)."""
    if len(content) > max_bytes:
        raise UnsafeXmlError(
            f"Файл больше допустимого размера ({max_bytes // 1024} КБ).", "too_large"
        )
    if content.startswith(_UTF16_32_BOMS) or b"\x00" in content[:1024]:
        raise UnsafeXmlError("Файл должен быть в кодировке UTF-8.", "encoding")
    declared = _DECLARED_ENCODING.match(content[:200])
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        raise UnsafeXmlError(
            f"Файл должен быть в кодировке UTF-8, а не {declared.group(1).decode()}.", "encoding"
        )
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeXmlError(
            f"Файл должен быть в кодировке UTF-8 (ошибка в байте {exc.start}).", "encoding"
        ) from exc
    lowered = content.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise UnsafeXmlError(
            "Объявления DOCTYPE и ENTITY запрещены (защита от XXE и «бомб» из сущностей).",
            "doctype",
        )


def parse_xml(
    content: bytes,
    *,
    max_bytes: int = MAX_XML_BYTES,
    max_depth: int = MAX_XML_DEPTH,
    max_elements: int = MAX_XML_ELEMENTS,
) -> etree._Element:
    """Parse XML bytes safely or raise UnsafeXmlError / etree.XMLSyntaxError."""
    check_bytes(content, max_bytes=max_bytes)
    depth = 0
    count = 0
    context = etree.iterparse(io.BytesIO(content), events=("start", "end"), **_parser_options())
    for event, _element in context:
        if event == "end":
            depth -= 1
            continue
        depth += 1
        count += 1
        if depth > max_depth:
            raise UnsafeXmlError(
                f"Слишком глубокая вложенность XML (более {max_depth} уровней).", "too_deep"
            )
        if count > max_elements:
            raise UnsafeXmlError(
                f"Слишком много элементов XML (более {max_elements}).", "too_many_elements"
            )
    root = context.root
    if root is None:  # pragma: no cover - iterparse raises on empty input
        raise UnsafeXmlError("Пустой XML-документ.", "empty")
    if root.getroottree().docinfo.doctype:
        raise UnsafeXmlError("Объявления DOCTYPE запрещены (защита от XXE).", "doctype")
    return root


def describe_syntax_error(exc: etree.XMLSyntaxError) -> str:
    """A Russian message for a well-formedness error, with its position."""
    line, column = exc.position if exc.position else (None, None)
    where = f" (строка {line}, позиция {column})" if line else ""
    detail = (exc.msg or str(exc)).split(", line ")[0]
    return f"XML не является корректно сформированным{where}: {detail}"
