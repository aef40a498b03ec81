#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One job per file, one step per function: no C file in gst/, lib/ or
tools/ above MAX_FILE_LINES lines, no function above MAX_FUNCTION_LINES
(from its opening to its closing brace). GObject class_init functions are
exempt: they are the property tables. Relies on gst-indent's layout (a
function's braces in column 0), which the gst-indent lint test enforces.

Usage: size-check.py [SOURCE_ROOT]"""

import pathlib
import re
import sys

MAX_FILE_LINES = 900
MAX_FUNCTION_LINES = 80
EXEMPT = re.compile(r"_class_init$")
FUNCTION_HEAD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def functions(lines):
    """(name, first line number, length) of each function definition."""
    i = 0
    while i < len(lines):
        if lines[i] == "{":
            name = None
            for j in range(i - 1, max(i - 8, -1), -1):
                m = FUNCTION_HEAD.match(lines[j])
                if m:
                    name = m.group(1)
                    break
                if lines[j] == "" or lines[j].endswith(";") or \
                        lines[j].startswith(("struct", "typedef", "union",
                                             "enum", "}")):
                    break
            end = i + 1
            while end < len(lines) and lines[end] != "}" and \
                    not lines[end].startswith("};") and \
                    not re.match(r"^} [A-Za-z_]", lines[end]):
                end += 1
            if name:
                yield name, i + 1, end - i + 1
            i = end
        i += 1


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                        pathlib.Path(__file__).resolve().parents[2])
    problems = []
    for directory in ("gst", "lib", "tools"):
        for path in sorted((root / directory).rglob("*.c")):
            lines = path.read_text().split("\n")
            rel = path.relative_to(root)
            if len(lines) - 1 > MAX_FILE_LINES:
                problems.append(f"{rel}: {len(lines) - 1} lines "
                                f"(at most {MAX_FILE_LINES}): split it by job")
            for name, line, length in functions(lines):
                if length > MAX_FUNCTION_LINES and not EXEMPT.search(name):
                    problems.append(f"{rel}:{line}: {name}() is {length} lines "
                                    f"(at most {MAX_FUNCTION_LINES}): "
                                    "make it a list of named steps")
    for p in problems:
        print(p)
    if problems:
        return 1
    print("every C file and function is within its size")
    return 0


if __name__ == "__main__":
    sys.exit(main())
