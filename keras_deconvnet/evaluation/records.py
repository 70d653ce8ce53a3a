"""Experiment records and the results tables of the documentation, generated from them.

A record (`records/NAME.json`) is one experiment: the table (the question) it answers, the
commands that ran it, the commit that documented it, its epochs, wall time and hardware, and
its figures as the table shows them (`cells`). `records/tables.json` gives each table's
columns and rows in order. A documentation page marks where a table goes:

    <!-- records: recipe -->
    | ... |
    <!-- end records -->

The table `released-files` comes from the metadata JSON of each released file
(`saved_models/NAME/*.json`): its `training` and `results`, each figure with how it was
measured. `write_tables` fills every marked table and `stale_pages` lists the pages whose
tables differ from what it would write, so no figure is typed twice.
"""

import json
import re
from pathlib import Path

from keras_deconvnet.errors import UsageError

TABLES_FILE = "tables.json"
MARKED = re.compile(r"(<!-- records: (?P<table>[\w-]+) -->\n)(?P<body>.*?)(<!-- end records -->)", re.DOTALL)


def load_records(folder: str | Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """({record name: record}, {table: {"columns": [...], "rows": [record names]}}) of a records folder.

    Raises:
        UsageError: no tables.json, or a table that names a record the folder lacks.
    """
    folder = Path(folder)
    tables_file = folder / TABLES_FILE
    if not tables_file.is_file():
        raise UsageError(f"{folder} has no {TABLES_FILE}: it is not a records folder")
    tables = json.loads(tables_file.read_text())
    records = {path.stem: _read(path) for path in sorted(folder.glob("*.json")) if path.name != TABLES_FILE}
    for table, spec in tables.items():
        missing = [name for name in spec["rows"] if name not in records]
        if missing:
            raise UsageError(f"table '{table}' in {tables_file} names records that {folder} lacks: {', '.join(missing)}")
    return records, tables


def _read(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
    except ValueError as error:
        raise UsageError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(record, dict) or not isinstance(record.get("cells"), dict):
        raise UsageError(f"{path} has no cells: a record holds its figures as {{column: text}} under 'cells'")
    return record


def render_table(spec: dict, records: dict[str, dict]) -> str:
    """A Markdown table of the records `spec["rows"]` names, in the columns `spec["columns"]` names."""
    columns = spec["columns"]
    numeric = spec.get("numeric", [])
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if column in numeric else "---" for column in columns) + "|"]
    for name in spec["rows"]:
        cells = records[name]["cells"]
        lines.append("| " + " | ".join(cells.get(column, "-") for column in columns) + " |")
    return "\n".join(lines) + "\n"


def fill_page(text: str, tables: dict[str, str]) -> str:
    """`text` with every marked table replaced by its rendering from `tables`.

    Raises:
        UsageError: a marker names a table the records do not have.
    """
    def fill(match: re.Match) -> str:
        table = match.group("table")
        if table not in tables:
            raise UsageError(f"a page marks table '{table}', which {TABLES_FILE} does not define")
        return match.group(1) + tables[table] + match.group(4)

    return MARKED.sub(fill, text)


RELEASE_COLUMNS = ("file", "model", "parameters", "recipe", "training", "held-out street (0006R0)", "val (in its training data)",
                   "CamVid test", "test, with TTA", "ms, 1 thread")


def _percent(results: dict, split: str, key: str = "mean_iou") -> str:
    value = results.get(split, {}).get(key)
    return "-" if value is None else f"{value:.2f}%"


def release_table(folder: str | Path) -> str:
    """The released files of a `saved_models` folder that carry results, one row each."""
    lines = ["| " + " | ".join(RELEASE_COLUMNS) + " |", "|---|---|---:|---|---|" + "---:|" * 4 + "---|"]
    for path in sorted(Path(folder).rglob("*.json")):
        metadata = json.loads(path.read_text())
        if "results" not in metadata or metadata.get("format") not in ("keras", "tflite"):
            continue  # the released files are .keras and .tflite, each with NAME.json beside it
        artifact = path.with_suffix(f".{metadata['format']}")
        results, training = metadata["results"], metadata.get("training", {})
        cells = [
            f"`{artifact.relative_to(folder).as_posix()}`", f"`{metadata['model_name']}`",
            f"{metadata['parameters']:,}" if "parameters" in metadata else "-", f"`{training.get('recipe', '-')}`",
            f"{training.get('epochs', '-')}; {training.get('wall_time', '-')} on {training.get('hardware', '-')}",
            _percent(results, "heldout_val"), _percent(results, "val"), _percent(results, "test"),
            _percent(results, "test", "tta_mean_iou"),
            "; ".join(f"{ms} ({cpu})" for cpu, ms in results.get("latency_ms_1_thread", {}).items() if cpu != "how") or "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _rendered(records_dir: str | Path, releases_dir: str | Path | None) -> dict[str, str]:
    records, tables = load_records(records_dir)
    rendered = {table: render_table(spec, records) for table, spec in tables.items()}
    if releases_dir is not None:
        rendered["released-files"] = release_table(releases_dir)
    return rendered


def stale_pages(records_dir: str | Path, pages: list[Path], releases_dir: str | Path | None = None) -> list[Path]:
    """The pages whose marked tables differ from what the records (and released files) make."""
    rendered = _rendered(records_dir, releases_dir)
    return [page for page in pages if fill_page(page.read_text(), rendered) != page.read_text()]


def write_tables(records_dir: str | Path, pages: list[Path], releases_dir: str | Path | None = None) -> list[Path]:
    """Rewrites the marked tables of `pages` from the records and the released files'
    metadata in `releases_dir`; returns the pages it changed."""
    rendered = _rendered(records_dir, releases_dir)
    changed = []
    for page in pages:
        text = page.read_text()
        filled = fill_page(text, rendered)
        if filled != text:
            page.write_text(filled)
            changed.append(page)
    return changed
