"""Each bench script owns one marker-bounded section of docs/performance.md."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(doc: Path, start: str, end: str, text: str) -> None:
    """Replace the section between ``start`` and ``end``, or add it at the end of ``doc``:
    the other benches' sections stay as they are."""
    content = doc.read_text()
    block = f"{start}\n{text}{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(content):
        content = pattern.sub(lambda _: block, content, count=1)
    else:
        content = content.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(content)
