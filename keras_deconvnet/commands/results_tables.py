"""Regenerate the results tables of README.md and docs/ from records/ and the released files' metadata.

Example:
  python scripts/results_tables.py           # rewrite the marked tables
  python scripts/results_tables.py --check   # exit 1, naming the pages, if a table is out of date

A page marks a table with `<!-- records: NAME -->` ... `<!-- end records -->`; records/tables.json
defines each NAME's columns and rows, records/*.json hold the experiments, and the table
`released-files` comes from saved_models/*/*.json.
"""

import argparse
import sys
from pathlib import Path

from keras_deconvnet.commands.cli import add_verbose_argument


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".", help="the repository: its records/, saved_models/, README.md and docs/ (default: .)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table differs from what would be written")
    add_verbose_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    from keras_deconvnet.evaluation.records import stale_pages, write_tables

    root = Path(args.root)
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    if args.check:
        stale = stale_pages(root / "records", pages, root / "saved_models")
        for page in stale:
            print(f"{page}: its tables differ from records/; run python scripts/results_tables.py", file=sys.stderr)
        raise SystemExit(1 if stale else 0)
    changed = write_tables(root / "records", pages, root / "saved_models")
    print("\n".join(f"rewrote {page}" for page in changed) or "every table is up to date")
