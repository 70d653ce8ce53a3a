"""The package's metadata as pip builds it: no deprecated forms that a later setuptools rejects."""

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def test_license_is_an_spdx_expression():
    # setuptools warns on every install about the `{ text = ... }` table and drops it in 2027.
    license_field = _pyproject()["project"]["license"]
    assert isinstance(license_field, str), f"license must be an SPDX string, not {license_field!r}"
    assert license_field == "Apache-2.0"


def test_build_backend_reads_spdx_licenses():
    requires = _pyproject()["build-system"]["requires"]
    setuptools_pin = next(r for r in requires if r.startswith("setuptools"))
    minimum = tuple(int(part) for part in setuptools_pin.split(">=")[1].split("."))
    assert minimum >= (77,), "setuptools reads an SPDX `license` string from version 77 on"
