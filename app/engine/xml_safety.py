"""Hardened XML parsing for uploads: no DTDs, no entities, no network, bounded size."""

from __future__ import annotations

from lxml import etree

MAX_XML_BYTES = 2 * 1024 * 1024
MAX_XML_DEPTH = 64


class UnsafeXmlError(ValueError):
    """Raised when an XML document is refused before it reaches the engine."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        dtd_validation=False,
        load_dtd=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(content: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse XML bytes safely or raise UnsafeXmlError / etree.XMLSyntaxError."""
    if len(content) > max_bytes:
        raise UnsafeXmlError(f"Файл больше допустимого размера ({max_bytes // 1024} КБ).")
    head = content[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in content.lower():
        raise UnsafeXmlError("Объявления DOCTYPE и ENTITY запрещены (защита от XXE).")
    root = etree.fromstring(content, parser=_parser())
    tree = root.getroottree()
    if tree.docinfo.doctype:
        raise UnsafeXmlError("Объявления DOCTYPE запрещены (защита от XXE).")
    _check_depth(root)
    return root


def _check_depth(root: etree._Element) -> None:
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_XML_DEPTH:
            raise UnsafeXmlError(f"Слишком глубокая вложенность XML (более {MAX_XML_DEPTH}).")
        stack.extend((child, depth + 1) for child in node)
