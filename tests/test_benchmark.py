"""The benchmark: multiply-adds on tiny models counted by hand, the statistics, the tables,
XNNPACK partitions of tiny int8 files, and one --quick run of the script on a 64x64 encoder,
lean and lean_minimalistic model (no VGG16)."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from helpers import load_script
from keras_deconvnet import UsageError, build_model
from keras_deconvnet.benchmark import (
    BenchmarkConfig,
    PeakRSS,
    Timer,
    add_ratios,
    count_multiply_adds,
    format_int8_table,
    format_ratio_table,
    format_results_table,
    format_targets_table,
    int8_vs_float32,
    judge_targets,
    latency_stats,
    layer_calls,
    layer_multiply_adds,
    read_targets,
    rss_bytes,
    run_benchmark,
    time_interleaved,
    xnnpack_partitions,
)
from keras_deconvnet.benchmark.timing import calibration_images
from keras_deconvnet.export import convert_tflite
from keras_deconvnet.models.backbone import build_mobilenet_v3

PROJECT_TARGETS = Path(__file__).resolve().parents[1] / "benchmarks" / "targets.toml"


@pytest.fixture(scope="module")
def script():
    """The command behind scripts/benchmark.py."""
    return load_script("benchmark")


def one_layer(layer, input_shape) -> keras.Model:
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layer(inputs))


def test_conv2d_multiply_adds_by_hand():
    # 8x10 output (same padding), 3x3 kernel, 3 -> 4 channels: 8*10 * 3*3 * 3*4, bias not counted.
    assert count_multiply_adds(one_layer(layers.Conv2D(4, 3, padding="same"), (8, 10, 3))) == 8640
    # stride 2, valid: 3x4 output; 2 groups of 3 -> 2 channels: 3*4 * 3*3 * 6*4 / 2.
    grouped = one_layer(layers.Conv2D(4, 3, strides=2, groups=2), (8, 10, 6))
    assert grouped.output.shape[1:3] == (3, 4)
    assert count_multiply_adds(grouped) == 1296


def test_depthwise_separable_transposed_and_dense_by_hand():
    # depthwise: 8*8 outputs * 3*3 kernel * 6 channels * depth multiplier 2
    assert count_multiply_adds(one_layer(layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (8, 8, 6))) == 6912
    # separable: depthwise 8*8*3*3*4 plus pointwise 8*8*4*5
    assert count_multiply_adds(one_layer(layers.SeparableConv2D(5, 3, padding="same"), (8, 8, 4))) == 2304 + 1280
    # transposed, stride 2: every one of the 4*5 input pixels spreads a 3x3x3x2 kernel
    transposed = one_layer(layers.Conv2DTranspose(2, 3, strides=2, padding="same"), (4, 5, 3))
    assert transposed.output.shape[1:3] == (8, 10)
    assert count_multiply_adds(transposed) == 4 * 5 * 3 * 3 * 3 * 2
    # dense on 3 positions of 6 features
    assert count_multiply_adds(one_layer(layers.Dense(4), (3, 6))) == 3 * 6 * 4
    # what is left out: batch norm, activations, pooling, resizing
    inputs = keras.Input((8, 8, 3))
    x = layers.BatchNormalization()(inputs)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.UpSampling2D(2, interpolation="bilinear")(x)
    assert count_multiply_adds(keras.Model(inputs, x)) == 0


def test_nested_models_are_counted_once_per_call():
    inner_input = keras.Input((8, 8, 3))
    inner = keras.Model(inner_input, layers.Conv2D(4, 1)(inner_input), name="inner")  # 8*8*3*4
    sequential = keras.Sequential([layers.Conv2D(2, 1)], name="seq")  # 8*8*4*2
    inputs = keras.Input((8, 8, 3))
    outer = keras.Model(inputs, sequential(inner(inputs)))
    assert count_multiply_adds(outer) == 768 + 512
    paths = [path for path, *_ in layer_calls(outer)]
    assert paths == ["inner/" + inner.layers[1].name, "seq/" + sequential.layers[0].name]
    # a model called twice runs twice
    twice = keras.Model(inputs, layers.Add()([inner(inputs), inner(inputs)]))
    assert count_multiply_adds(twice) == 2 * 768


def test_encoder_stages_cut_from_one_graph_add_up_to_the_encoder():
    encoder = count_multiply_adds(build_mobilenet_v3((64, 64, 3)))
    model = build_model("paper", num_classes=3, input_shape=(64, 64, 3))
    stages = {"conv1", "conv2", "conv3", "conv4", "conv5"}
    in_stages = sum(
        layer_multiply_adds(layer, inputs[0], outputs[0])
        for path, layer, inputs, outputs in layer_calls(model)
        if path.split("/")[0] in stages
    )
    assert in_stages == encoder > 0
    assert count_multiply_adds(model) > encoder


def test_latency_stats_on_a_known_list():
    assert latency_stats([float(v) for v in range(10, 0, -1)]) == {"median_ms": 5.5, "p90_ms": 9.1, "runs": 10}
    assert latency_stats([3.0, 1.0, 2.0]) == pytest.approx({"median_ms": 2.0, "p90_ms": 2.8, "runs": 3})
    with pytest.raises(UsageError):
        latency_stats([])


def test_time_interleaved_runs_every_model_each_round():
    calls = []
    timers = {
        name: {"keras": Timer(lambda name=name: calls.append(name), runs=2, warmup=1)} for name in "ab"
    }
    times = time_interleaved(timers, rounds=2)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 2
    assert [len(times[name]["keras"]) for name in "ab"] == [4, 4]


def test_peak_rss_sees_an_allocation():
    if rss_bytes() is None:
        pytest.skip("no /proc/self/statm here")
    before = rss_bytes()
    with PeakRSS() as peak:  # its last sample, on leaving the block, sees the array
        block = np.ones(64 * 2**20, dtype=np.uint8)  # touched, so resident
    del block
    assert peak.bytes - before >= 32 * 2**20


def fake_entry(scale: float, tflite: bool = True) -> dict:
    latency = {"keras": {"median_ms": 10 * scale, "p90_ms": 12 * scale, "runs": 5}}
    if tflite:  # int8 twice as slow as float32 with 1 thread, twice as fast with 2
        for kind, factor in (("float32_1t", 1), ("float32_2t", 1), ("int8_1t", 2), ("int8_2t", 0.5)):
            latency[f"tflite_{kind}"] = {"median_ms": factor * scale, "p90_ms": 1.5 * factor * scale, "runs": 20}
    sizes = {"keras": int(4e6 * scale)} | ({"tflite_float32": int(3e6 * scale), "tflite_int8": int(1e6 * scale)} if tflite else {})
    return {
        "parameters": int(1e6 * scale),
        "multiply_adds": int(5e7 * scale),
        "file_bytes": sizes,
        "latency": latency,
        "training": {"images_per_second": 100 / scale, "peak_memory_bytes": int(3e8 * scale)},
        "notes": {} if tflite else {"tflite": "not converted: too big"},
        "xnnpack": {
            "int8": {"partitions": 3, "ops": 10, "delegated_ops": 7, "other_ops": 3,
                     "other_op_names": {"ADD": 1, "HARD_SWISH": 2}}
        } if tflite else {},
    }


def test_tables_and_ratios():
    entries = {"encoder": fake_entry(1), "lean": fake_entry(2), "deconvnet_vgg16": fake_entry(100, tflite=False)}
    add_ratios(entries)
    assert entries["lean"]["vs_encoder"]["keras_ms"] == pytest.approx(2)
    assert entries["lean"]["vs_deconvnet_vgg16"]["keras_ms"] == pytest.approx(0.02)
    assert entries["lean"]["vs_deconvnet_vgg16"]["tflite_float32_1t_ms"] is None
    table = format_results_table(entries).splitlines()
    assert table[0].startswith("| model | parameters | MMACs | .keras MB | f32 .tflite MB | int8 .tflite MB | Keras ms")
    assert table[0].endswith("| train images/s | train peak MB |")
    assert len(table) == 2 + 3
    assert table[3].startswith("| lean | 2,000,000 | 100.0 | 8.0 | 6.0 | 2.0 | 20.00 / 24.00 | 2.00 / 3.00 |")
    assert entries["lean"]["int8_vs_float32"] == pytest.approx({"1t": 2.0, "2t": 0.5})
    assert entries["deconvnet_vgg16"]["int8_vs_float32"] == {"1t": None, "2t": None}
    assert int8_vs_float32(entries["lean"], (1,)) == pytest.approx({"1t": 2.0})
    int8 = format_int8_table(entries).splitlines()
    assert int8[0] == (
        "| model | f32 1 thread ms | int8 1 thread ms | int8/f32 1 thread | f32 2 threads ms | "
        "int8 2 threads ms | int8/f32 2 threads | int8 XNNPACK partitions | int8 ops outside XNNPACK |"
    )
    assert int8[3] == "| lean | 2.00 | 4.00 | 2.00 | 2.00 | 1.00 | 0.50 | 3 | 3 (ADD 1, HARD_SWISH 2) |"
    assert int8[4] == "| deconvnet_vgg16 | - | - | - | - | - | - | - | - |"
    assert table[4].startswith("| deconvnet_vgg16 | 100,000,000 |") and "| - | - |" in table[4]
    ratios = format_ratio_table(entries, "deconvnet_vgg16").splitlines()
    assert ratios[2].startswith("| encoder | 0.01 | 0.01 | 0.01 | - | - | 0.01 | - |")
    targets = format_targets_table([
        {"target": "a", "measured": "1", "met": True},
        {"target": "b", "measured": "2", "met": False},
        {"target": "c", "measured": "not measured", "met": None},
    ])
    assert targets.splitlines()[2:] == ["| a | 1 | yes |", "| b | 2 | NO |", "| c | not measured | not measured |"]


def tiny_int8(activation: str) -> bytes:
    """conv -> activation -> conv at 32x32, as an int8 TFLite file; seeded weights, since
    whether XNNPACK takes an int8 op can depend on its ranges."""
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(seed=0))(inputs)
    x = layers.Activation(activation)(x)
    model = keras.Model(inputs, layers.Conv2D(4, 1, kernel_initializer=keras.initializers.GlorotUniform(seed=1))(x))
    return convert_tflite(model, ("int8",), calibration_images(2, (32, 32)))["int8"]


def test_xnnpack_partitions_of_tiny_int8_files():
    # XNNPACK takes GELU in float32 only: in int8 it splits the graph in two.
    split = xnnpack_partitions(tiny_int8("gelu"))
    assert split["partitions"] == 2 and split["other_op_names"] == {"GELU": 1}
    assert split["other_ops"] == 1 and split["delegated_ops"] == split["ops"] - 1
    whole = xnnpack_partitions(tiny_int8("relu"))  # ReLU fuses into the convolution
    assert whole["partitions"] == 1 and whole["other_ops"] == 0 and whole["other_op_names"] == {}
    assert whole["delegated_ops"] == whole["ops"] >= 2
    # Hard-swish too: the int8 file has it as ADD and MULs (models/deploy.py), not HARD_SWISH.
    hard_swish = xnnpack_partitions(tiny_int8("hard_swish"))
    assert hard_swish["partitions"] == 1 and hard_swish["other_ops"] == 0 and hard_swish["ops"] > whole["ops"]


def test_bad_settings_fail_before_building_anything():
    with pytest.raises(UsageError, match="unknown model nope"):
        run_benchmark(BenchmarkConfig(models=("nope",)))
    with pytest.raises(UsageError, match="multiples of 32"):
        run_benchmark(BenchmarkConfig(sizes=((100, 100),)))


def test_flags_and_quick_defaults(script):
    def config(*argv):
        return script.config_from_args(script.get_args_parser().parse_args(argv))

    full = config()
    assert full.sizes == ((224, 224), (352, 480)) and full.rounds == 5 and "paper" in full.models
    quick = config("--quick")
    assert quick.models == ("encoder", "lean", "deconvnet_vgg16") and quick.sizes == ((224, 224),)
    assert quick.rounds == 1 and quick.vgg_train_steps == 0
    custom = config("--quick", "--rounds", "3", "--input-size", "96x128", "--skip-vgg", "--threads", "1")
    assert custom.rounds == 3 and custom.sizes == ((224, 224), (96, 128))
    assert custom.models == ("encoder", "lean") and custom.threads == (1,)


def test_bad_counts_name_their_flag(script, capsys):
    parser = script.get_args_parser()
    for argv, flag in (
        (["--threads", "1,0"], "--threads"),
        (["--rounds", "0"], "--rounds"),
        (["--num-classes", "1"], "--num-classes"),
        (["--num-classes", "256"], "--num-classes"),
        (["--tflite-warmup", "-1"], "--tflite-warmup"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**32)], "--seed"),
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        assert f"argument {flag}: expected" in capsys.readouterr().err
    assert parser.parse_args(["--train-steps", "0", "--threads", "2,1"]).threads == (2, 1)
    assert parser.parse_args(["--seed", str(2**32 - 1)]).seed == 2**32 - 1


def test_a_quick_run_never_overwrites_the_committed_results(script):
    def out(*argv):
        return script.output_stem(script.get_args_parser().parse_args(argv))

    assert out() == Path("benchmarks/results")
    assert out("--quick") == Path("runs/benchmark_quick")
    assert out("--quick", "--out", "x/bench.md") == Path("x/bench")


def test_an_out_stem_below_a_file_or_at_a_folder_is_one_line_error(script, tmp_path):
    (tmp_path / "afile").write_text("")
    (tmp_path / "results.json").mkdir()
    for out, message in ((tmp_path / "afile" / "x", "afile is a file, not a folder"),
                         (tmp_path / "results", "results.json is a folder; pass a file stem")):
        with pytest.raises(UsageError, match=message):
            script.main(script.get_args_parser().parse_args(["--quick", "--out", str(out)]), [])


@pytest.mark.slow
def test_quick_run_writes_json_and_markdown(script, tmp_path, capsys):
    argv = ["--quick", "--models", "encoder,lean,lean_minimalistic", "--sizes", "64x64", "--skip-vgg",
            "--calibration-images", "2", "--tflite-runs", "2", "--out", str(tmp_path / "bench"),
            "--targets", str(PROJECT_TARGETS)]
    script.main(script.get_args_parser().parse_args(argv), argv)

    result = json.loads((tmp_path / "bench.json").read_text())
    assert result["sizes"] == ["64x64"] and result["command"].endswith(" ".join(argv))
    assert {"cpu", "cores", "load_average", "tensorflow", "keras", "litert"} <= set(result["machine"])
    lean = result["results"]["64x64"]["lean"]
    assert lean["parameters"] > 0 and lean["multiply_adds"] > 0
    assert set(lean["file_bytes"]) == {"keras", "tflite_float32", "tflite_int8"}
    assert set(lean["latency"]) == {"keras", *(f"tflite_{t}_{n}t" for t in ("float32", "int8") for n in (1, 2))}
    assert lean["latency"]["tflite_int8_1t"]["runs"] == 2
    assert lean["training"]["images_per_second"] > 0 and np.isfinite(lean["training"]["loss"])
    assert lean["tflite_non_builtin_ops"] == {"float32": [], "int8": []}
    assert set(lean["int8_vs_float32"]) == {"1t", "2t"} and all(v > 0 for v in lean["int8_vs_float32"].values())
    assert lean["int8_vs_float32"]["1t"] == pytest.approx(
        lean["latency"]["tflite_int8_1t"]["median_ms"] / lean["latency"]["tflite_float32_1t"]["median_ms"]
    )
    # XNNPACK takes the whole float32 graph of both; their int8 files have no HARD_SWISH op
    # (lean's is written as ADD and MULs). With random weights XNNPACK declines some ADDs whose
    # ranges it cannot rescale (seen: lean's 18 hard-swish ADDs, two decoder ADDs of the
    # minimalistic encoder); the trained release is one partition.
    minimalistic = result["results"]["64x64"]["lean_minimalistic"]
    for entry in (lean, minimalistic):
        assert entry["xnnpack"]["float32"]["partitions"] == 1 and entry["xnnpack"]["float32"]["other_ops"] == 0
        assert set(entry["xnnpack"]["int8"]["other_op_names"]) <= {"ADD"}
    assert all(value is not None for value in lean["vs_encoder"].values())
    assert all(value is None for value in lean["vs_deconvnet_vgg16"].values())
    assert result["results"]["64x64"]["encoder"]["vs_encoder"]["parameters"] == 1.0
    assert [target["met"] for target in result["targets"]][0] is True
    assert result["targets"][3]["met"] is None  # no VGG16 in this run

    markdown = (tmp_path / "bench.md").read_text()
    assert markdown in capsys.readouterr().out  # printed too
    header = "| model | parameters | MMACs | .keras MB | f32 .tflite MB | int8 .tflite MB | Keras ms"
    assert markdown.count(header) == 2  # figures, ratio to the encoder; no table of dashes for VGG16
    assert "Ratio to the encoder:" in markdown and "| encoder | 1 | 1 |" in markdown
    assert "Ratio to the VGG16 DeconvNet:" not in markdown
    assert "- deconvnet_vgg16: not in this run, so no ratios to it" in markdown
    assert "## Targets (64x64)" in markdown and "| parameters <= 3M |" in markdown
    assert markdown.count("int8 against float32 (LiteRT):") == 1
    int8_table = markdown.split("int8 against float32 (LiteRT):\n\n")[1].split("\n\n")[0].splitlines()
    assert int8_table[0].startswith("| model | f32 1 thread ms | int8 1 thread ms | int8/f32 1 thread |")
    rows = {line.split(" | ")[0].removeprefix("| "): line.split(" | ") for line in int8_table[2:]}
    assert set(rows) == {"encoder", "lean", "lean_minimalistic"}
    assert rows["lean"][3] == f"{lean['int8_vs_float32']['1t']:.2f}"
    for name in ("lean", "lean_minimalistic"):
        int8 = result["results"]["64x64"][name]["xnnpack"]["int8"]
        assert rows[name][7] == str(int8["partitions"]) and rows[name][8].split()[0] == str(int8["other_ops"])


@pytest.mark.slow
def test_files_run_times_a_keras_model_as_float32_beside_its_int8_file(script, tmp_path, capsys):
    model = build_model("lean_minimalistic", num_classes=3, input_shape=(64, 64, 3))
    model.save(tmp_path / "tiny.keras")
    int8 = convert_tflite(model, ("int8",), calibration_images(2, (64, 64)))["int8"]
    (tmp_path / "tiny_int8.tflite").write_bytes(int8)
    files = [str(tmp_path / "tiny.keras"), str(tmp_path / "tiny_int8.tflite")]
    argv = ["--files", ",".join(files), "--threads", "1", "--rounds", "1", "--tflite-runs", "2",
            "--tflite-warmup", "0", "--out", str(tmp_path / "files")]
    script.main(script.get_args_parser().parse_args(argv), argv)

    result = json.loads((tmp_path / "files.json").read_text())
    assert list(result["files"]) == files and result["command"].endswith(" ".join(argv))
    keras_file, int8_file = result["files"].values()
    assert keras_file["kind"] == "float32 TFLite of the .keras" and int8_file["kind"] == "as saved"
    assert keras_file["output"] == "float32 1x64x64x3" and int8_file["output"] == "int8 1x64x64x3"
    assert keras_file["vs_first"] == {"1t": 1.0} and int8_file["latency"]["1t"]["runs"] == 2
    assert int8_file["vs_first"]["1t"] == pytest.approx(
        int8_file["latency"]["1t"]["median_ms"] / keras_file["latency"]["1t"]["median_ms"]
    )
    assert keras_file["xnnpack"]["partitions"] == 1 and keras_file["xnnpack"]["other_ops"] == 0
    markdown = (tmp_path / "files.md").read_text()
    assert markdown in capsys.readouterr().out
    row = next(line for line in markdown.splitlines() if line.startswith(f"| `{files[1]}`"))
    assert f"| {int8_file['vs_first']['1t']:.2f} | {int8_file['xnnpack']['partitions']} |" in row


def test_files_run_refuses_other_files_and_the_model_flags(script, tmp_path):
    def run(*argv):
        script.main(script.get_args_parser().parse_args(argv), list(argv))

    (tmp_path / "model.onnx").write_bytes(b"onnx")
    with pytest.raises(UsageError, match=r"model.onnx: time .tflite files, or .keras models"):
        run("--files", str(tmp_path / "model.onnx"), "--out", str(tmp_path / "x"))
    with pytest.raises(UsageError, match="missing.tflite does not exist"):
        run("--files", str(tmp_path / "missing.tflite"), "--out", str(tmp_path / "x"))
    with pytest.raises(UsageError, match="leave out --models, --train-steps"):
        run("--files", "a.tflite", "--models", "lean", "--train-steps", "3")
    (tmp_path / "broken.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(UsageError, match="broken.tflite is not a TFLite file LiteRT can open"):
        run("--files", str(tmp_path / "broken.tflite"), "--out", str(tmp_path / "x"))
    with pytest.raises(UsageError, match="give each file once"):
        run("--files", f"{tmp_path / 'broken.tflite'},{tmp_path / 'broken.tflite'}", "--out", str(tmp_path / "x"))
    assert not list(tmp_path.glob("x.*"))
    (tmp_path / "taken.json").mkdir()  # refused before any timing, not when the report is written
    with pytest.raises(UsageError, match="taken.json is a folder"):
        run("--files", str(tmp_path / "broken.tflite"), "--out", str(tmp_path / "taken"))


@pytest.mark.slow
def test_data_throughput_quick_run_writes_json_and_markdown(tmp_path, capsys, monkeypatch):
    from keras_deconvnet.commands import benchmark_data

    monkeypatch.chdir(tmp_path)  # --quick writes under runs/, never over the committed benchmarks/
    args = benchmark_data.get_args_parser().parse_args(["--quick", "--input-size", "64x64", "--num-images", "4"])
    benchmark_data.main(args)
    out = tmp_path / "runs" / "benchmark_data_quick"
    assert not (tmp_path / "benchmarks").exists()
    result = json.loads((out / "data_throughput.json").read_text())
    assert result["pipeline_images_per_second"] > 0 and result["training_images_per_second"] > 0
    assert result["ratio"] == pytest.approx(result["pipeline_images_per_second"] / result["training_images_per_second"])
    assert result["input_size"] == [64, 64] and result["train_steps"] == 3
    assert result["data"].startswith("4 synthetic")  # a flag given keeps its value under --quick
    markdown = (out / "data_throughput.md").read_text()
    assert "SegmentationCrossEntropy()" in markdown and markdown in capsys.readouterr().out


def test_data_throughput_refuses_a_data_dir_without_a_dataset(tmp_path):
    from keras_deconvnet.commands import benchmark_data

    args = benchmark_data.get_args_parser().parse_args(["--data-dir", str(tmp_path), "--output-dir", str(tmp_path)])
    with pytest.raises(UsageError, match="--data-dir is read with --dataset"):
        benchmark_data.main(args)


def test_data_throughput_counts_name_their_flag(capsys):
    from keras_deconvnet.commands import benchmark_data

    parser = benchmark_data.get_args_parser()
    for flag in ("--batch-size", "--num-images", "--train-steps"):
        with pytest.raises(SystemExit):
            parser.parse_args([flag, "0"])
        assert f"argument {flag}: expected an integer of at least 1, got '0'" in capsys.readouterr().err


def figures_result(**latencies) -> dict:
    """A benchmark result of one size with the given Keras latencies and lean's parameters."""
    entries = {name: {"latency": {"keras": {"median_ms": ms}}} for name, ms in latencies.items()}
    entries.setdefault("lean", {})["parameters"] = 1_210_693
    entries["lean"]["tflite_non_builtin_ops"] = {"float32": [], "int8": ["FlexConv2D"]}
    return {"sizes": ["64x64"], "results": {"64x64": entries}}


def test_targets_are_judged_from_a_file_as_bounds_and_ratios(tmp_path):
    (tmp_path / "t.toml").write_text(
        '[[targets]]\ntext = "small"\nmodel = "lean"\nfigure = "parameters"\nat_most = 1_000_000\n'
        '[[targets]]\ntext = "fast"\nmodel = "deconvnet_vgg16"\nfigure = "keras_ms"\nover = "lean"\nat_least = 50\n'
        '[[targets]]\ntext = "encoder timed"\nmodel = "encoder"\nfigure = "keras_ms"\nbelow = 5\n'
        '[[targets]]\ntext = "ops"\nmodel = "lean"\nbuiltin_ops_only = true\n'
    )
    judged = judge_targets(figures_result(lean=2.0, deconvnet_vgg16=120.0), read_targets(tmp_path / "t.toml"))
    assert judged == [
        {"target": "small", "measured": "1,210,693", "met": False},
        {"target": "fast", "measured": "120.00 / 2.00 = 60.00x", "met": True},
        {"target": "encoder timed", "measured": "not measured", "met": None},
        {"target": "ops", "measured": "FlexConv2D in 64x64 int8", "met": False},
    ]
    assert [target.text for target in read_targets(PROJECT_TARGETS)][0] == "parameters <= 3M"


@pytest.mark.parametrize(
    "entry, message",
    [
        ('text = "a"\nmodel = "lean"\nfigure = "speed"\nat_most = 1', "target 1: figure 'speed' is not a benchmark figure"),
        ('text = "a"\nmodel = "lean"\nfigure = "keras_ms"', "target 1: give it a figure and one bound"),
        ('text = "a"\nmodel = "lean"\nfigure = "keras_ms"\nmost = 1', "target 1: unknown key 'most'"),
    ],
)
def test_a_bad_target_is_one_line_naming_it(tmp_path, entry, message):
    (tmp_path / "t.toml").write_text("[[targets]]\n" + entry + "\n")
    with pytest.raises(UsageError, match=message):
        read_targets(tmp_path / "t.toml")
    with pytest.raises(UsageError, match="no such file|No such file"):
        read_targets(tmp_path / "none.toml")
