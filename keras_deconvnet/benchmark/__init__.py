"""Measure every model, and the bare encoder as the floor, in one process (issue 7).

For each model and input size: parameters, multiply-adds counted from the graph, `.keras`
and TFLite (float32, int8) file sizes, batch-1 inference latency (Keras and LiteRT with 1
and 2 threads, median and p90), training throughput and peak training memory, and every
figure as a ratio to the encoder's and to the VGG16 DeconvNet's, measured in the same run;
and int8 against float32: their latency ratio and how XNNPACK splits each TFLite file
(`xnnpack_partitions`, issue 15); and given model files side by side (`benchmark_files`).
`run_benchmark(config)` does it all; `format_report(result)` writes the Markdown.

Example:
    >>> result = run_benchmark(BenchmarkConfig(models=("encoder", "lean"), sizes=((224, 224),)))
    >>> print(format_report(result))

`scripts/benchmark.py` is the command line. Nothing here is timed in a subprocess: the
figures of one run share the machine's conditions, which the report records.
"""

from keras_deconvnet.benchmark.config import MODEL_NAMES, QUICK, VGG, BenchmarkConfig
from keras_deconvnet.benchmark.cost import count_multiply_adds, layer_calls, layer_multiply_adds
from keras_deconvnet.benchmark.files import benchmark_files, format_files_table
from keras_deconvnet.benchmark.memory import PeakRSS, rss_bytes
from keras_deconvnet.benchmark.partitions import xnnpack_partitions
from keras_deconvnet.benchmark.report import (
    add_ratios,
    format_int8_table,
    format_ratio_table,
    format_report,
    format_results_table,
    format_targets_table,
    int8_vs_float32,
)
from keras_deconvnet.benchmark.run import machine_info, run_benchmark, size_name
from keras_deconvnet.benchmark.targets import Target, judge_targets, read_targets
from keras_deconvnet.benchmark.timing import Timer, latency_stats, time_interleaved

__all__ = [
    "MODEL_NAMES",
    "QUICK",
    "VGG",
    "BenchmarkConfig",
    "PeakRSS",
    "Target",
    "Timer",
    "add_ratios",
    "benchmark_files",
    "count_multiply_adds",
    "format_files_table",
    "format_int8_table",
    "format_ratio_table",
    "format_report",
    "format_results_table",
    "format_targets_table",
    "int8_vs_float32",
    "judge_targets",
    "latency_stats",
    "layer_calls",
    "layer_multiply_adds",
    "machine_info",
    "read_targets",
    "rss_bytes",
    "run_benchmark",
    "size_name",
    "time_interleaved",
    "xnnpack_partitions",
]
