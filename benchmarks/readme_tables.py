"""Render the measured tables of README.md and docs/*.md from their committed output files.

A table that comes from a file is announced by a comment line naming it, and the table follows
(a fenced block for ``musicsep compare`` outputs, a markdown table for the others)::

    <!-- table: docs/compare_excerpt.json -->

``python benchmarks/readme_tables.py`` rewrites every such table from its file;
``--check`` only reports the tables that differ (tests/test_readme.py runs it), so a hand edit of
a figure, or a rerun whose output was not copied in, shows.

Files written by ``musicsep compare --json`` render as the command prints them. The others hold
``{"command", "measured", "columns", "rows"}`` and render as a markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!-- table: (\S+) -->$")


def render(data: dict) -> str:
    """The table for one output file, as it appears in the document (without the marker)."""
    if "per_track" in data:
        from musicsep.evaluate import Report

        return "```\n" + Report.from_json(data).table() + "\n```"
    cells = lambda row: "| " + " | ".join(str(c) for c in row) + " |"  # noqa: E731
    lines = [cells(data["columns"]), cells(["---"] * len(data["columns"]))]
    return "\n".join(lines + [cells(row) for row in data["rows"]])


def write_table(path: str | Path, columns: list[str], rows: list[list], measured: str = "") -> None:
    """Save a benchmark's table for the documents, with the command line that made it and the date."""
    import datetime
    import shlex

    data = {"command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
            "measured": f"{datetime.date.today().isoformat()} {measured}".strip(),
            "columns": columns, "rows": rows}
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def refresh(text: str, root: Path = ROOT) -> tuple[str, list[str]]:
    """``text`` with every announced table re-rendered, and the names of the files whose table changed."""
    lines = text.split("\n")
    out, changed, i = [], [], 0
    while i < len(lines):
        out.append(lines[i])
        match = MARKER.match(lines[i])
        i += 1
        if not match:
            continue
        end = i
        if end < len(lines) and lines[end].startswith("```"):  # a fenced block, up to its closing fence
            end += 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            end += 1
        else:  # a markdown table: its rows
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
        table = render(json.loads((root / match.group(1)).read_text()))
        if "\n".join(lines[i:end]) != table:
            changed.append(match.group(1))
        out.extend(table.split("\n"))
        i = end
    return "\n".join(out), changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report tables that differ from their files")
    args = parser.parse_args(argv)
    stale = []
    for doc in documents():
        text, changed = refresh(doc.read_text())
        stale += [f"{doc.relative_to(ROOT)}: {name}" for name in changed]
        if changed and not args.check:
            doc.write_text(text)
    for entry in stale:
        print(("differs from its file: " if args.check else "rewritten: ") + entry)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
