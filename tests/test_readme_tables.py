"""The README's result tables are the committed tables' numbers, not retyped ones.

A table the README copies from results files stands between two markers:

    <!-- table: results/x/x.md [results/x/y.md ...] [derived N] -->
    | weights remaining ... |
    <!-- /table -->

Each of its rows is a row of the files (matched by the weights-remaining label, as a
number), and each of its columns, the last N ("derived": computed in the README from the
others, e.g. a difference) excepted, equals one column of the files cell for cell -- after
the files' annotations "(level 3, 51.28%, n=3)" / "(keep 0.5, 50.00%)" are dropped, since
the README leaves them out.  The README may show fewer rows or reorder the columns; it may
not change a number.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MARKED = re.compile(r"<!-- table: ([^>]*?) -->\n(.*?)<!-- /table -->", re.S)
ANNOTATION = re.compile(r"\s*\((?:level|keep|n=)[^)]*\)")


def rows(text):
    """The body rows of the first Markdown table in `text`, cells stripped of annotations."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(lines) >= 3, "no table with a body"
    return [[ANNOTATION.sub("", cell).strip() for cell in line.strip().strip("|").split("|")]
            for line in lines[2:]]


def label(cell):
    try:
        return float(cell)
    except ValueError:
        return cell


def marked_tables():
    found = []
    for match in MARKED.finditer(README):
        words = match.group(1).split()
        derived = 0
        if "derived" in words:
            derived = int(words[words.index("derived") + 1])
            words = words[:words.index("derived")]
        found.append(pytest.param(words, derived, match.group(2), id=words[0]))
    return found


def test_the_readme_marks_its_result_tables():
    assert len(marked_tables()) >= 12


@pytest.mark.parametrize("files, derived, table", marked_tables())
def test_a_marked_table_has_its_files_numbers(files, derived, table):
    columns = []                     # every column of every file: {row label: cell}
    for name in files:
        path = ROOT / name
        assert path.is_file(), f"README table cites {name}, which does not exist"
        body = rows(path.read_text(encoding="utf-8"))
        for k in range(1, len(body[0])):
            columns.append({label(row[0]): row[k] for row in body})
    shown = rows(table)
    for row in shown:
        assert label(row[0]) in columns[0], f"{files}: row {row[0]} is in no file"
    width = len(shown[0]) - derived
    for k in range(1, width):
        cells = {label(row[0]): row[k] for row in shown}
        assert any(all(column.get(key) == cell for key, cell in cells.items())
                   for column in columns), (
            f"{files}: README column {k} ({[row[k] for row in shown]}) is no file's column")
