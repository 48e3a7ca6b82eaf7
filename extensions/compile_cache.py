"""Compile each template once: per render for strings, per machine for files.

Compiling is most of what rendering costs, and copier compiles far more than it needs:

- Every part of every path, the answers file's name (once per path part) and each
  question's type, default and condition go through ``from_string``, which compiles
  the string every time: about a thousand compiles per large copy, of about three
  hundred distinct strings. The environment now keeps what it compiled.
- Every file is compiled anew on each copy and on each of an update's renders.
  Jinja's own bytecode cache keeps the compiled files in its folder under the
  system's temporary directory. Jinja keys that cache by the template's path, and
  copier renders from a fresh clone in a new temporary folder every time, so the key
  here is the template's name and source and the environment's settings instead.
"""

from __future__ import annotations

from contextlib import suppress
from functools import cache, cached_property
from hashlib import sha256
from typing import Any

from jinja2 import Environment
from jinja2.bccache import Bucket, FileSystemBytecodeCache
from jinja2.ext import Extension

#: The cache's file names, distinct from other programs' in Jinja's shared folder.
PATTERN = "__copier_ml_%s.cache"

#: The environment's settings that change what a source compiles to.
SETTINGS = ("block_start_string", "block_end_string", "variable_start_string",
            "variable_end_string", "comment_start_string", "comment_end_string",
            "line_statement_prefix", "line_comment_prefix", "trim_blocks", "lstrip_blocks",
            "newline_sequence", "keep_trailing_newline", "optimized", "autoescape")  # fmt: skip


def settings(environment: Environment) -> str:
    """What the compiled code depends on besides the source: options, tags, filters."""
    parts = [repr(getattr(environment, name)) for name in SETTINGS[:-1]]
    parts.append(repr(environment.autoescape) if isinstance(environment.autoescape, bool)
                 else "autoescape by name")  # fmt: skip
    parts += sorted(f"{type(ext).__name__}{sorted(ext.tags)}"
                    for ext in environment.extensions.values())  # fmt: skip
    parts += sorted(environment.filters) + sorted(environment.tests)
    return sha256("\0".join(parts).encode()).hexdigest()


class SourceKeyedCache(FileSystemBytecodeCache):
    """Jinja's file cache, keyed by name, source and settings rather than by path."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(pattern=PATTERN)
        self._environment = environment

    @cached_property
    def _settings(self) -> str:
        """Read at the first file, once copier has loaded every extension and filter."""
        return settings(self._environment)

    def get_bucket(self, environment: Environment, name: str, filename: str | None,
                   source: str) -> Bucket:  # fmt: skip
        key = "\0".join((self._settings, name, self.get_source_checksum(source)))
        return super().get_bucket(environment, key, None, source)


class CompileCache(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        with suppress(OSError, RuntimeError):  # no safe cache folder: compile as before
            environment.bytecode_cache = SourceKeyedCache(environment)
        compile_source = environment.compile

        @cache
        def compile_string(source: str, name: str | None, filename: str | None,
                           raw: bool, defer_init: bool) -> Any:  # fmt: skip
            return compile_source(source, name, filename, raw, defer_init)

        def compile_once(source: Any, name: str | None = None, filename: str | None = None,
                         raw: bool = False, defer_init: bool = False) -> Any:  # fmt: skip
            if isinstance(source, str):
                return compile_string(source, name, filename, raw, defer_init)
            return compile_source(source, name, filename, raw, defer_init)  # a parsed tree

        environment.compile = compile_once  # type: ignore[method-assign]
