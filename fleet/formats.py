"""The report's rows, and the four ways to print them: table, json, markdown, html.

The JSON field names are a contract (docs/fleet-report.md); the other formats show the
same rows for people: a terminal, an issue or job summary, a page with a chart.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from packaging.version import InvalidVersion, Version

FIELDS = ("repo", "release", "latest", "behind", "tier", "answers", "drift", "conflicts", "error")
COLUMNS = ("repo", "release", "latest", "behind", "tier", "drift", "conflicts", "error")
TIERS = ("small", "medium", "large")
Row = dict[str, Any]


def new_row(repo: str) -> Row:
    """A row with every field, nothing known yet."""
    return dict.fromkeys(FIELDS) | {"repo": repo}


def drift_summary(row: Row) -> str:
    """`3 files +12 -4`, `none`, or empty when the repository could not be compared."""
    if row["drift"] is None:
        return ""
    if not row["drift"]:
        return "none"
    added = sum(entry["added"] for entry in row["drift"])
    removed = sum(entry["removed"] for entry in row["drift"])
    files = len(row["drift"])
    return f"{files} file{'s' * (files != 1)} +{added} -{removed}"


def cells(row: Row) -> dict[str, str]:
    """Each column of a row as text."""
    conflicts = "" if row["conflicts"] is None else str(len(row["conflicts"]))
    shown = {column: "" if row[column] is None else str(row[column]) for column in COLUMNS}
    return shown | {"drift": drift_summary(row), "conflicts": conflicts}


def summary(rows: list[Row]) -> str:
    """One line: how many are current, behind, unreadable, drifted, conflicted."""
    readable = [row for row in rows if not row["error"]]
    behind = sum(1 for row in readable if row["behind"])
    counts = [
        f"{len(readable) - behind} current",
        f"{behind} behind",
        f"{len(rows) - len(readable)} unreadable",
    ]
    drifted = sum(1 for row in readable if row["drift"])
    conflicted = sum(1 for row in readable if row["conflicts"])
    plural = "y" if len(rows) == 1 else "ies"
    return (
        f"{len(rows)} repositor{plural}: {', '.join(counts)}; "
        f"{drifted} with drift, {conflicted} with conflicts"
    )


def table(rows: list[Row]) -> str:
    shown = [{column: column.upper() for column in COLUMNS}] + [cells(row) for row in rows]
    widths = {column: max(len(line[column]) for line in shown) for column in COLUMNS}
    lines = ["  ".join(line[c].ljust(widths[c]) for c in COLUMNS).rstrip() for line in shown]
    return "\n".join([*lines, "", summary(rows)]) + "\n"


def as_json(rows: list[Row]) -> str:
    ordered = [{field: row[field] for field in FIELDS} for row in rows]
    return json.dumps(ordered, indent=2, default=str) + "\n"  # a YAML date answer: text


def md(text: str) -> str:
    """A markdown table cell: pipes escaped, on one line."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def markdown(rows: list[Row]) -> str:
    lines = ["## Fleet report", "", summary(rows), ""]
    lines += ["| " + " | ".join(c.capitalize() for c in COLUMNS) + " |"]
    lines += ["| --- | --- | --- | ---: | --- | --- | ---: | --- |"]
    lines += ["| " + " | ".join(md(cells(row)[c]) for c in COLUMNS) + " |" for row in rows]
    detailed = [row for row in rows if row["drift"] or row["conflicts"]]
    if detailed:
        lines += ["", "<details><summary>Drift and conflicts</summary>", ""]
        lines += ["| Repo | Path | Change | Added | Removed |", "| --- | --- | --- | ---: | ---: |"]
        for row in detailed:
            for entry in row["drift"]:
                change = entry["change"] + (" (conflict)" * (entry["path"] in row["conflicts"]))
                values = [row["repo"], entry["path"], change, entry["added"], entry["removed"]]
                lines.append("| " + " | ".join(md(str(v)) for v in values) + " |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def release_order(release: str) -> tuple[int, Version | str]:
    try:
        return 0, Version(release)
    except InvalidVersion:
        return 1, release


def chart(rows: list[Row]) -> str:
    """An inline SVG: one bar per release, stacked by tier, each part with its count."""
    counts = Counter((row["release"], row["tier"]) for row in rows if not row["error"])
    releases = sorted({release for release, _ in counts}, key=release_order)
    tiers = [t for t in TIERS if any(k[1] == t for k in counts)]
    tiers += sorted({tier for _, tier in counts} - set(tiers))
    colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"]
    top = max((sum(counts[r, t] for t in tiers) for r in releases), default=1)
    bar, gap, height, base = 60, 30, 200, 240
    width = max(300, len(releases) * (bar + gap) + gap + 120)
    scale = height / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{base + 40}" '
        'role="img" aria-label="Repositories per release and tier">',
        f'<line x1="{gap}" y1="{base}" x2="{width - 120}" y2="{base}" stroke="#333"/>',
    ]
    for index, release in enumerate(releases):
        x, y = gap + index * (bar + gap), base
        for tier in tiers:
            count = counts[release, tier]
            if not count:
                continue
            size = count * scale
            y -= size
            label = html.escape(f"{release}, {tier}: {count}")
            parts.append(
                f'<rect class="bar" x="{x}" y="{y:.1f}" width="{bar}" height="{size:.1f}" '
                f'fill="{colours[tiers.index(tier) % len(colours)]}" '
                f'data-release="{html.escape(release)}" data-tier="{html.escape(tier)}" '
                f'data-count="{count}"><title>{label}</title></rect>'
            )
            parts.append(
                f'<text x="{x + bar / 2}" y="{y + size / 2 + 4:.1f}" text-anchor="middle" '
                f'fill="#fff" font-size="12">{count}</text>'
            )
        total = sum(counts[release, t] for t in tiers)
        parts.append(
            f'<text class="total" x="{x + bar / 2}" y="{y - 5:.1f}" text-anchor="middle" '
            f'font-size="12" data-release="{html.escape(release)}">{total}</text>'
        )
        parts.append(
            f'<text x="{x + bar / 2}" y="{base + 18}" text-anchor="middle" '
            f'font-size="12">{html.escape(release)}</text>'
        )
    for index, tier in enumerate(tiers):
        y = 20 + index * 20
        colour = colours[index % len(colours)]
        parts.append(
            f'<rect x="{width - 100}" y="{y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{width - 82}" y="{y + 11}" font-size="12">{html.escape(tier)}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-top: 1em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
td.error { color: #b00; }
ul { margin: 0; padding-left: 1.2em; }
"""


def html_page(rows: list[Row]) -> str:
    """One self-contained page: no external style, script, font or image."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Fleet report</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>Fleet report</h1>",
        f'<p class="summary">{html.escape(summary(rows))}</p>',
        chart(rows),
        '<table class="repos"><thead><tr>',
        *(f"<th>{html.escape(column)}</th>" for column in COLUMNS),
        "</tr></thead><tbody>",
    ]
    for row in rows:
        shown = cells(row)
        out.append("<tr>")
        for column in COLUMNS:
            css = ' class="error"' if column == "error" and row["error"] else ""
            out.append(f'<td data-field="{column}"{css}>{html.escape(shown[column])}')
            if column == "drift" and row["drift"]:
                out.append("<ul>")
                out += [
                    f'<li data-path="{html.escape(e["path"])}" data-change="{e["change"]}">'
                    f"{html.escape(e['path'])}: {e['change']} +{e['added']} -{e['removed']}</li>"
                    for e in row["drift"]
                ]
                out.append("</ul>")
            if column == "conflicts" and row["conflicts"]:
                out.append("<ul>")
                out += [f"<li>{html.escape(path)}</li>" for path in row["conflicts"]]
                out.append("</ul>")
            out.append("</td>")
        out.append("</tr>")
    out += ["</tbody></table>", "</body></html>"]
    return "\n".join(out) + "\n"


FORMATS: dict[str, Callable[[list[Row]], str]] = {
    "table": table,
    "json": as_json,
    "markdown": markdown,
    "html": html_page,
}
