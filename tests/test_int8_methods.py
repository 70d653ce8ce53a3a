"""How an int8 file is made and what it gives: `--int8-output` (int8 logits, float logits, the
class map) and `--int8-quantizer ai-edge-quantizer`, with selective float stages, on the 32x32
three-class model of test_selective."""

import json
import os

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from helpers import random_images
from test_selective import CLASSES, SIZE, staged_model, tensor_dtypes_by_layer

from keras_deconvnet import UsageError
from keras_deconvnet.export import convert_tflite, export_model, load_predictor
from keras_deconvnet.export.runtimes import KerasPredictor


@pytest.fixture(scope="module")
def model():
    return staged_model()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return random_images(np.random.default_rng(0), 8, SIZE, SIZE)


def output_detail(content: bytes) -> dict:
    return Interpreter(model_content=content).get_output_details()[0]


@pytest.mark.parametrize(
    ("output", "dtype", "shape"),
    [("int8", np.int8, [1, SIZE, SIZE, CLASSES]), ("float", np.float32, [1, SIZE, SIZE, CLASSES]),
     ("classes", np.int32, [1, SIZE, SIZE])],
)
def test_the_int8_output_is_int8_logits_float_logits_or_the_class_map(model, images, output, dtype, shape):
    content = convert_tflite(model, ["int8"], images, int8_output=output)["int8"]
    detail = output_detail(content)
    assert detail["dtype"] == dtype and detail["shape"].tolist() == shape
    assert tensor_dtypes_by_layer(content)["stage"] == {"int8"}  # the graph stays int8 inside


def test_a_class_map_file_agrees_with_the_int8_logits_file_and_refuses_logits(model, images, tmp_path):
    rows = {}
    for output in ("int8", "classes"):
        result = export_model(
            model, tmp_path / output, images, formats=["tflite"], tflite_types=["int8"], calibration_images=images,
            latency_runs=1, int8_output=output, min_agreement={}, max_class_drop={},
        )
        path = result.artifacts["tflite_int8"]
        metadata = json.loads(path.with_suffix(".json").read_text())
        rows[output] = load_predictor(path), metadata
    logits_file, classes_file = rows["int8"][0], rows["classes"][0]
    assert classes_file.num_classes == CLASSES
    np.testing.assert_array_equal(classes_file.class_map(images), logits_file.class_map(images))
    assert rows["classes"][1]["output"] == {
        "shape": [1, SIZE, SIZE], "dtype": "int32", "values": "the class map (an ARG_MAX op in the graph)"}
    assert rows["classes"][1]["int8_output"] == "classes" and rows["int8"][1]["output"]["dtype"] == "int8"
    with pytest.raises(UsageError, match="gives the class map, not logits"):
        classes_file.logits(images)
    # evaluate and predict segment images of any size; only TTA needs logits
    from keras_deconvnet.evaluation import segment
    from keras_deconvnet.evaluation.tta import TestTimeAugmentation

    np.testing.assert_array_equal(segment(classes_file, images[0]), segment(logits_file, images[0]))
    photo = images[0][:24, :30]
    assert segment(classes_file, photo).shape == (24, 30)
    with pytest.raises(UsageError, match="cannot average its views: drop --tta"):
        segment(classes_file, photo, TestTimeAugmentation(flip=True))


def test_the_ai_edge_quantizer_quantises_all_but_the_named_stage(model, images, tmp_path):
    pytest.importorskip("ai_edge_quantizer")
    full = convert_tflite(model, ["int8"], images, int8_quantizer="ai-edge-quantizer")["int8"]
    selective = convert_tflite(
        model, ["int8"], images, int8_float_layers=["stage"], int8_quantizer="ai-edge-quantizer"
    )["int8"]
    assert tensor_dtypes_by_layer(full)["stage"] == {"int8"}
    details = Interpreter(model_content=selective).get_tensor_details()
    stage = {detail["name"]: detail["dtype"] for detail in details if "/stage_1/" in detail["name"]}
    edges = {name for name in stage if name.endswith("_quantized")}  # the QUANTIZE op after the stage
    assert len(stage) > len(edges) == 1
    assert {stage[name] for name in stage.keys() - edges} == {np.float32}
    assert "int8" in tensor_dtypes_by_layer(selective)["stem"]  # beside the DEQUANTIZE into the stage
    keras_classes = KerasPredictor(model).class_map(images)
    for name, content in {"full": full, "selective": selective}.items():
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(content)
        assert np.mean(load_predictor(path).class_map(images) == keras_classes) > 0.9


@pytest.mark.parametrize(
    ("options", "message"),
    [({"int8_output": "logits"}, "unknown int8 output logits"),
     ({"int8_quantizer": "nncf"}, "unknown int8 quantiser nncf"),
     ({"int8_quantizer": "ai-edge-quantizer", "int8_output": "classes"}, "give int8 logits")],
)
def test_an_unknown_or_impossible_int8_method_is_refused_in_one_line(model, images, options, message):
    with pytest.raises(UsageError, match=message):
        convert_tflite(model, ["int8"], images, **options)


@pytest.mark.slow
def test_augmented_calibration_copies_are_training_crops_at_the_model_size():
    import tensorflow as tf

    from keras_deconvnet.export import augmented_images

    rng = np.random.default_rng(1)
    features = {
        "image": rng.integers(0, 256, (3, 40, 48, 3), dtype=np.uint8),
        "segmentation_mask": rng.integers(0, 3, (3, 40, 48, 1), dtype=np.uint8),
    }
    dataset = tf.data.Dataset.from_tensor_slices(features)
    options = {"num_classes": 3, "ignore_label": 255, "input_size": (SIZE, SIZE)}
    copies = augmented_images(dataset, count=2, **options)
    assert copies.shape == (2, SIZE, SIZE, 3) and copies.dtype == np.float32
    assert 0 <= copies.min() and copies.max() <= 255
    np.testing.assert_array_equal(copies, augmented_images(dataset, count=2, **options))  # repeatable
    assert not np.array_equal(copies, augmented_images(dataset, count=2, seed=1, **options))
    assert len(augmented_images(dataset, count=10, **options)) == 3


@pytest.mark.slow
def test_export_script_records_the_int8_method_and_its_calibration(model, tmp_path, monkeypatch):
    from helpers import load_script, synthetic_dataset_images

    model.save(tmp_path / "staged.keras")
    script = load_script("export")
    monkeypatch.setattr(script, "dataset_images", synthetic_dataset_images())
    augmented = []
    monkeypatch.setattr(script, "augmented_calibration", lambda source, split, count, model: augmented.append(
        (split, count)) or random_images(np.random.default_rng(2), count, SIZE, SIZE))
    common = ["--model", str(tmp_path / "staged.keras"), "--out", str(tmp_path / "out"), "--calibration-dataset",
              "demo", "--calibration-images", "4", "--check-images", "2", "--latency-runs", "1",
              "--int8-max-class-drop", "100", "--formats", "tflite"]
    script.main(script.get_args_parser().parse_args(
        [*common, "--tflite-types", "int8", "--calibration-augment", "--int8-output", "classes"]
    ))
    metadata = json.loads((tmp_path / "out" / "out_v1_int8.json").read_text())
    assert augmented == [("train", 4)]
    assert metadata["calibration"] == "4 images of synthetic/train and 4 augmented copies"
    method = (metadata["int8_output"], metadata["quantizer"], metadata["output"]["dtype"])
    assert method == ("classes", "converter", "int32")
    for flags, message in [
        (["--tflite-types", "float32", "--calibration-augment"], "--calibration-augment apply to the int8"),
        (["--tflite-types", "int8", "--int8-quantizer", "ai-edge-quantizer", "--int8-output", "float"],
         "give int8 logits"),
    ]:
        with pytest.raises(UsageError, match=message):
            script.main(script.get_args_parser().parse_args([*common, *flags]))


def test_an_export_removes_the_staging_folders_of_killed_exports_only(model, images, tmp_path):
    import socket
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    host = socket.gethostname()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folders = {  # name: its owner file, or None
        "killed": f"{host}:{finished.stdout.strip()}", "live": f"{host}:{os.getpid()}",
        "elsewhere": f"another-host:{finished.stdout.strip()}", "old-ownerless": None, "new-ownerless": None,
    }
    for name, owner in folders.items():
        folder = out / f".export-{name}"
        folder.mkdir(parents=True)
        (folder / "out_v1.keras").write_bytes(b"half-written")
        if owner:
            (folder / "owner.pid").write_text(owner)
    two_hours_ago = time.time() - 7200
    os.utime(out / ".export-old-ownerless", (two_hours_ago, two_hours_ago))
    lines = []
    result = export_model(model, out, images[:1], formats=["keras"], latency_runs=1, progress=lines.append)
    assert [line for line in lines if line.startswith("removed")] == [
        f"removed .export-killed, left in {out} by an export that was killed",
        f"removed .export-old-ownerless, left in {out} by an export that was killed",
    ]
    left = [".export-elsewhere", ".export-live", ".export-new-ownerless", "out_v1.json", "out_v1.keras"]
    assert sorted(path.name for path in out.iterdir()) == left
    assert result.version == 1


@pytest.mark.slow
def test_float_ops_names_what_an_int8_file_computes_in_float32(model, images, tmp_path):
    from keras_deconvnet.export.tflite import float_ops

    assert float_ops(convert_tflite(model, ["int8"], images)["int8"]) == {}
    selective = float_ops(convert_tflite(model, ["int8"], images, int8_float_layers=["stage"])["int8"])
    assert selective == {"ADD": 1, "CONV_2D": 1}  # the stage's conv (ReLU fused) and its residual add
    result = export_model(model, tmp_path / "out", images[:1], formats=["tflite"], tflite_types=["int8"],
                          calibration_images=images, latency_runs=1, int8_float_layers=["stage"],
                          min_agreement={}, max_class_drop={})
    assert json.loads(result.artifacts["tflite_int8"].with_suffix(".json").read_text())["float_ops"] == selective
