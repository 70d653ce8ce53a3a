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

from keras_deconvnet.lazy import lazy_attributes

_HOMES = {
    "MODEL_NAMES": "config",
    "QUICK": "config",
    "VGG": "config",
    "BenchmarkConfig": "config",
    "count_multiply_adds": "cost",
    "layer_calls": "cost",
    "layer_multiply_adds": "cost",
    "benchmark_files": "files",
    "format_files_table": "files",
    "PeakRSS": "memory",
    "rss_bytes": "memory",
    "xnnpack_partitions": "partitions",
    "add_ratios": "report",
    "format_int8_table": "report",
    "format_ratio_table": "report",
    "format_report": "report",
    "format_results_table": "report",
    "format_targets_table": "report",
    "int8_vs_float32": "report",
    "machine_info": "run",
    "run_benchmark": "run",
    "size_name": "run",
    "Target": "targets",
    "judge_targets": "targets",
    "read_targets": "targets",
    "Timer": "timing",
    "latency_stats": "timing",
    "time_interleaved": "timing",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, globals())
