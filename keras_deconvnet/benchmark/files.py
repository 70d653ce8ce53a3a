"""Model files timed side by side: a release's int8 file against the same model in float32.

The model benchmark (`run_benchmark`) builds every model with random weights and
calibrates int8 on random images, which can place quantisation ranges where XNNPACK
declines an op. A shipped file is calibrated on real images; timing it against the float32
TFLite of the same `.keras` model, in one run, is the measure of what a user gets.
"""

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keras_deconvnet.benchmark.partitions import xnnpack_partitions
from keras_deconvnet.benchmark.timing import Timer, latency_stats, tflite_call, time_interleaved
from keras_deconvnet.errors import UsageError
from keras_deconvnet.export import convert_tflite
from keras_deconvnet.export.runtimes import litert_interpreter
from keras_deconvnet.models import load_model
from keras_deconvnet.models.precision import float32_model

FILE_SUFFIXES = (".tflite", ".keras")


def tflite_content(path: str | Path) -> tuple[bytes, str]:
    """A file's TFLite flatbuffer and what it is: a `.tflite` file as saved, or a `.keras`
    model converted to float32 TFLite at its own input size."""
    path = Path(path)
    if path.suffix not in FILE_SUFFIXES:
        raise UsageError(f"{path}: time .tflite files, or .keras models (as float32 TFLite)")
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    if path.suffix == ".tflite":
        return path.read_bytes(), "as saved"
    model = float32_model(load_model(path, compile=False))  # as export converts it
    return convert_tflite(model, ("float32",))["float32"], "float32 TFLite of the .keras"


def _input_image(detail: dict, seed: int) -> np.ndarray:
    """A random image of an input tensor's shape and type."""
    rng, dtype = np.random.default_rng(seed), np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return rng.uniform(0, 255, detail["shape"]).astype(dtype)
    limits = np.iinfo(dtype)
    return rng.integers(limits.min, limits.max, detail["shape"], endpoint=True).astype(dtype)


def _tensor_text(detail: dict) -> str:
    return f"{np.dtype(detail['dtype']).name} {'x'.join(map(str, detail['shape']))}"


def benchmark_files(
    paths: Sequence[str | Path],
    threads: Sequence[int] = (1, 2),
    rounds: int = 5,
    runs: int = 20,
    warmup: int = 5,
    seed: int = 0,
) -> dict:
    """Times each file's LiteRT invoke, interleaved, and divides by the first file's.

    Args:
        paths: `.tflite` files, and `.keras` models timed as float32 TFLite.
        threads: LiteRT thread counts.
        rounds: latency rounds; each times every file in turn (`time_interleaved`).
        runs: timed runs per file, thread count and round.
        warmup: untimed runs before the first round.
        seed: of the random input images.

    Returns:
        {"files": {path: {"kind", "input", "output", "latency": {"<n>t": `latency_stats`},
        "vs_first": {"<n>t": median / the first file's}, "xnnpack": `xnnpack_partitions`}},
        "seconds"}.
    """
    if not paths:
        raise UsageError("give at least one file to time")
    if len(set(map(str, paths))) < len(paths):
        raise UsageError("give each file once")
    if rounds < 1 or runs < 1 or warmup < 0 or not threads or min(threads) < 1:
        raise UsageError("rounds, runs and thread counts must be at least 1, warm-up runs at least 0")
    start = time.perf_counter()
    files, timers = {}, {}
    for path in map(str, paths):
        content, kind = tflite_content(path)
        try:
            interpreter = litert_interpreter(content)
        except ValueError as error:
            raise UsageError(f"{path} is not a TFLite file LiteRT can open: {error}") from None
        (input_detail,), (output_detail,) = interpreter.get_input_details(), interpreter.get_output_details()
        files[path] = {
            "kind": kind,
            "input": _tensor_text(input_detail),
            "output": _tensor_text(output_detail),
            "xnnpack": xnnpack_partitions(content),
        }
        image = _input_image(input_detail, seed)
        timers[path] = {f"{count}t": Timer(tflite_call(content, image, count), runs, warmup) for count in threads}
    for path, kinds in time_interleaved(timers, rounds).items():
        files[path]["latency"] = {kind: latency_stats(times) for kind, times in kinds.items()}
    first = files[str(paths[0])]["latency"]
    for entry in files.values():
        entry["vs_first"] = {
            kind: stats["median_ms"] / first[kind]["median_ms"] for kind, stats in entry["latency"].items()
        }
    return {"files": files, "seconds": time.perf_counter() - start}


def format_files_table(result: dict) -> str:
    """The files' latencies as a Markdown table, with the ratio to the first file."""
    files = result["files"]
    kinds = list(next(iter(files.values()))["latency"])
    threads = {kind: f"{kind[:-1]} thread{'' if kind == '1t' else 's'}" for kind in kinds}
    header = ["file", "timed as", "input", "output"]
    header += [f"ms, {threads[kind]}" for kind in kinds]
    header += [f"to the first, {threads[kind]}" for kind in kinds] + ["XNNPACK partitions", "ops outside XNNPACK"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|---|" + "---:|" * (2 * len(kinds) + 1) + "---|"]
    for path, entry in files.items():
        outside = ", ".join(f"{count} {name}" for name, count in entry["xnnpack"]["other_op_names"].items())
        cells = [f"`{path}`", entry["kind"], entry["input"], entry["output"]]
        cells += [f"{entry['latency'][kind]['median_ms']:.2f}" for kind in kinds]
        cells += [f"{entry['vs_first'][kind]:.2f}" for kind in kinds]
        cells += [str(entry["xnnpack"]["partitions"]), outside or "none"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
