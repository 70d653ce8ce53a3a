import sys

import numpy as np
import pytest

from helpers import load_script
from keras_deconvnet.commands.cli import run
from keras_deconvnet.datasets.arrays import load_arrays
from keras_deconvnet.datasets.pack import pack_camvid
from keras_deconvnet.errors import UsageError
from tests.fixtures import write_camvid_tree


@pytest.fixture
def camvid(tmp_path):
    sequences = {"train": ("0001TP", "0006R0"), "val": ("0016E5",)}
    return write_camvid_tree(tmp_path / "camvid", splits={"train": 4, "val": 2}, size=(40, 56), sequences=sequences)


def test_the_packed_copy_reads_as_the_original_with_jpeg_images_and_the_same_labels(camvid, tmp_path):
    counts = pack_camvid(camvid, tmp_path / "packed")
    assert counts == {"train": 4, "val": 2}
    assert sorted(path.suffix for path in (tmp_path / "packed" / "train").iterdir()) == [".jpg"] * 4
    for split in ("train", "val", "heldout_train", "heldout_val"):
        original, _ = load_arrays("camvid", split, camvid)
        packed, _ = load_arrays("camvid", split, tmp_path / "packed")
        assert [name.rsplit(".", 1)[0] for name in packed.file_names] == [name.rsplit(".", 1)[0] for name in original.file_names]
        for mask, packed_mask in zip(original.masks, packed.masks):
            np.testing.assert_array_equal(packed_mask, mask)
        for image, packed_image in zip(original.images, packed.images):
            # The fixture's images are noise, which JPEG keeps only on average.
            np.testing.assert_allclose(packed_image.mean(axis=(0, 1)), image.mean(axis=(0, 1)), atol=3)


def test_pack_refuses_an_existing_folder_and_leaves_nothing_when_it_fails(camvid, tmp_path, monkeypatch, capsys):
    (tmp_path / "taken").mkdir()
    with pytest.raises(UsageError, match="exists; pass a new folder"):
        pack_camvid(camvid, tmp_path / "taken")
    with pytest.raises(UsageError, match="no CamVid split in"):
        pack_camvid(tmp_path / "nothing", tmp_path / "packed")
    (camvid / "val" / sorted((camvid / "val").iterdir())[0].name).write_bytes(b"not an image")
    script = load_script("pack_camvid")
    monkeypatch.setattr(sys, "argv", ["pack_camvid.py", "--data-dir", str(camvid), "--out", str(tmp_path / "packed")])
    with pytest.raises(SystemExit) as exit_info:
        run(script.main, script.get_args_parser())
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["camvid", "taken"]  # no copy, whole or half
