"""predict (and evaluate): the folder checked before any work, one output set per image,
16-bit images, files written whole, Ctrl-C between images."""

import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_deconvnet.commands import predict
from keras_deconvnet.errors import UsageError
from keras_deconvnet.evaluation import scoring
from keras_deconvnet.files import check_readable, read_rgb, write_png
from keras_deconvnet.models import build_model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "lean.keras"
    build_model("lean", num_classes=4, input_shape=(64, 64, 3)).save(path)  # the demo set's classes
    return path


def run_predict(model_path: Path, inputs: Path, out: Path) -> None:
    predict.main(predict.get_args_parser().parse_args([str(inputs), "--model", str(model_path), "--out", str(out)]))


def write_rgb(path: Path, seed: int = 0) -> None:
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(path)


def sixteen_bit_gradient() -> Image.Image:
    return Image.fromarray(np.arange(0, 65536, 256, dtype=np.uint16).reshape(16, 16))


def test_sixteen_bit_grey_is_scaled_to_eight_bits_not_clipped(tmp_path):
    sixteen_bit_gradient().save(tmp_path / "grey16.png")
    pixels = read_rgb(tmp_path / "grey16.png")
    assert pixels.shape == (16, 16, 3) and pixels.dtype == np.uint8
    expected = np.round(np.arange(0, 65536, 256).reshape(16, 16) / 257).astype(np.uint8)
    np.testing.assert_array_equal(pixels[..., 0], expected)  # PIL's convert("RGB") gives 255 from 256 up
    np.testing.assert_array_equal(pixels[..., 0], pixels[..., 2])


def test_unreadable_and_floating_point_images_are_refused_naming_the_file(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(UsageError, match="broken.png"):
        check_readable(tmp_path / "broken.png")
    Image.fromarray(np.ones((4, 4), np.float32)).save(tmp_path / "float.tif")
    for check in (check_readable, read_rgb):
        with pytest.raises(UsageError, match="float.tif.*no known range"):
            check(tmp_path / "float.tif")


@pytest.mark.slow
def test_a_bad_image_anywhere_in_the_folder_is_refused_before_any_output(model_path, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    write_rgb(images / "a.png")
    (images / "z.png").write_bytes(b"not a png")
    with pytest.raises(UsageError, match="cannot read .*z.png"):
        run_predict(model_path, images, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_names_that_would_clash_and_the_input_folder_as_out_are_refused(model_path, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    write_rgb(images / "a.png")
    with pytest.raises(UsageError, match="is the input folder"):
        run_predict(model_path, images, images)
    write_rgb(images / "A.jpg")  # a_classes.png on a case-insensitive disk too
    with pytest.raises(UsageError, match="A.jpg and .*a.png share a name: rename or remove one"):
        run_predict(model_path, images, tmp_path / "out")


@pytest.mark.slow
def test_other_files_are_counted_and_sixteen_bit_images_segmented(model_path, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    sixteen_bit_gradient().save(images / "grey16.png")
    (images / "notes.txt").write_text("not an image")
    run_predict(model_path, images, tmp_path / "out")
    assert capsys.readouterr().out.strip().endswith("(1 other file skipped, not .jpg/.jpeg/.png/.bmp/.webp/.tif/.tiff)")
    assert np.asarray(Image.open(tmp_path / "out" / "grey16_classes.png")).shape == (16, 16)


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler for the test (pytest-xdist's workers ignore SIGINT)."""
    handler_before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, handler_before)


def test_unreadably_large_images_are_refused_in_one_line(tmp_path, monkeypatch):
    sixteen_bit_gradient().save(tmp_path / "large.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # 256 pixels: past twice the limit, a "bomb"
    for check in (check_readable, read_rgb):
        with pytest.raises(UsageError, match="large.png"):
            check(tmp_path / "large.png")


def test_a_failed_write_leaves_the_earlier_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "a_classes.png"
    path.write_bytes(b"an earlier run's file")

    def save_half(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", save_half)
    with pytest.raises(KeyboardInterrupt):
        write_png(np.zeros((2, 2), np.uint8), path)
    assert [p.name for p in tmp_path.iterdir()] == ["a_classes.png"] and path.read_bytes() == b"an earlier run's file"


@pytest.mark.slow
def test_ctrl_c_finishes_the_image_says_how_far_it_got_and_keeps_earlier_files(
    model_path, tmp_path, monkeypatch, python_sigint
):
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    out.mkdir()
    for seed, name in enumerate(("a.png", "b.png", "c.png")):
        write_rgb(images / name, seed)
    (out / "c_classes.png").write_bytes(b"an earlier run's file")
    segmented, plain_segment = [], scoring.segment

    def segment_with_ctrl_c(predictor, image, tta=None):
        segmented.append(image)
        if len(segmented) == 2:
            signal.raise_signal(signal.SIGINT)  # pressed while b is segmented: b is finished first
        return plain_segment(predictor, image, tta)

    monkeypatch.setattr(scoring, "segment", segment_with_ctrl_c)
    with pytest.raises(KeyboardInterrupt, match="2 of 3 images segmented into"):
        run_predict(model_path, images, out)
    names = sorted(path.name for path in out.iterdir())
    assert names == ["a_classes.png", "a_color.png", "a_overlay.png", "b_classes.png", "b_color.png",
                     "b_overlay.png", "c_classes.png"]
    assert (out / "c_classes.png").read_bytes() == b"an earlier run's file"


@pytest.mark.slow
def test_ctrl_c_in_evaluate_finishes_the_batch_and_writes_nothing(model_path, tmp_path, monkeypatch, python_sigint):
    from keras_deconvnet.commands import evaluate

    segmented, plain_segment = [], scoring.segment

    def segment_with_ctrl_c(predictor, image, tta=None):
        segmented.append(image)
        if len(segmented) == 1:
            signal.raise_signal(signal.SIGINT)
        return plain_segment(predictor, image, tta)

    monkeypatch.setattr(scoring, "segment", segment_with_ctrl_c)
    args = ["--model", str(model_path), "--dataset", "demo", "--tta", "flip", "--out", str(tmp_path / "eval")]
    with pytest.raises(KeyboardInterrupt, match="nothing was written to"):
        evaluate.main(evaluate.get_args_parser().parse_args(args))
    assert len(segmented) == 8  # the batch in progress, then the stop
    assert not (tmp_path / "eval").exists()
