"""Microsoft's documentation samples, as the project ships them for its tests.

tests/samples/microsoft-docs/ holds JSON bodies copied verbatim from Microsoft's
documentation (SOURCES.txt says where each comes from).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples" / "microsoft-docs"


def sample(name: str) -> Any:
    """The JSON of one sample file, as it is."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def sample_names() -> list[str]:
    return sorted(p.name for p in SAMPLES.glob("*.json"))


DELTA = Path(__file__).parent / "samples" / "delta"


def delta_sample(name: str) -> Any:
    """One of Microsoft's delta, paging and To Do samples (tests/samples/delta/SOURCES.txt)."""
    return json.loads((DELTA / name).read_text(encoding="utf-8"))
