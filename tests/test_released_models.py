"""The models released in saved_models/camvid load, segment and evaluate end to end."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures import write_camvid_tree
from keras_deconvnet.export import load_predictor

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "saved_models" / "camvid"
# The lean release runs at CamVid's 352x480; the paper's model at the 224x224 it trained at.
RELEASED = {"best.keras": (352, 480), "best_int8.tflite": (352, 480), "paper.keras": (224, 224), "paper_int8.tflite": (224, 224)}
CAMVID_CLASSES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist")


@pytest.mark.slow
@pytest.mark.parametrize("name", RELEASED)
def test_released_model_gives_valid_class_maps_on_a_camvid_sized_input(name):
    predictor = load_predictor(RELEASE / name)
    assert predictor.class_names == CAMVID_CLASSES
    assert predictor.metadata["evaluation_mode"] == "original"
    height, width = predictor.input_size
    assert (height, width) == RELEASED[name]
    images = np.random.default_rng(0).uniform(0, 255, (1, height, width, 3)).astype("float32")
    class_map = predictor.class_map(images)
    assert class_map.shape == (1, height, width)
    assert class_map.min() >= 0 and class_map.max() < 11


@pytest.mark.slow
def test_evaluate_a_released_model_on_a_segnet_layout_test_split(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_DECONVNET_TFDS_DIR", str(tmp_path / "cache"))
    data = write_camvid_tree(tmp_path / "CamVid", splits={"train": 1, "test": 2}, size=(360, 480))
    done = subprocess.run(
        [sys.executable, ROOT / "scripts" / "evaluate.py", "--model", RELEASE / "best_int8.tflite",
         "--dataset", "camvid", "--data-dir", data, "--split", "test", "--out", tmp_path / "eval"],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert any("images of camvid/test, mode original" in line for line in lines)  # its native setting
    assert lines[-1].startswith("mean IoU: ") and lines[-1].endswith("%")
