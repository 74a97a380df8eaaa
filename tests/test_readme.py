"""The documents agree with the files they quote: measured tables, model sizes, the method count."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from musicsep.separators.base import METHODS

ROOT = Path(__file__).resolve().parents[1]


def readme_tables():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("doc", ["README.md", "docs/unet.md", "docs/app.md", "docs/synth.md"])
def test_measured_tables_match_their_output_files(doc):
    tables = readme_tables()
    text = (ROOT / doc).read_text()
    refreshed, stale = tables.refresh(text)
    assert not stale, f"{doc}: tables differ from {stale}; rerun their commands, then python benchmarks/readme_tables.py"
    assert refreshed == text


def test_every_results_table_in_the_readme_names_its_file():
    text = (ROOT / "README.md").read_text()
    named = re.findall(r"<!-- table: (\S+) -->", text)
    assert {"docs/compare_excerpt.json", "docs/compare_synth.json", "docs/unet_speed.json", "docs/long_input.json",
            "docs/valid_split.json", "docs/stages23.json"} <= set(named)
    for name in named:
        assert (ROOT / name).is_file(), name


def test_every_measured_table_in_the_unet_doc_names_its_file():
    text = (ROOT / "docs" / "unet.md").read_text()
    named = re.findall(r"<!-- table: (\S+) -->", text)
    assert named == ["docs/spoken_probe.json", "docs/festival_probe.json", "docs/unet_speed_history.json", "docs/unet_scores.json"]
    for name in named:
        assert (ROOT / name).is_file(), name


def test_unet_doc_scores_are_the_compare_runs():
    """The rows of docs/unet_scores.json that name a ``musicsep compare`` output hold its SDR medians."""
    scores = json.loads((ROOT / "docs" / "unet_scores.json").read_text())
    rows = {row[0]: row[1:] for row in scores["rows"]}
    assert len(scores["from"]) == 4
    for label, (path, method) in scores["from"].items():
        results = json.loads((ROOT / path).read_text())["results"][method]
        expected = [f"{results[column]:.2f}" for column in scores["columns"][1:]]
        assert [cell.strip("*") for cell in rows[label]] == expected, (label, path, method)


def test_a_hand_edit_shows(tmp_path):
    tables = readme_tables()
    text = (ROOT / "README.md").read_text().replace("| 60 | 54.4 | 66.2 | 733 |", "| 60 | 54.4 | 66.2 | 700 |")
    assert tables.refresh(text)[1] == ["docs/long_input.json"]


def test_model_sizes_in_the_readme_are_the_files():
    text = (ROOT / "README.md").read_text()
    for path, stated, unit in re.findall(r"\| `(musicsep/models/\S+)` \| (\d+) (KB|MB) \|", text):
        size = (ROOT / path).stat().st_size / {"KB": 1e3, "MB": 1e6}[unit]
        assert abs(size - int(stated)) <= max(1, 0.1 * int(stated)), (path, size, stated, unit)
    assert len(re.findall(r"\| `musicsep/models/", text)) == 2


def test_the_readme_counts_the_registered_methods():
    words = {3: "Three", 4: "Four", 5: "Five", 6: "Six"}
    assert f"{words[len(METHODS)]} methods, from a band-pass filter" in (ROOT / "README.md").read_text()
