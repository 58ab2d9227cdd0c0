"""Every text of the website's templates and handlers has a Vietnamese translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from smmpanel.web.i18n import translations

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
    assert "Sign in" in texts and "Change password" in texts  # the extraction itself sees the templates
    vi = translations("vi")
    untranslated = sorted(t for t in texts if vi.gettext(t) == t and t not in {"API", "Email", "API key"})
    assert not untranslated, f"add these to the vi catalog (scripts/i18n): {untranslated}"
