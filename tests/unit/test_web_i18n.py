"""Every text of the website's templates and handlers has a Vietnamese translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from babel.messages.pofile import read_po

from smmpanel.web.i18n import po_path

ROOT = Path(__file__).resolve().parents[2]


def extracted_texts() -> set[str]:
    with open(ROOT / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    texts = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        texts.add(message if isinstance(message, str) else message[0])
    return texts


def test_the_catalog_translates_every_text_of_the_site():
    texts = extracted_texts()
    assert "Place order" in texts and "Sign in" in texts  # the extraction itself sees the templates
    with po_path("vi").open("rb") as handle:
        catalog = read_po(handle, locale="vi")
    untranslated = sorted(t for t in texts if not (catalog.get(t) and catalog.get(t).string))
    assert not untranslated, f"add these to the vi catalog (scripts/i18n): {untranslated}"
