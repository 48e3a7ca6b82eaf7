"""`python -m fleet report`: the truth about a fleet of local repositories, in every format.

The fleet is built once: repositories generated from the template's releases, untouched,
edited, conflicted, made at a commit between releases, one cloned by URL, and five that
cannot be read. Each test checks one field or one format against what was built.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.version import Version

from .helpers import ANSWERS, IDENTITY, append, commit, generate, git, release_tags, template_repo

pytestmark = pytest.mark.xdist_group("fleet-report")
ROOT = Path(__file__).resolve().parents[1]

#: Edits of the `edited` repository, and their exact line counts.
TEAM_NOTES = "# Team notes\n\nWe train on Mondays.\nAsk Ana.\n"  # 4 lines
LOGO = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"  # binary: counts 0 lines
MARKED = "<<<<<<< before updating\nours\n=======\ntheirs\n>>>>>>> after updating\n"  # 5
REJECTED = '--- pyproject.toml\n+++ pyproject.toml\n@@ -1 +1 @@ name = "x"\n'  # 3


def report(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command as scripts run it (through make, every failure would be status 2)."""
    command = [sys.executable, "-m", "fleet", "report", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def write_list(path: Path, entries: list[str]) -> Path:
    path.write_text("# the fleet\n" + "".join(f"{entry}  # a comment\n" for entry in entries))
    return path


def committed_repo(dst: Path, files: dict[str, str]) -> Path:
    """A git repository holding these files, committed."""
    for name, text in files.items():
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        (dst / name).write_text(text)
    git("init", "--quiet", dst)
    commit(dst, "chore: start")
    return dst


def build_fleet(tmp: Path) -> dict[str, Any]:
    template, _ = template_repo(tmp / "copier-ml")
    releases = [tag for tag in release_tags(template) if not Version(tag).is_prerelease]
    newest = releases[-1]
    after_v040 = git("-C", template, "rev-list", "--reverse", "v0.4.0..v0.5.0").split()[0]
    repos = {
        "large-newest": generate(template, newest, tmp / "large-newest", tier="large"),
        "medium-v0.4.0": generate(template, "v0.4.0", tmp / "medium-v0.4.0", tier="medium"),
        "small-v0.3.0": generate(template, "v0.3.0", tmp / "small-v0.3.0", tier="small"),
        "edited": generate(template, "v0.4.0", tmp / "edited", tier="medium"),
        "conflicted": generate(template, "v0.3.0", tmp / "conflicted", tier="medium"),
        "post-release": generate(template, after_v040, tmp / "post-release", tier="medium"),
    }
    # Uncommitted work is not the repository's: the report reads HEAD.
    append(repos["medium-v0.4.0"] / "README.md", "Not committed yet.\n")
    (repos["medium-v0.4.0"] / "untracked.txt").write_text("untracked\n")

    edited = repos["edited"]
    readme = (edited / "README.md").read_text().splitlines(keepends=True)
    (edited / "README.md").write_text("".join(["# Our project\n", *readme[1:], "a\n", "b\n"]))
    makefile_lines = len((edited / "Makefile").read_text().splitlines())
    (edited / "Makefile").unlink()
    (edited / "notes").mkdir()
    (edited / "notes" / "team.md").write_text(TEAM_NOTES)
    (edited / "assets").mkdir()
    (edited / "assets" / "logo.png").write_bytes(LOGO)
    commit(edited, "docs: our way")

    conflicted = repos["conflicted"]
    append(conflicted / "README.md", MARKED)
    (conflicted / "pyproject.toml.rej").write_text(REJECTED)
    # -f: a .gitignore rule must not keep the rejected hunk out of the commit.
    git("-C", conflicted, "add", "-f", "README.md", "pyproject.toml.rej")
    git("-C", conflicted, *IDENTITY, "commit", "--quiet", "-m", "update: unresolved")

    recorded = (repos["medium-v0.4.0"] / ANSWERS).read_text()
    unreadable = {
        "missing": tmp / "gone",
        "no-answers": committed_repo(tmp / "no-answers", {"README.md": "# Not ours\n"}),
        "other-template": committed_repo(
            tmp / "other-template",
            {ANSWERS: "_commit: v1.0.0\n_src_path: gh:someone/else\nproject_name: x\n"},
        ),
        "broken-yaml": committed_repo(tmp / "broken-yaml", {ANSWERS: "_commit: [v0.4.0\n"}),
        "unknown-commit": committed_repo(
            tmp / "unknown-commit",
            {ANSWERS: recorded.replace("_commit: v0.4.0", "_commit: v9.9.9")},
        ),
    }
    entries = {name: str(path) for name, path in repos.items()}
    entries["url"] = (repos["medium-v0.4.0"]).as_uri()  # file://: cloned, not read in place
    entries |= {name: str(path) for name, path in unreadable.items()}
    return {
        "template": template,
        "releases": [Version(tag) for tag in releases],
        "paths": repos | unreadable,
        "entries": entries,
        "makefile_lines": makefile_lines,
        "post_commit": (repos["post-release"] / ANSWERS).read_text(),
    }


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    built = build_fleet(tmp_path_factory.mktemp("fleet"))
    built["list"] = write_list(
        tmp_path_factory.mktemp("list") / "repos.txt", list(built["entries"].values())
    )
    return built


@pytest.fixture(scope="module")
def outputs(fleet: dict[str, Any]) -> dict[str, subprocess.CompletedProcess[str]]:
    """The whole fleet's report in each format, run once."""
    return {
        name: report("--format", name, "--verbose", fleet["list"])
        for name in ("json", "table", "markdown", "html")
    }


@pytest.fixture(scope="module")
def rows(fleet: dict[str, Any], outputs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The JSON rows by repository name."""
    by_entry = {row["repo"]: row for row in json.loads(outputs["json"].stdout)}
    return {name: by_entry[entry] for name, entry in fleet["entries"].items()}


def behind(fleet: dict[str, Any], version: str) -> int:
    return sum(release > Version(version) for release in fleet["releases"])


def post_release(fleet: dict[str, Any]) -> str:
    """copier's PEP 440 form of `v0.4.0-<distance>-g<hash>`: a post, dev release."""
    described = re.search(r"^_commit: v0\.4\.0-(\d+)-g(\w+)$", fleet["post_commit"], re.M)
    assert described, fleet["post_commit"]
    return f"0.4.0.post{described[1]}.dev0+{described[2]}"


def expected_versions(fleet: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Release and tier of each readable repository."""
    newest = str(fleet["releases"][-1])
    return {
        "large-newest": (newest, "large"),
        "medium-v0.4.0": ("0.4.0", "medium"),
        "small-v0.3.0": ("0.3.0", "small"),
        "edited": ("0.4.0", "medium"),
        "conflicted": ("0.3.0", "medium"),
        "post-release": (post_release(fleet), "medium"),
        "url": ("0.4.0", "medium"),
    }


def expected_drift(fleet: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    edited = [
        {"path": "Makefile", "change": "deleted", "added": 0, "removed": fleet["makefile_lines"]},
        {"path": "README.md", "change": "changed", "added": 3, "removed": 1},
        {"path": "assets/logo.png", "change": "added", "added": 0, "removed": 0},
        {"path": "notes/team.md", "change": "added", "added": 4, "removed": 0},
    ]
    conflicted = [
        {"path": "README.md", "change": "changed", "added": 5, "removed": 0},
        {"path": "pyproject.toml.rej", "change": "added", "added": 3, "removed": 0},
    ]
    return {"edited": edited, "conflicted": conflicted}


#: Each unreadable repository and what its error must name.
UNREADABLE = {
    "missing": ["gone", "no such folder"],
    "no-answers": ["no-answers", ANSWERS],
    "other-template": ["other-template", "tier", "gh:someone/else"],
    "broken-yaml": ["broken-yaml", ANSWERS, "YAML", "line"],
    "unknown-commit": ["unknown-commit", "_commit", "v9.9.9"],
}


def truth(fleet: dict[str, Any]) -> dict[str, dict[str, str]]:
    """What every format shows per repository: release, latest, behind, tier, drift, conflicts."""
    shown = {}
    drift = expected_drift(fleet)
    for name, (release, tier) in expected_versions(fleet).items():
        entries = drift.get(name, [])
        added, removed = sum(e["added"] for e in entries), sum(e["removed"] for e in entries)
        shown[name] = {
            "release": release,
            "latest": str(fleet["releases"][-1]),
            "behind": str(behind(fleet, release)),
            "tier": tier,
            "drift": f"{len(entries)} files +{added} -{removed}" if entries else "none",
            "conflicts": "2" if name == "conflicted" else "0",
            "error": "",
        }
    blank = dict.fromkeys(("release", "latest", "behind", "tier", "drift", "conflicts"), "")
    shown |= {name: blank | {"error": "unreadable"} for name in UNREADABLE}
    # Its answers and template were read: only its commit is unknown.
    shown["unknown-commit"] |= {"tier": "medium", "latest": str(fleet["releases"][-1])}
    return shown


# JSON: the contract.


def test_report_has_one_row_per_repository_in_list_order(fleet, outputs):
    listed = [row["repo"] for row in json.loads(outputs["json"].stdout)]
    assert listed == list(fleet["entries"].values())


def test_report_rows_have_every_field(outputs):
    fields = ["repo", "release", "latest", "behind", "tier", "answers", "drift", "conflicts"]
    for row in json.loads(outputs["json"].stdout):
        assert list(row) == [*fields, "error"]


READABLE = ["large-newest", "medium-v0.4.0", "small-v0.3.0", "edited", "conflicted",
            "post-release", "url"]  # fmt: skip


@pytest.mark.parametrize("name", READABLE)
def test_report_gives_release_latest_and_behind(fleet, rows, name):
    release, tier = expected_versions(fleet)[name]
    row = rows[name]
    newest = str(fleet["releases"][-1])
    assert (row["release"], row["latest"], row["behind"], row["tier"], row["error"]) == (
        release,
        newest,
        behind(fleet, release),
        tier,
        None,
    )


def test_report_counts_releases_behind(rows):
    assert rows["large-newest"]["behind"] == 0
    assert rows["small-v0.3.0"]["behind"] == rows["medium-v0.4.0"]["behind"] + 1


def test_report_records_the_other_answers(fleet, rows):
    recorded = yaml.safe_load((fleet["paths"]["small-v0.3.0"] / ANSWERS).read_text())
    expected = {k: v for k, v in recorded.items() if not k.startswith("_") and k != "tier"}
    assert rows["small-v0.3.0"]["answers"] == expected
    assert rows["medium-v0.4.0"]["answers"]["package_name"] == "ml_project"


@pytest.mark.parametrize("name", ["large-newest", "small-v0.3.0", "post-release", "url"])
def test_report_finds_no_drift_in_untouched_repositories(rows, name):
    assert (rows[name]["drift"], rows[name]["conflicts"]) == ([], [])


def test_report_reads_the_committed_head_not_the_working_tree(rows):
    assert (rows["medium-v0.4.0"]["drift"], rows["medium-v0.4.0"]["conflicts"]) == ([], [])


def test_report_gives_drift_with_line_counts(fleet, rows):
    assert rows["edited"]["drift"] == expected_drift(fleet)["edited"]
    assert rows["edited"]["conflicts"] == []


def test_report_finds_conflict_markers_and_rejected_hunks(fleet, rows):
    assert rows["conflicted"]["conflicts"] == ["README.md", "pyproject.toml.rej"]
    assert rows["conflicted"]["drift"] == expected_drift(fleet)["conflicted"]


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_report_gives_an_unreadable_repository_its_error(rows, name):
    row = rows[name]
    assert all(word in row["error"] for word in UNREADABLE[name]), row["error"]
    assert "\n" not in row["error"] and "Traceback" not in row["error"]
    assert (row["release"], row["behind"], row["drift"], row["conflicts"]) == (None,) * 4


def test_report_keeps_what_it_could_read_of_an_unreadable_repository(fleet, rows):
    row = rows["unknown-commit"]
    assert (row["tier"], row["latest"]) == ("medium", str(fleet["releases"][-1]))


# The other formats show the same truth.


def table_cells(text: str) -> dict[str, dict[str, str]]:
    """Each row of the aligned table, by repository, cut at the header's columns."""
    header, *lines = text.splitlines()
    names = header.split()
    starts = [header.index(name) for name in names]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    found = {}
    for line in lines:
        if not line.strip():
            break
        cells = [line[a:b].strip() for a, b in bounds]
        found[cells[0]] = dict(zip([n.lower() for n in names], cells, strict=True))
    return found


def markdown_cells(text: str) -> dict[str, dict[str, str]]:
    """The first table's rows, by repository."""
    lines = [line for line in text.split("<details>")[0].splitlines() if line.startswith("|")]
    names = [cell.strip().lower() for cell in lines[0].strip("|").split("|")]
    found = {}
    for line in lines[2:]:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        found[cells[0]] = dict(zip(names, cells, strict=True))
    return found


class Page(HTMLParser):
    """The chart's bars and the table's cells of the HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: dict[tuple[str, str], int] = {}
        self.rows: list[dict[str, str]] = []
        self.field = ""
        self.in_list = False
        self.external: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        self.external += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag == "rect" and "data-count" in found:
            self.bars[found["data-release"] or "", found["data-tier"] or ""] = int(
                found["data-count"] or 0
            )
        elif tag == "tr" and self.tags >= {"tbody"}:
            self.rows.append({})
        elif tag == "td":
            self.field = found["data-field"] or ""
            self.rows[-1][self.field] = ""
        elif tag == "ul":
            self.in_list = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.field = ""
        elif tag == "ul":
            self.in_list = False

    def handle_data(self, data: str) -> None:
        if self.field and not self.in_list:
            self.rows[-1][self.field] += data.strip()


def page(text: str) -> Page:
    parsed = Page()
    parsed.feed(text)
    return parsed


def html_cells(text: str) -> dict[str, dict[str, str]]:
    return {row["repo"]: row for row in page(text).rows}


@pytest.mark.parametrize(
    ("form", "parse"), [("table", table_cells), ("markdown", markdown_cells), ("html", html_cells)]
)
def test_every_format_shows_the_same_truth(fleet, outputs, form, parse):
    shown = parse(outputs[form].stdout)
    for name, expected in truth(fleet).items():
        cells = shown[fleet["entries"][name]]
        if expected["error"]:
            assert all(word in cells["error"] for word in UNREADABLE[name]), cells
            cells = {**cells, "error": "unreadable"}
        assert {key: cells[key] for key in expected} == expected, name


@pytest.mark.parametrize("form", ["table", "markdown", "html"])
def test_every_format_summarises_the_fleet(outputs, form):
    summary = "12 repositories: 1 current, 6 behind, 5 unreadable; 2 with drift, 1 with conflicts"
    assert summary in outputs[form].stdout


def test_markdown_lists_each_drifted_file(fleet, outputs):
    details = outputs["markdown"].stdout.split("<details>")[1]
    for name, entries in expected_drift(fleet).items():
        for e in entries:
            conflict = name == "conflicted"  # both its drifted files are its conflicts
            change = e["change"] + (" (conflict)" if conflict else "")
            cells = [fleet["entries"][name], e["path"], change, str(e["added"]), str(e["removed"])]
            assert "| " + " | ".join(cells) + " |" in details


def test_html_chart_counts_repositories_per_release_and_tier(fleet, outputs):
    expected: dict[tuple[str, str], int] = {}
    for release, tier in expected_versions(fleet).values():
        expected[release, tier] = expected.get((release, tier), 0) + 1
    assert page(outputs["html"].stdout).bars == expected


def test_html_page_is_self_contained(outputs):
    parsed = page(outputs["html"].stdout)
    assert parsed.external == []
    assert not parsed.tags & {"script", "link", "img", "iframe"}
    assert "svg" in parsed.tags


def test_html_escapes_what_it_shows(tmp_path):
    entry = str(tmp_path / "<b>odd & name</b>")
    result = report("--format", "html", write_list(tmp_path / "list.txt", [entry]))
    assert "<b>odd" not in result.stdout
    assert html_cells(result.stdout)[entry]["repo"] == entry


# Speed: each distinct render once; nothing written.


def test_report_renders_each_release_and_answers_once(outputs):
    rendered = re.findall(r"^fleet: rendered (.+) in [\d.]+ s$", outputs["json"].stderr, re.M)
    # large-newest, medium v0.4.0 (untouched, edited, cloned by URL: one render),
    # small v0.3.0, medium v0.3.0 (conflicted), medium between releases.
    assert len(rendered) == 5 and len(set(rendered)) == 5, outputs["json"].stderr


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder under root, .git included: mode, mtime, and a file's hash."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            stat = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if name in files else ""
            found[str(path.relative_to(root))] = (stat.st_mode, stat.st_mtime_ns, digest)
    return found


def test_report_writes_nothing_into_any_repository(fleet):
    roots = [path for path in fleet["paths"].values() if path.exists()] + [fleet["template"]]
    before = {root: snapshot(root) for root in roots}
    assert report("--format", "json", fleet["list"]).returncode == 1
    assert {root: snapshot(root) for root in roots} == before


# Exit status, as `copier check-update`: 2 behind, 1 unreadable, 0 all current.


@pytest.mark.parametrize(
    ("names", "status"),
    [
        (["large-newest"], 0),
        (["large-newest", "small-v0.3.0"], 2),
        (["large-newest", "missing"], 1),
        (["small-v0.3.0", "broken-yaml"], 1),
    ],
)
def test_report_exit_status(fleet, tmp_path, names, status):
    listed = write_list(tmp_path / "repos.txt", [fleet["entries"][name] for name in names])
    assert report(listed).returncode == status


def test_report_of_a_missing_list_names_the_file(tmp_path):
    result = report(tmp_path / "nowhere.txt")
    assert result.returncode == 1
    assert "nowhere.txt" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_report_of_an_empty_list_is_an_empty_report(tmp_path):
    result = report("--format", "json", write_list(tmp_path / "repos.txt", []))
    assert (result.returncode, json.loads(result.stdout)) == (0, [])
