"""Merge pyproject.toml's dependency lists entry by entry, for ``copier update``.

Copier merges the team's files into the new release line by line. ``uv add`` puts a
dependency where it sorts, often on the line next to one the release bumped: the two
changes don't overlap, but a line merge sees one hunk and reports a conflict. So each
dependency array and table is merged here first, three-way and keyed by requirement
name, and written into all three versions; then the files are merged as lines (``git
merge-file``), so every other edit merges as before and real conflicts still surface.

Imported by a migration under the generated project's interpreter (Python 3.10 or
later), which has tomlkit (it keeps comments and formatting) and packaging.
"""

import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Array, Comment, InlineTable, Table
from tomlkit.toml_document import TOMLDocument

#: The keys from a document's root to a dependency list.
KeyPath = tuple[str, ...]


class UnmergeableError(Exception):
    """A list both sides changed differently, or one this module cannot read."""


@dataclass(frozen=True)
class Entry:
    """One dependency as one side wrote it."""

    key: str  # the same on every side: canonical name, and marker if any
    name: str  # canonical name, for sorting
    value: Any  # normalized, for comparing
    text: str  # as written: '"joblib>=1.4"' or 'torch = { source = "pytorch" }'
    comments: tuple[str, ...] = ()  # comment lines above it
    note: str = ""  # comment after it, on its line


@dataclass
class Listing:
    """A dependency array or table of one side: its entries in order, and its layout."""

    entries: dict[str, Entry] = field(default_factory=dict)
    head: str = ""  # arrays: comment after the "["
    tail: str = ""  # what follows the last entry's line: comment lines, blank lines
    indent: str = "    "  # arrays: before each entry
    comma: bool = True  # arrays: a comma after the last entry

    def add(self, entry: Entry) -> None:
        if entry.key in self.entries:
            raise UnmergeableError(f"{entry.key} is listed twice")
        self.entries[entry.key] = entry


def merge_pyproject(base: str, ours: str, theirs: str) -> str | None:
    """The team's and the template's pyproject.toml merged entry by entry.

    None if they truly conflict, or if a side is not TOML this module can read.
    """
    texts = [text.replace("\r\n", "\n") for text in (base, ours, theirs)]
    try:
        docs = [parse(text) for text in texts]
        for path in dependency_paths(docs):
            merge_at(path, docs)
        merged = merge_lines(*(tomlkit.dumps(doc) for doc in docs))
    except (TOMLKitError, InvalidRequirement, UnmergeableError, OSError, UnicodeDecodeError):
        return None
    if merged is not None and "\r\n" in ours:
        merged = merged.replace("\n", "\r\n")
    return merged


def parse(text: str) -> TOMLDocument:
    doc = tomlkit.parse(text)
    if doc.as_string() != text:  # tomlkit cannot write every layout back as it was
        raise UnmergeableError("tomlkit would rewrite more than the dependency lists")
    return doc


def dependency_paths(docs: list[TOMLDocument]) -> Iterator[KeyPath]:
    """Where dependency lists live, on any side: PEP 621, PEP 735 and Poetry's tables."""
    yield ("project", "dependencies")
    for extra in keys_at(docs, ("project", "optional-dependencies")):
        yield ("project", "optional-dependencies", extra)
    for group in keys_at(docs, ("dependency-groups",)):
        yield ("dependency-groups", group)
    yield ("tool", "poetry", "dependencies")
    for group in keys_at(docs, ("tool", "poetry", "group")):
        yield ("tool", "poetry", "group", group, "dependencies")


def keys_at(docs: list[TOMLDocument], path: KeyPath) -> list[str]:
    keys: dict[str, None] = {}
    for doc in docs:
        table = item_at(doc, path)
        if isinstance(table, Mapping):
            keys.update(dict.fromkeys(table))
    return list(keys)


def item_at(doc: TOMLDocument, path: KeyPath) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def merge_at(path: KeyPath, docs: list[TOMLDocument]) -> None:
    """Merge one list three-way and write the result into every side that has it."""
    items = [item_at(doc, path) for doc in docs]
    sides = [None if item is None else read(path, item) for item in items]
    base, ours, theirs = sides
    if ours is None or theirs is None:
        check_one_sided(base, ours, theirs)
        return  # added or removed as a whole: the line merge does it
    if all(side is None or entries(side) == entries(ours) for side in sides):
        return
    merged = merge_entries(base.entries if base else {}, ours.entries, theirs.entries)
    in_order = order(merged, ours.entries, theirs.entries)
    for doc, item, side in zip(docs, items, sides, strict=True):
        if side is not None:
            item_at(doc, path[:-1])[path[-1]] = render(in_order, item, side, theirs)


def entries(listing: Listing) -> list[Entry]:
    return list(listing.entries.values())


def values(listing: Listing) -> dict[str, Any]:
    return {key: entry.value for key, entry in listing.entries.items()}


def check_one_sided(base: Listing | None, ours: Listing | None, theirs: Listing | None) -> None:
    """A list one side removed must be unchanged on the other."""
    if base is not None and (ours is None) != (theirs is None):
        kept = ours or theirs
        if kept is not None and values(kept) != values(base):
            raise UnmergeableError("one side removed a list the other changed")


def merge_entries(
    base: dict[str, Entry], ours: dict[str, Entry], theirs: dict[str, Entry]
) -> dict[str, Entry]:
    merged = {}
    for key in {**theirs, **ours}:
        entry = pick(base.get(key), ours.get(key), theirs.get(key))
        if entry is not None:
            merged[key] = entry
    return merged


def pick(base: Entry | None, ours: Entry | None, theirs: Entry | None) -> Entry | None:
    """One entry three-way: a side that left it alone takes the other's change.

    Its comments are ours if we changed them, else theirs: never a conflict.
    """
    was, mine, new = (entry.value if entry else None for entry in (base, ours, theirs))
    if mine in (new, was):
        chosen = theirs
    elif new == was:
        chosen = ours
    else:
        raise UnmergeableError("both sides changed the same dependency differently")
    if chosen is None:
        return None
    notes = ours if comments_of(ours) != comments_of(base) else theirs
    comments, note = comments_of(notes)
    return replace(chosen, comments=comments, note=note)


def comments_of(entry: Entry | None) -> tuple[tuple[str, ...], str]:
    return (entry.comments, entry.note) if entry else ((), "")


def order(
    merged: dict[str, Entry], ours: dict[str, Entry], theirs: dict[str, Entry]
) -> list[Entry]:
    """Theirs' order, and our additions where they sort if ours is sorted.

    Otherwise each goes after the entry before it in ours, or at the end.
    """
    keys = [key for key in theirs if key in merged]
    names = [entry.name for entry in ours.values()]
    ours_sorted = names == sorted(names)
    for position, key in enumerate(ours):
        if key not in merged or key in theirs:
            continue
        if ours_sorted:
            name = merged[key].name
            at = next((i for i, k in enumerate(keys) if merged[k].name > name), len(keys))
        else:
            before = [k for k in list(ours)[:position] if k in keys]
            at = keys.index(before[-1]) + 1 if before else len(keys)
        keys.insert(at, key)
    return [merged[key] for key in keys]


# Reading: one side's list as entries.


def read(path: KeyPath, item: Any) -> Listing:
    if path[0] == "tool" and isinstance(item, Table):
        return read_table(item)
    if path[0] != "tool" and isinstance(item, Array):
        return read_array(item)
    raise UnmergeableError(f"{'.'.join(path)} is not laid out as expected")


def read_table(table: Table) -> Listing:
    """Poetry's dependencies: a key per name, a version string or a table as value."""
    listing = Listing()
    comments: list[str] = []
    for key, item in table.value.body:
        if key is None:
            if isinstance(item, Comment):
                comments.append(item.as_string().strip())
            listing.tail += item.as_string()
            continue
        if isinstance(item, Table):
            raise UnmergeableError(f"{key.key} is a table section of its own")
        name = canonicalize_name(key.key)
        text = f"{key.as_string().strip()} = {item.as_string()}"
        listing.add(Entry(name, name, item.unwrap(), text, tuple(comments), item.trivia.comment))
        comments, listing.tail = [], ""
    return listing


class Gap(NamedTuple):
    """What lies between two values of an array: whitespace, commas and comments."""

    end: int  # where the next value, or the "]", starts
    note: str  # the comment on the line of the value before
    comments: tuple[str, ...]  # the comment lines after it
    indent: str | None  # before the next value, on its line; None if on the same line
    comma: bool
    next_line: int | None  # where the line after the value before starts


def gap(text: str, pos: int) -> Gap:
    note, comments, comma, next_line = "", [], False, None
    while text[pos] in " \t\n,#":
        if text[pos] == "#":  # a comment runs to the end of its line
            end = text.index("\n", pos)  # a "]" always follows on a later line
            if next_line is None:
                note = text[pos:end].rstrip()
            else:
                comments.append(text[pos:end].rstrip())
            pos = end
            continue
        comma = comma or text[pos] == ","
        if text[pos] == "\n" and next_line is None:
            next_line = pos + 1
        pos += 1
    indent = text[text.rfind("\n", 0, pos) + 1 : pos] if next_line is not None else None
    return Gap(pos, note, tuple(comments), indent, comma, next_line)


def read_array(array: Array) -> Listing:
    """PEP 621 and PEP 735 lists: requirement strings, and ``{include-group = ...}``."""
    text = array.as_string()
    listing = Listing()
    before = gap(text, 1)
    listing.head = before.note
    if before.indent is not None:
        listing.indent = before.indent
    for value in array:
        literal = value.as_string()
        if not text.startswith(literal, before.end):
            raise UnmergeableError("an array tomlkit wrote unlike it read")
        after = gap(text, before.end + len(literal))
        listing.add(array_entry(value, literal, before.comments, after.note))
        before = after
    listing.comma = before.comma or not array
    listing.tail = text[before.next_line : -1] if before.next_line is not None else ""
    return listing


def array_entry(value: Any, literal: str, comments: tuple[str, ...], note: str) -> Entry:
    if isinstance(value, str):
        requirement = Requirement(str(value))
        requirement.name = name = canonicalize_name(requirement.name)
        key = f"{name}; {requirement.marker}" if requirement.marker else name
        return Entry(key, name, str(requirement), literal, comments, note)
    if isinstance(value, InlineTable) and list(value) == ["include-group"]:
        group = canonicalize_name(str(value["include-group"]))
        return Entry(f"include-group {group}", group, value.unwrap(), literal, comments, note)
    raise UnmergeableError(f"{literal} is not a requirement")


# Writing: the merged entries, in the layout of the side they go into.


def render(merged: list[Entry], item: Any, own: Listing, style: Listing) -> Any:
    """The merged list for one side: its own head and tail, theirs' indent and comma."""
    if isinstance(item, Table):
        return render_table(merged, item, own)
    return render_array(merged, own, style)


def render_array(merged: list[Entry], own: Listing, style: Listing) -> Array:
    lines = []
    for number, entry in enumerate(merged, start=1):
        lines += [style.indent + comment for comment in entry.comments]
        comma = "," if style.comma or number < len(merged) else ""
        note = f"  {entry.note}" if entry.note else ""
        lines.append(f"{style.indent}{entry.text}{comma}{note}")
    head = f"  {own.head}" if own.head else ""
    body = "".join(line + "\n" for line in lines)
    return tomlkit.parse(f"x = [{head}\n{body}{own.tail}]\n")["x"]


def render_table(merged: list[Entry], old: Table, own: Listing) -> Table:
    lines = []
    for entry in merged:
        lines += entry.comments
        lines.append(entry.text + (f"  {entry.note}" if entry.note else ""))
    body = "".join(line + "\n" for line in lines) + own.tail
    if not old.as_string().endswith("\n"):
        body = body.rstrip("\n")  # the end of a file without a final newline
    table = tomlkit.parse(f"[x]\n{body}")["x"]
    for part in ("indent", "comment_ws", "comment", "trail"):  # the header's comment
        setattr(table.trivia, part, getattr(old.trivia, part))
    return table


# The rest of the file: a line merge.


def merge_lines(base: str, ours: str, theirs: str) -> str | None:
    """``git merge-file`` of the three texts; None if it leaves conflicts."""
    with tempfile.TemporaryDirectory(prefix="copier-ml-merge-") as tmp:
        paths = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            paths.append(Path(tmp, name))
            paths[-1].write_bytes(text.encode("utf-8"))
        done = subprocess.run(["git", "merge-file", "-p", *paths], capture_output=True, check=False)
    return done.stdout.decode("utf-8") if done.returncode == 0 else None
