"""extensions/compile_cache.py: each string compiled once per render, each file once.

Every test renders its own files (their text holds the test's temporary path, so no
earlier run's cache entry can match) through environments built as copier builds
them: a file loader on the template folder, our extension among the others.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2
import pytest

from .helpers import load_extension

compile_cache = load_extension("compile_cache")


def environment(folder: Path, **options: object) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        extensions=[compile_cache.CompileCache],
        keep_trailing_newline=True,
        **options,
    )


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many sources Jinja has parsed since the fixture started: one per compile."""
    count = 0
    parse = jinja2.Environment._parse

    def counted(self: jinja2.Environment, *args: object) -> object:
        nonlocal count
        count += 1
        return parse(self, *args)

    monkeypatch.setattr(jinja2.Environment, "_parse", counted)
    return lambda: count


def test_a_string_rendered_many_times_is_compiled_once(
    tmp_path: Path, parses: Callable[[], int]
) -> None:
    env = environment(tmp_path)
    rendered = [env.from_string("{{ name }}.py").render(name=f"m{i}") for i in range(50)]
    assert rendered == [f"m{i}.py" for i in range(50)]
    assert parses() == 1


def test_a_file_is_compiled_once_across_environments(
    tmp_path: Path, parses: Callable[[], int]
) -> None:
    """Copier makes a new environment, from a new clone folder, for every render."""
    for run in ("first", "second"):
        clone = tmp_path / run
        clone.mkdir()
        (clone / "README.md.jinja").write_text(f"# {{{{ name }}}} ({tmp_path})\n")
        text = environment(clone).get_template("README.md.jinja").render(name=run)
        assert text == f"# {run} ({tmp_path})\n"
    assert parses() == 1


def test_a_changed_file_is_compiled_again_never_served_stale(tmp_path: Path) -> None:
    page = tmp_path / "page.txt.jinja"
    page.write_text(f"old {{{{ name }}}} {tmp_path}\n")
    assert environment(tmp_path).get_template(page.name).render(name="x").startswith("old x")
    page.write_text(f"new {{{{ name }}}} {tmp_path}\n")
    assert environment(tmp_path).get_template(page.name).render(name="x").startswith("new x")


def test_other_settings_compile_the_same_file_anew(tmp_path: Path) -> None:
    """Delimiters change what a source means: the cache keys by the settings too."""
    page = tmp_path / "page.txt.jinja"
    page.write_text(f"[[ name ]] {{{{ name }}}} {tmp_path}\n")
    plain = environment(tmp_path).get_template(page.name).render(name="x")
    square = environment(tmp_path, variable_start_string="[[", variable_end_string="]]")
    assert plain.startswith("[[ name ]] x")
    assert square.get_template(page.name).render(name="x").startswith("x {{ name }}")


def test_without_a_safe_cache_folder_files_still_render(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jinja refuses a cache folder that another user could write to; so do we, quietly."""

    def unsafe(self: object) -> str:
        raise RuntimeError("Cannot determine safe temp directory")

    monkeypatch.setattr(jinja2.FileSystemBytecodeCache, "_get_default_cache_dir", unsafe)
    (tmp_path / "page.txt.jinja").write_text("{{ name }}\n")
    env = environment(tmp_path)
    assert env.bytecode_cache is None
    assert env.get_template("page.txt.jinja").render(name="x") == "x\n"
