"""Targets a benchmark run is judged by, read from a TOML file the user keeps.

The library holds no targets of its own: a project writes what it aims at (the project's are in
`benchmarks/targets.toml`) and `scripts/benchmark.py --targets FILE` judges them at the run's
first size. Each `[[targets]]` entry names a model and one of its `headline_figures`, and
bounds it, or its ratio to another figure:

    [[targets]]
    text = "TFLite float32 latency, 1 thread, at most 2x the encoder's"
    model = "lean"
    figure = "tflite_float32_1t_ms"
    over = "encoder"        # divided by this model's figure (default: the same model)
    at_most = 2.0           # or at_least, or below

`over_figure` divides by another figure (default: the same figure). An entry with
`builtin_ops_only = true` checks instead that the model's TFLite files hold only built-in ops.
"""

import dataclasses
import tomllib
from pathlib import Path

from keras_deconvnet.benchmark.report import headline_figures
from keras_deconvnet.errors import UsageError

BOUNDS = ("at_most", "at_least", "below")


@dataclasses.dataclass(frozen=True)
class Target:
    """One target: `model`'s `figure` (over `over`'s `over_figure`, if either is set) within a bound."""

    text: str
    model: str
    figure: str | None = None
    over: str | None = None
    over_figure: str | None = None
    at_most: float | None = None
    at_least: float | None = None
    below: float | None = None
    builtin_ops_only: bool = False

    @property
    def is_ratio(self) -> bool:
        return self.over is not None or self.over_figure is not None


def read_targets(path: str | Path) -> list[Target]:
    """The targets of a TOML file.

    Raises:
        UsageError: no such file, bad TOML, or an entry with an unknown key, a figure no
            benchmark measures, or not exactly one bound; named by its place in the file.
    """
    path = Path(path)
    try:
        entries = tomllib.loads(path.read_text()).get("targets", [])
    except OSError as error:
        raise UsageError(f"--targets {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"--targets {path}: not valid TOML: {error}") from None
    figures = set(headline_figures({}))
    fields = {field.name for field in dataclasses.fields(Target)}
    targets = []
    for number, entry in enumerate(entries, start=1):
        where = f"--targets {path}, target {number}"
        unknown = sorted(set(entry) - fields)
        if unknown:
            raise UsageError(f"{where}: unknown key '{unknown[0]}'; a target has {', '.join(sorted(fields))}")
        if "text" not in entry or "model" not in entry:
            raise UsageError(f"{where}: give it a text and a model")
        if entry.get("builtin_ops_only"):
            targets.append(Target(text=entry["text"], model=entry["model"], builtin_ops_only=True))
            continue
        for key in ("figure", "over_figure"):
            if key in entry and entry[key] not in figures:
                raise UsageError(f"{where}: {key} '{entry[key]}' is not a benchmark figure; one of {', '.join(sorted(figures))}")
        if "figure" not in entry or sum(key in entry for key in BOUNDS) != 1:
            raise UsageError(f"{where}: give it a figure and one bound ({', '.join(BOUNDS)})")
        targets.append(Target(**entry))
    return targets


def judge_targets(result: dict, targets: list[Target]) -> list[dict]:
    """Each target judged at the run's first size.

    Returns:
        [{"target", "measured", "met"}]; met is None where a figure was not measured.
    """
    size = result["sizes"][0]
    entries = result["results"][size]
    return [
        _builtin_ops(result, target) if target.builtin_ops_only else _bounded(entries, target) for target in targets
    ]


def _bounded(entries: dict, target: Target) -> dict:
    value = headline_figures(entries.get(target.model, {}))[target.figure]
    if target.is_ratio:
        reference = headline_figures(entries.get(target.over or target.model, {}))[target.over_figure or target.figure]
        if value is None or not reference:
            return {"target": target.text, "measured": "not measured", "met": None}
        measured, value = f"{_number(value)} / {_number(reference)} = {value / reference:.2f}x", value / reference
    elif value is None:
        return {"target": target.text, "measured": "not measured", "met": None}
    else:
        measured = _number(value)
    if target.at_most is not None:
        met = value <= target.at_most
    elif target.at_least is not None:
        met = value >= target.at_least
    else:
        met = value < target.below
    return {"target": target.text, "measured": measured, "met": bool(met)}


def _number(value: float) -> str:
    return f"{value:,}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:.2f}"


def _builtin_ops(result: dict, target: Target) -> dict:
    """No Flex (TF Select) or custom op in any TFLite file of the model, at any size."""
    entries = {size: models[target.model] for size, models in result["results"].items() if target.model in models}
    failures = [
        f"{size}: {entry['notes']['tflite']}" for size, entry in entries.items() if "tflite" in entry.get("notes", {})
    ]
    ops = {f"{size} {dtype}": found for size, entry in entries.items()
           for dtype, found in entry.get("tflite_non_builtin_ops", {}).items()}
    flex = sorted({op for found in ops.values() for op in found})
    if failures:  # convert_tflite refuses Flex and custom ops, naming them
        return {"target": target.text, "measured": "; ".join(failures), "met": False}
    if not ops:
        return {"target": target.text, "measured": "not measured", "met": None}
    with_flex = [name for name, found in ops.items() if found]
    measured = f"{', '.join(flex)} in {', '.join(with_flex)}" if flex else f"built-in ops only ({', '.join(ops)})"
    return {"target": target.text, "measured": measured, "met": not flex}
