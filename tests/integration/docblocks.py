# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Finds the fenced code blocks of README.md and docs/*.md and the doc-test
marker in front of each (the grammar is described in test_docs_run.py)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

MARKER = re.compile(r"^<!--\s*doc-test:(.*?)-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")

ROLES = ("producer", "consumer", "run", "skip")
FLAGS = ("live", "display")
KEYS = ("skip", "role", "roles", "seconds", "timeout", "cwd", "input", "writes",
        "stdout", "needs")
SHELLS = ("sh", "bash", "shell")
LANGUAGES = SHELLS + ("python", "c")


class MarkerError(ValueError):
    pass


@dataclass
class Command:
    """One process a block starts: the whole block, or one command of it."""
    text: str
    role: str


@dataclass
class Block:
    path: Path          # the markdown file
    line: int           # 1-based line of the opening fence
    lang: str           # the fence's info string ("" for none)
    text: str           # the block's content, exactly as written
    marker: str | None  # the marker's text, None without one
    group: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    def commands(self) -> list[Command]:
        """The processes this block runs: one per command with `roles=`, else
        the whole block as one."""
        if "roles" not in self.options:
            return [Command(self.text, self.options.get("role", "run"))]
        roles = self.options["roles"].split(",")
        cmds = split_commands(self.text)
        if len(roles) != len(cmds):
            raise MarkerError(f"{self.where}: roles= names {len(roles)} roles for "
                              f"{len(cmds)} commands")
        return [Command(c, r) for c, r in zip(cmds, roles)]


def split_commands(text: str) -> list[str]:
    """A shell block's commands: each line with its backslash continuations;
    blank lines and comment lines are not commands."""
    cmds: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current.append(line)
        if not line.rstrip().endswith("\\"):
            cmds.append("\n".join(current))
            current = []
    if current:
        cmds.append("\n".join(current))
    return cmds


def parse_marker(block: Block) -> None:
    """Fills block.group/options/flags from its marker; MarkerError on any
    word the grammar does not know."""
    if block.marker is None:
        return
    try:
        words = shlex.split(block.marker)
    except ValueError as e:
        raise MarkerError(f"{block.where}: marker: {e}") from None
    for i, word in enumerate(words):
        if "=" in word:
            key, value = word.split("=", 1)
            if key not in KEYS:
                raise MarkerError(f"{block.where}: unknown marker key {key!r}")
            block.options[key] = value
        elif word in FLAGS:
            block.flags.add(word)
        elif i == 0:
            block.group = word
        else:
            raise MarkerError(f"{block.where}: unknown marker word {word!r}")
    opts = block.options
    if "role" in opts and opts["role"] not in ROLES[:3]:
        raise MarkerError(f"{block.where}: role={opts['role']}: one of producer, consumer, run")
    if "roles" in opts:
        if block.lang not in SHELLS:
            raise MarkerError(f"{block.where}: roles= is for shell blocks")
        bad = [r for r in opts["roles"].split(",") if r not in ROLES]
        if bad:
            raise MarkerError(f"{block.where}: roles: unknown {bad}")
        if "skip" in opts["roles"].split(",") and not opts.get("skip"):
            raise MarkerError(f"{block.where}: a skipped command needs skip=\"reason\"")
        block.commands()  # checks the count
    if "skip" in opts and not opts["skip"].strip():
        raise MarkerError(f"{block.where}: skip needs a reason")
    if "cwd" in opts and opts["cwd"] != "checkout":
        raise MarkerError(f"{block.where}: cwd= takes only 'checkout'")
    if block.lang not in LANGUAGES and not ("skip" in opts and "roles" not in opts):
        raise MarkerError(f"{block.where}: a block in {block.lang or 'no language'} "
                          "cannot run: mark it skip=\"reason\" or give its fence a language")


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of one markdown file, with the marker on the last
    non-blank line before its opening fence."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group(1), m.group(2), m.group(3)
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        marker = None
        if j >= 0:
            mm = MARKER.match(lines[j].strip())
            if mm:
                marker = mm.group(1).strip()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        # A fence indented in a list item: its lines carry that indentation.
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                for ln in lines[i + 1:end]]
        text = "\n".join(body) + "\n"
        blocks.append(Block(path, i + 1, lang, text, marker))
        i = end + 1
    return blocks


def doc_files(root: Path) -> list[Path]:
    return [root / "README.md"] + sorted((root / "docs").glob("*.md"))
