"""predict: its folder checked before any work, one output set per image, 16-bit images, Ctrl-C."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_deconvnet import evaluation
from keras_deconvnet.commands import predict
from keras_deconvnet.errors import UsageError
from keras_deconvnet.image_files import check_readable, read_rgb
from keras_deconvnet.models import build_model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "lean.keras"
    build_model("lean", num_classes=3, input_shape=(64, 64, 3)).save(path)
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
    write_rgb(images / "a.jpg")
    with pytest.raises(UsageError, match="a.jpg and a.png would both be written as a_"):
        run_predict(model_path, images, tmp_path / "out")


def test_other_files_are_counted_and_sixteen_bit_images_segmented(model_path, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    sixteen_bit_gradient().save(images / "grey16.png")
    (images / "notes.txt").write_text("not an image")
    run_predict(model_path, images, tmp_path / "out")
    assert capsys.readouterr().out.strip().endswith("(1 other file skipped, not .jpg/.jpeg/.png/.bmp/.webp/.tif/.tiff)")
    assert np.asarray(Image.open(tmp_path / "out" / "grey16_classes.png")).shape == (16, 16)


def test_ctrl_c_says_how_far_it_got_and_leaves_no_half_written_image(model_path, tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    for seed, name in enumerate(("a.png", "b.png", "c.png")):
        write_rgb(images / name, seed)
    segmented, plain_segment = [], evaluation.segment

    def segment_until_ctrl_c(predictor, image, tta=None):
        if len(segmented) == 2:
            raise KeyboardInterrupt
        segmented.append(image)
        return plain_segment(predictor, image, tta)

    monkeypatch.setattr(evaluation, "segment", segment_until_ctrl_c)
    with pytest.raises(KeyboardInterrupt, match="2 of 3 images segmented into"):
        run_predict(model_path, images, tmp_path / "out")
    assert sorted(path.name.split("_")[0] for path in (tmp_path / "out").iterdir()) == ["a"] * 3 + ["b"] * 3
