"""Test-time augmentation: windows that cover, flips undone, scales averaged at the image's size."""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_deconvnet import UsageError
from keras_deconvnet.commands.cli import add_tta_arguments, tta_from_args
from keras_deconvnet.evaluation import segment
from keras_deconvnet.evaluation.tta import TestTimeAugmentation as TTA
from keras_deconvnet.evaluation.tta import window_logits, window_starts


class PixelPredictor:
    """A stand-in model of a fixed input size whose logits are a function of each window."""

    def __init__(self, input_size, function):
        self.input_size = input_size
        self.function = function
        self.calls = 0

    def logits(self, images):
        assert images.shape[1:3] == self.input_size
        self.calls += len(images)
        return self.function(images)


def identity(images):
    return images.astype("float32")


def column_in_window(images):
    """Each pixel's logit is its column inside the window: not mirror-symmetric."""
    columns = np.arange(images.shape[2], dtype="float32")
    return np.broadcast_to(columns[None, None, :, None], (*images.shape[:3], 1)).copy()


@pytest.mark.parametrize("length, window", [(100, 32), (32, 32), (33, 32), (10, 32), (96, 32)])
def test_windows_cover_the_length_and_end_flush(length, window):
    starts = window_starts(length, window)
    assert starts[0] == 0 and starts == sorted(set(starts))
    if length > window:
        assert starts[-1] + window == length
        assert all(b - a <= window for a, b in zip(starts, starts[1:]))
    else:
        assert starts == [0]


@pytest.mark.parametrize("size", [(20, 24), (32, 32), (50, 70)])
def test_window_logits_of_a_pixelwise_model_are_the_image_at_any_size(size, rng):
    image = rng.uniform(0, 255, size=(*size, 3)).astype("float32")
    predictor = PixelPredictor((32, 32), identity)
    np.testing.assert_allclose(window_logits(predictor, image), image, rtol=1e-6)
    expected_windows = len(window_starts(max(size[0], 32), 32)) * len(window_starts(max(size[1], 32), 32))
    assert predictor.calls == expected_windows


def test_flip_is_undone_before_averaging():
    image = np.zeros((32, 48, 3), "float32")
    predictor = PixelPredictor((32, 48), column_in_window)
    plain = TTA().logits(predictor, image)
    np.testing.assert_allclose(plain[0, :, 0], np.arange(48))
    flipped = TTA(flip=True).logits(predictor, image)
    # column c and its mirror 47 - c average to 23.5 everywhere.
    np.testing.assert_allclose(flipped, 23.5, rtol=1e-6)
    assert predictor.calls == 3


def test_scales_are_averaged_at_the_image_size():
    image = np.full((45, 60, 3), [10.0, 100.0, 200.0], "float32")
    predictor = PixelPredictor((32, 32), identity)
    tta = TTA(flip=True, scales=(0.5, 1.0, 1.5))
    logits = tta.logits(predictor, image)
    assert logits.shape == (45, 60, 3) and tta.views == 6
    np.testing.assert_allclose(logits, image, rtol=1e-5)
    # 0.5: one padded window; 1.0: one; 1.5 (48x48): 2x2 windows; each twice for the flip.
    assert predictor.calls == 2 * (1 + 1 + 4)


def test_segment_without_tta_is_the_plain_prediction(rng):
    image = rng.uniform(0, 255, size=(40, 50, 3)).astype("float32")
    predictor = PixelPredictor((32, 32), identity)
    classes = segment(predictor, image)
    assert classes.shape == (40, 50) and classes.dtype == np.int32
    assert predictor.calls == 1
    np.testing.assert_array_equal(classes, segment(predictor, image, TTA()))


def test_scales_must_be_positive():
    with pytest.raises(UsageError, match="positive"):
        TTA(scales=(1.0, 0.0))
    with pytest.raises(UsageError, match="positive"):
        TTA(scales=())
    with pytest.raises(UsageError, match="at most 4"):  # percentages typed for multiples
        TTA(scales=(75.0, 100.0))


def tta_flags(*argv: str):
    parser = argparse.ArgumentParser()
    add_tta_arguments(parser)
    return parser.parse_args(list(argv))


def test_flags_fall_back_to_the_release_metadata_one_by_one():
    stored = {"tta": {"flip": True, "scales": [0.75, 1.0]}}
    assert tta_from_args(tta_flags(), stored) == TTA(flip=True, scales=(0.75, 1.0))
    assert tta_from_args(tta_flags("--tta-scales", "1.5"), stored) == TTA(flip=True, scales=(1.5,))
    assert tta_from_args(tta_flags("--tta", "none"), stored) is None
    assert tta_from_args(tta_flags("--tta", "none", "--tta-scales", "0.5,1"), stored) == TTA(scales=(0.5, 1.0))
    assert tta_from_args(tta_flags("--tta", "none", "--tta-scales", "1"), stored) is None
    assert tta_from_args(tta_flags(), {}) is None
    with pytest.raises(UsageError, match="malformed tta"):
        tta_from_args(tta_flags(), {"tta": {"flip": True, "scales": 1.0}})
    with pytest.raises(UsageError, match="positive"):
        TTA(scales=(float("nan"),))
    with pytest.raises(UsageError, match="positive"):  # a release's metadata is checked as the flags are
        tta_from_args(tta_flags(), {"tta": {"scales": [-1.0]}})
    for bad in ("big", "nan", "-1", "0", "75,100,125", "1e308", "inf"):  # refused as the flags are read, before a model loads
        with pytest.raises(SystemExit):
            tta_flags("--tta-scales", bad)


@pytest.mark.slow
def test_export_refuses_tta_it_could_not_store():
    script = Path(__file__).resolve().parents[1] / "scripts" / "export.py"
    done = subprocess.run(
        [sys.executable, str(script), "--model", "missing.keras", "--out", "nowhere", "--tta", "flip"],
        capture_output=True, text=True,
    )
    assert done.returncode == 2 and "add --release NAME" in done.stderr
    assert "Traceback" not in done.stderr
