"""Tests for crmsync.fieldmap and the generated reference pages in docs/."""

from __future__ import annotations

from pathlib import Path

from crmsync.fieldmap import FIELD_RULES, markdown
from crmsync.plan import NOTICE_CODES, notices_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_fields_page_is_generated_from_the_field_maps() -> None:
    assert (DOCS / "fields.md").read_text(encoding="utf-8") == markdown()


def test_docs_notices_page_lists_every_notice_code() -> None:
    text = (DOCS / "notices.md").read_text(encoding="utf-8")
    assert notices_markdown() in text
    assert len(NOTICE_CODES) == 24


def test_every_domain_field_is_keyed_by_domain_and_name() -> None:
    assert "contact.job_title" in FIELD_RULES
    assert FIELD_RULES["appointment.priority"].fixed
    assert not FIELD_RULES["task.due"].fixed
