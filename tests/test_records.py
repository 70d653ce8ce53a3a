"""Experiment records and the documentation's results tables generated from them."""

import json
import sys
from pathlib import Path

import pytest

from helpers import load_script
from keras_deconvnet.commands.cli import run
from keras_deconvnet.errors import UsageError
from keras_deconvnet.evaluation.records import fill_page, load_records, release_table, render_table, stale_pages

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FIELDS = {"table", "commands", "commit", "epochs", "wall_time", "hardware", "cells"}


def test_every_table_in_the_docs_is_the_one_the_records_make():
    assert stale_pages(ROOT / "records", PAGES, ROOT / "saved_models") == []


def test_every_record_says_how_it_was_made_and_every_release_how_it_was_measured():
    records, tables = load_records(ROOT / "records")
    for name, record in records.items():
        assert FIELDS <= set(record), name
        assert record["commands"] and record["hardware"], name
    assert {name for spec in tables.values() for name in spec["rows"]} == set(records)  # none left out
    for path in (ROOT / "saved_models").rglob("*.json"):
        results = json.loads(path.read_text()).get("results", {})
        for split, figures in results.items():
            assert figures.get("how"), f"{path.name}: {split}"


def write_folder(folder: Path, cells: dict) -> Path:
    folder.mkdir()
    (folder / "tables.json").write_text(json.dumps({"runs": {"columns": ["run", "mIoU"], "numeric": ["mIoU"], "rows": ["a"]}}))
    (folder / "a.json").write_text(json.dumps({"cells": cells}))
    return folder


def test_a_marked_table_is_filled_from_the_records_and_a_stale_one_is_seen(tmp_path):
    records = write_folder(tmp_path / "records", {"run": "`a`", "mIoU": "40.00%"})
    page = tmp_path / "page.md"
    page.write_text("text\n<!-- records: runs -->\n| old |\n<!-- end records -->\nmore\n")
    assert stale_pages(records, [page]) == [page]
    loaded, tables = load_records(records)
    assert render_table(tables["runs"], loaded) == "| run | mIoU |\n|---|---:|\n| `a` | 40.00% |\n"
    assert fill_page(page.read_text(), {"runs": "| new |\n"}) == "text\n<!-- records: runs -->\n| new |\n<!-- end records -->\nmore\n"
    with pytest.raises(UsageError, match="marks table 'runs', which tables.json does not define"):
        fill_page(page.read_text(), {})


def test_a_table_naming_a_missing_record_or_a_folder_without_tables_is_one_line(tmp_path):
    records = write_folder(tmp_path / "records", {})
    (records / "a.json").unlink()
    with pytest.raises(UsageError, match="names records that .* lacks: a"):
        load_records(records)
    with pytest.raises(UsageError, match="has no tables.json"):
        load_records(tmp_path)


def test_the_release_table_reads_the_results_of_each_released_file(tmp_path):
    (tmp_path / "m").mkdir()
    metadata = {"format": "keras", "model_name": "lean", "training": {"recipe": "r", "epochs": "10", "wall_time": "1 min", "hardware": "CPU"},
                "results": {"heldout_val": {"mean_iou": 40.0, "how": "x"}, "test": {"mean_iou": 50.5, "tta_mean_iou": 52.0, "how": "y"}}}
    (tmp_path / "m" / "best.json").write_text(json.dumps(metadata))
    (tmp_path / "m" / "other.json").write_text(json.dumps({"format": "keras"}))  # no results: not listed
    rows = release_table(tmp_path).splitlines()[2:]
    assert rows == ["| `m/best.keras` | `lean` | - | `r` | 10; 1 min on CPU | 40.00% | - | 50.50% | 52.00% | - |"]


def test_the_command_checks_without_writing_and_exits_1_on_a_stale_page(tmp_path, monkeypatch, capsys):
    write_folder(tmp_path / "records", {"run": "`a`", "mIoU": "40.00%"})
    (tmp_path / "saved_models").mkdir()
    (tmp_path / "docs").mkdir()
    readme = tmp_path / "README.md"
    readme.write_text("<!-- records: runs -->\n<!-- end records -->\n")
    script = load_script("results_tables")
    monkeypatch.setattr(sys, "argv", ["results_tables.py", "--root", str(tmp_path), "--check"])
    with pytest.raises(SystemExit) as exit_info:
        run(script.main, script.get_args_parser())
    assert exit_info.value.code == 1 and "README.md: its tables differ" in capsys.readouterr().err
    assert readme.read_text() == "<!-- records: runs -->\n<!-- end records -->\n"
    monkeypatch.setattr(sys, "argv", ["results_tables.py", "--root", str(tmp_path)])
    run(script.main, script.get_args_parser())
    assert "| `a` | 40.00% |" in readme.read_text()
