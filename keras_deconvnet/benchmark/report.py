"""The report: headline figures, ratios to the references, Markdown (with the targets judged, if any)."""

from collections.abc import Mapping, Sequence

from keras_deconvnet.benchmark.config import ENCODER, REFERENCES, TFLITE_TYPES, VGG

# ------------------------------------------------------------------------------ figures


def headline_figures(entry: dict, threads: Sequence[int] = (1, 2)) -> dict[str, float | None]:
    """The figures of one entry that tables and ratios show (None: not measured).

    Keys: parameters, multiply_adds, keras_mb, tflite_float32_mb, tflite_int8_mb,
    keras_ms, tflite_<dtype>_<n>t_ms (medians), train_images_per_second, train_peak_mb.
    """
    if "skipped" in entry:
        entry = {}
    sizes = entry.get("file_bytes", {})
    latency = entry.get("latency", {})
    training = entry.get("training") or {}
    figures = {
        "parameters": entry.get("parameters"),
        "multiply_adds": entry.get("multiply_adds"),
        "keras_mb": _scaled(sizes.get("keras"), 1e-6),
        **{f"tflite_{dtype}_mb": _scaled(sizes.get(f"tflite_{dtype}"), 1e-6) for dtype in TFLITE_TYPES},
        "keras_ms": latency.get("keras", {}).get("median_ms"),
    }
    for dtype in TFLITE_TYPES:
        for count in threads:
            figures[f"tflite_{dtype}_{count}t_ms"] = latency.get(f"tflite_{dtype}_{count}t", {}).get("median_ms")
    figures["train_images_per_second"] = training.get("images_per_second")
    figures["train_peak_mb"] = _scaled(training.get("peak_memory_bytes"), 1e-6)
    return figures


def _scaled(value, factor):
    return None if value is None else value * factor


def add_ratios(entries: dict[str, dict], threads: Sequence[int] = (1, 2)) -> None:
    """Adds "vs_encoder" and "vs_deconvnet_vgg16" to every entry: each headline figure
    divided by the reference's at the same size (None where either is missing)."""
    figures = {name: headline_figures(entry, threads) for name, entry in entries.items()}
    for name, entry in entries.items():
        for reference in REFERENCES:
            base = figures.get(reference, {})
            entry[f"vs_{reference}"] = {
                key: (value / base[key] if value is not None and base.get(key) else None)
                for key, value in figures[name].items()
            }
        entry["int8_vs_float32"] = int8_vs_float32(entry, threads)


def int8_vs_float32(entry: dict, threads: Sequence[int] = (1, 2)) -> dict[str, float | None]:
    """LiteRT latency of the int8 file divided by the float32 file's (medians), per thread
    count: {"1t": ratio, ...}; above 1, int8 is slower; None where either is missing."""
    figures = headline_figures(entry, threads)
    ratios = {}
    for count in threads:
        int8, f32 = figures[f"tflite_int8_{count}t_ms"], figures[f"tflite_float32_{count}t_ms"]
        ratios[f"{count}t"] = int8 / f32 if int8 is not None and f32 else None
    return ratios


# ------------------------------------------------------------------------------ tables


# (key of headline_figures, Markdown header, formatter); the latency columns between them
# come from `_columns`, shown as "median / p90".
_SIZE_COLUMNS = (
    ("parameters", "parameters", lambda v: f"{v:,}"),
    ("multiply_adds", "MMACs", lambda v: f"{v / 1e6:,.1f}"),
    ("keras_mb", ".keras MB", lambda v: f"{v:.1f}"),
    ("tflite_float32_mb", "f32 .tflite MB", lambda v: f"{v:.1f}"),
    ("tflite_int8_mb", "int8 .tflite MB", lambda v: f"{v:.1f}"),
)
_TRAINING_COLUMNS = (
    ("train_images_per_second", "train images/s", lambda v: f"{v:.1f}"),
    ("train_peak_mb", "train peak MB", lambda v: f"{v:,.0f}"),
)


def _columns(threads: Sequence[int]) -> list[tuple]:
    latency = [("keras_ms", "Keras ms", None)] + [
        (f"tflite_{dtype}_{count}t_ms", f"{'f32' if dtype == 'float32' else dtype} {count} "
         f"thread{'s' if count > 1 else ''} ms", None)
        for dtype in TFLITE_TYPES
        for count in threads
    ]
    return [*_SIZE_COLUMNS, *latency, *_TRAINING_COLUMNS]


def _table_header(columns: Sequence[tuple]) -> list[str]:
    return ["| model | " + " | ".join(header for _, header, _ in columns) + " |", "|---|" + "---:|" * len(columns)]


def format_results_table(entries: Mapping[str, dict], threads: Sequence[int] = (1, 2)) -> str:
    """One size's figures as Markdown: a row per model; latencies "median / p90" in ms,
    "-" where a figure was not measured."""
    columns = _columns(threads)
    lines = _table_header(columns)
    for name, entry in entries.items():
        figures = headline_figures(entry, threads)
        cells = []
        for key, _, formatter in columns:
            value = figures[key]
            if value is None:
                cells.append("-")
            elif formatter is None:  # a latency: median / p90
                stats = entry["latency"][key.removesuffix("_ms")]
                cells.append(f"{stats['median_ms']:.2f} / {stats['p90_ms']:.2f}")
            else:
                cells.append(formatter(value))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_ratio_table(entries: Mapping[str, dict], reference: str, threads: Sequence[int] = (1, 2)) -> str:
    """Every figure divided by `reference`'s at the same size (latencies: medians)."""
    columns = _columns(threads)
    lines = _table_header(columns)
    for name, entry in entries.items():
        ratios = entry.get(f"vs_{reference}", {})
        cells = ["-" if ratios.get(key) is None else f"{ratios[key]:.3g}" for key, _, _ in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _threads_text(count: int) -> str:
    return f"{count} thread{'s' if count > 1 else ''}"


def _outside_text(partitions: dict) -> str:
    names = ", ".join(f"{name} {count}" for name, count in partitions["other_op_names"].items())
    return f"{partitions['other_ops']}" + (f" ({names})" if names else "")


def format_int8_table(entries: Mapping[str, dict], threads: Sequence[int] = (1, 2)) -> str:
    """int8 against float32 in LiteRT as Markdown: per thread count both medians (ms) and
    int8/f32 (above 1: int8 slower), then the XNNPACK partitions of the int8 file and the
    ops left to LiteRT's own kernels (by name); "-" where not measured."""
    headers = [
        header
        for count in threads
        for header in (f"f32 {_threads_text(count)} ms", f"int8 {_threads_text(count)} ms",
                       f"int8/f32 {_threads_text(count)}")
    ] + ["int8 XNNPACK partitions", "int8 ops outside XNNPACK"]
    lines = ["| model | " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1) + "---|"]
    for name, entry in entries.items():
        figures, ratios = headline_figures(entry, threads), int8_vs_float32(entry, threads)
        cells = []
        for count in threads:
            for value in (figures[f"tflite_float32_{count}t_ms"], figures[f"tflite_int8_{count}t_ms"]):
                cells.append("-" if value is None else f"{value:.2f}")
            ratio = ratios[f"{count}t"]
            cells.append("-" if ratio is None else f"{ratio:.2f}")
        partitions = entry.get("xnnpack", {}).get("int8")
        cells += ["-", "-"] if partitions is None else [str(partitions["partitions"]), _outside_text(partitions)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_targets_table(targets: Sequence[dict]) -> str:
    """The targets as Markdown: target, measured, met (yes / NO / not measured)."""
    lines = ["| target | measured | met |", "|---|---|---|"]
    for target in targets:
        met = "not measured" if target["met"] is None else "yes" if target["met"] else "NO"
        lines.append(f"| {target['target']} | {target['measured']} | {met} |")
    return "\n".join(lines)


def _notes(entries: Mapping[str, dict]) -> list[str]:
    lines = []
    for name, entry in entries.items():
        if "skipped" in entry:
            lines.append(f"- {name}: not built: {entry['skipped']}")
        for what, note in entry.get("notes", {}).items():
            lines.append(f"- {name}, {what}: {note}")
    return lines


def format_report(result: dict) -> str:
    """The whole Markdown report: conditions, per size the figures and the ratio tables to
    the references in the run, then the targets judged (`benchmark.targets`), if any."""
    config, machine = result["config"], result["machine"]
    threads = config["threads"]
    load = machine["load_average"]
    lines = [
        "# Benchmark: every model against the encoder floor and the VGG16 DeconvNet",
        "",
        f"- command: `{result['command']}`",
        f"- date: {result['date']}; wall time {result['seconds']:.0f} s",
        f"- machine: {machine['cpu']}, {machine['cores']} cores; load average (1, 5, 15 min) "
        f"before {', '.join(f'{v:.2f}' for v in load['before'])}, after "
        f"{', '.join(f'{v:.2f}' for v in load['after'])} (other processes slow every figure)",
        f"- TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, LiteRT (ai-edge-litert) "
        f"{machine['litert']}, Python {machine['python']}",
        f"- {config['num_classes']} classes, random weights. Multiply-adds (MMACs: millions per image) are "
        "counted from the graph: convolutions (regular, depthwise, separable, transposed) and "
        "dense layers; batch norm, activations, pooling, resizing, unpooling, adds and "
        "multiplies are left out.",
        "- TFLite: batch 1, built-in ops only, float32 and int8 (full-integer post-training "
        f"quantisation calibrated on {config['calibration_images']} random 0..255 images, float "
        "input, int8 logits out), converted with `keras_deconvnet.export.convert_tflite`.",
        f"- Latency, batch 1, ms as median / p90: {config['rounds']} rounds, each running every "
        f"model in turn (LiteRT {config['tflite_runs']} runs a round after "
        f"{config['tflite_warmup']} warm-up runs, XNNPACK as it applies by default; Keras: the "
        f"model called in a `tf.function`, TensorFlow's default threads, {config['keras_runs']} "
        f"runs a round after {config['keras_warmup']} warm-up runs, the VGG16 DeconvNet "
        f"{config['vgg_runs']} after 1).",
        f"- Training: `train_on_batch` at batch {config['batch_size']}, Adam, "
        f"`SegmentationCrossEntropy()`, random images and labels, {config['train_steps']} timed "
        f"steps after {config['train_warmup']} warm-up steps (VGG16 DeconvNet: "
        f"{config['vgg_train_steps']} after 1); the encoder alone is trained with its 576 "
        "output channels as logits at stride 32. Peak MB: the largest resident size of the "
        "process (sampled every 5 ms by a thread) during those steps minus the resident size "
        "just before them: optimizer state, gradients, activations and the traced graph, not "
        "the weights.",
        "- Ratios: the model's figure divided by the reference's in the same run and at the "
        "same size (below 1: smaller or faster, except images/s, where above 1 is faster).",
        "- int8 against float32: the LiteRT medians above and int8/f32 (above 1: int8 is "
        "slower). XNNPACK partitions: the pieces of the int8 graph XNNPACK's delegate runs, as "
        "LiteRT's Python interpreter splits it (`keras_deconvnet.benchmark.xnnpack_partitions`); "
        "ops outside XNNPACK run on LiteRT's own kernels between them (an ADD whose input and "
        "output scales XNNPACK cannot rescale, for one). One partition and no op outside is the "
        "whole graph in XNNPACK.",
    ]
    for size, entries in result["results"].items():
        notes = _notes(entries)
        lines += ["", f"## {size}", "", format_results_table(entries, threads)]
        for reference, title in ((ENCODER, "the encoder"), (VGG, "the VGG16 DeconvNet")):
            if reference in entries:  # else a table of dashes; the notes say why
                lines += ["", f"Ratio to {title}:", "", format_ratio_table(entries, reference, threads)]
        lines += ["", "int8 against float32 (LiteRT):", "", format_int8_table(entries, threads)]
        notes += [
            f"- {reference}: not in this run, so no ratios to it"
            for reference in REFERENCES
            if reference not in entries
        ]
        if notes:
            lines += ["", "Not measured:", "", *notes]
    if result.get("targets"):
        lines += ["", f"## Targets ({result['sizes'][0]})", "", format_targets_table(result["targets"])]
    return "\n".join(lines) + "\n"
