"""The TFDS builders on tiny trees in tmp dirs: splits, exact mask values, errors, caches."""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import tensorflow as tf
import tensorflow_datasets as tfds
from fixtures import (
    SBD_TRAIN,
    SBD_VAL,
    VOC_TRAIN,
    VOC_TRAIN_AUG,
    VOC_VAL,
    write_camvid_tree,
    write_folder_tree,
    write_voc_archives,
    write_voc_tree,
)
from PIL import Image

from keras_deconvnet import UsageError
from keras_deconvnet.datasets import DATASET_NAMES, dataset_info, load_split
from keras_deconvnet.datasets.demo_scenes import demo_example
from keras_deconvnet.datasets.palette import camvid_palette, colorize, voc_palette
from keras_deconvnet.datasets.stats import format_split_stats, split_stats

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SMALL_DEMO = {"num_train": 6, "num_val": 3, "image_size": 32}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """Every test prepares its datasets in its own tmp cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("KERAS_DECONVNET_TFDS_DIR", str(folder))
    return folder


def examples(name: str, split: str, data_dir=None, **options) -> dict[str, dict]:
    dataset, _ = load_split(name, split, data_dir, **options)
    return {ex["file_name"].decode(): ex for ex in dataset.as_numpy_iterator()}


def one_line_error(function, *args, **kwargs) -> str:
    with pytest.raises(UsageError) as caught:
        function(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_voc_splits_keep_palette_indices_and_255(tmp_path):
    source = write_voc_tree(tmp_path / "voc")
    train = examples("voc2012_segmentation", "train", source)
    val = examples("voc2012_segmentation", "val", source)
    assert sorted(train) == [f"{i}.jpg" for i in VOC_TRAIN]
    assert sorted(val) == [f"{i}.jpg" for i in VOC_VAL]
    for name, example in train.items():
        png = source / "VOCdevkit/VOC2012/SegmentationClass" / name.replace(".jpg", ".png")
        indices = np.array(Image.open(png))
        assert example["segmentation_mask"].shape == (*indices.shape, 1)
        np.testing.assert_array_equal(example["segmentation_mask"][..., 0], indices)
        assert 255 in indices and len(np.unique(indices)) == 3
        # A greyscale decode of the palette PNG gives luminance, not these indices.
        luminance = tf.io.decode_png(png.read_bytes(), channels=1).numpy()
        assert not np.array_equal(luminance, example["segmentation_mask"])
        assert example["image"].shape == (*indices.shape, 3)


def test_voc_train_aug_is_sbd_plus_voc_train_minus_voc_val(tmp_path):
    source = write_voc_tree(tmp_path / "voc")
    train_aug = examples("voc2012_segmentation", "train_aug", source)
    assert sorted(train_aug) == [f"{i}.jpg" for i in VOC_TRAIN_AUG]
    assert not {f"{i}.jpg" for i in VOC_VAL} & set(train_aug)
    sbd_only = set(SBD_TRAIN + SBD_VAL) - set(VOC_TRAIN) - set(VOC_VAL)
    assert sbd_only and {f"{i}.jpg" for i in sbd_only} <= set(train_aug)
    for image_id in sbd_only:
        mat = source / "benchmark_RELEASE/dataset/cls" / f"{image_id}.mat"
        expected = scipy.io.loadmat(mat)["GTcls"]["Segmentation"][0, 0]
        np.testing.assert_array_equal(
            train_aug[f"{image_id}.jpg"]["segmentation_mask"][..., 0], expected
        )
    # Where VOC has a mask (with its 255 borders), train_aug uses it rather than SBD's.
    assert 255 in train_aug[f"{VOC_TRAIN[0]}.jpg"]["segmentation_mask"]


def test_voc_from_archives_gives_the_same_splits_and_each_folder_its_own(tmp_path):
    source = write_voc_archives(tmp_path / "archives")
    assert set(source.iterdir()) == {
        source / "VOCtrainval_11-May-2012.tar",
        source / "benchmark.tgz",
    }
    folders = write_voc_tree(tmp_path / "folders")
    for split in ("train", "val", "train_aug"):
        from_archives = examples("voc2012_segmentation", split, source)
        from_folders = examples("voc2012_segmentation", split, folders)
        assert sorted(from_archives) == sorted(from_folders)
        for name, example in from_archives.items():
            np.testing.assert_array_equal(
                example["segmentation_mask"], from_folders[name]["segmentation_mask"]
            )
    # Archives of the same name elsewhere are extracted afresh, not taken from the first.
    other = write_voc_archives(tmp_path / "other", train=VOC_TRAIN[:1])
    assert len(examples("voc2012_segmentation", "train", other)) == 1


def test_voc_without_sbd_offers_train_and_val_but_not_train_aug(tmp_path):
    source = write_voc_tree(tmp_path / "voc", sbd_train=(), sbd_val=())
    assert dataset_info("voc2012_segmentation", source).splits == ("train", "val")
    assert len(examples("voc2012_segmentation", "val", source)) == len(VOC_VAL)
    message = one_line_error(load_split, "voc2012_segmentation", "train_aug", source)
    assert "no split 'train_aug'" in message and "train, val" in message


def test_voc_missing_data_says_which_file_to_put_where(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    message = one_line_error(load_split, "voc2012_segmentation", "train", empty)
    assert "VOCtrainval_11-May-2012.tar" in message and str(empty) in message
    assert "--dataset demo" in message
    assert "no such folder" in one_line_error(
        dataset_info, "voc2012_segmentation", tmp_path / "nowhere"
    )


def test_voc_download_offline_fails_at_once_with_the_manual_folder(cache, monkeypatch):
    info = dataset_info("voc2012_segmentation")
    assert info.splits == ("train", "val", "train_aug")
    assert (info.num_classes, info.ignore_label, info.class_names[15]) == (21, 255, "person")

    def offline(*args, **kwargs):
        raise socket.gaierror("Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    message = one_line_error(load_split, "voc2012_segmentation", "train")
    assert "cannot download" in message and str(cache / "downloads" / "manual") in message


def test_voc_colour_masks_are_refused(tmp_path):
    source = write_voc_tree(tmp_path / "voc", sbd_train=(), sbd_val=())
    png = source / "VOCdevkit/VOC2012/SegmentationClass" / f"{VOC_VAL[0]}.png"
    Image.open(png).convert("RGB").save(png)
    message = one_line_error(load_split, "voc2012_segmentation", "val", source)
    assert str(png) in message and "RGB" in message


def test_camvid_resolves_segnet_paths_and_keeps_label_11(tmp_path):
    source = write_camvid_tree(tmp_path / "camvid", splits={"train": 3, "val": 2})
    assert (source / "train.txt").read_text().startswith("/SegNet/CamVid/train/")
    info = dataset_info("camvid", source)
    assert (info.num_classes, info.ignore_label, info.splits) == (11, 11, ("train", "val"))
    assert info.palette.shape == (11, 3)
    train = examples("camvid", "train", source)
    assert len(train) == 3 and len(examples("camvid", "val", source)) == 2
    for name, example in train.items():
        labels = np.array(Image.open(source / "trainannot" / name))
        np.testing.assert_array_equal(example["segmentation_mask"][..., 0], labels)
        assert 11 in labels


def test_a_truncated_image_is_refused_at_preparation_naming_the_file(tmp_path):
    source = write_camvid_tree(tmp_path / "camvid", splits={"train": 2, "val": 1})
    broken = sorted((source / "train").iterdir())[1]
    broken.write_bytes(broken.read_bytes()[:200])
    message = one_line_error(load_split, "camvid", "train", source)
    assert broken.name in message and "cannot read image" in message


def test_camvid_split_without_list_file_pairs_its_two_folders(tmp_path):
    source = write_camvid_tree(tmp_path / "camvid")
    (source / "val.txt").unlink()
    val = examples("camvid", "val", source)
    assert sorted(val) == sorted(path.name for path in (source / "valannot").iterdir())


def test_camvid_missing_test_split_is_one_clear_error(tmp_path):
    source = write_camvid_tree(tmp_path / "camvid")
    message = one_line_error(load_split, "camvid", "test", source)
    assert "no split 'test'" in message and "train, val" in message


def test_camvid_holds_out_a_whole_sequence(tmp_path):
    source = write_camvid_tree(
        tmp_path / "camvid",
        splits={"train": 6, "val": 2},
        sequences={"train": ("0001TP", "0006R0", "0016E5"), "val": ("0016E5",)},
    )
    info = dataset_info("camvid", source)
    assert info.splits == ("train", "val", "heldout_train", "heldout_val")
    heldout_val = examples("camvid", "heldout_val", source)
    heldout_train = examples("camvid", "heldout_train", source)
    assert sorted(heldout_val) == ["0006R0_train_0001.png", "0006R0_train_0004.png"]
    assert all(not name.startswith("0006R0") for name in heldout_train)
    # Every train and val frame of the other sequences, val included.
    everything = set(examples("camvid", "train", source)) | set(examples("camvid", "val", source))
    assert set(heldout_train) == everything - set(heldout_val)


def test_camvid_without_the_heldout_sequence_offers_no_heldout_split(tmp_path):
    source = write_camvid_tree(tmp_path / "camvid")
    assert dataset_info("camvid", source).splits == ("train", "val")
    message = one_line_error(load_split, "camvid", "heldout_val", source)
    assert "no split 'heldout_val'" in message


@pytest.mark.parametrize("name", ["camvid", "demo"])
def test_split_arithmetic_reads_several_splits(tmp_path, name):
    if name == "camvid":
        source, options = write_camvid_tree(tmp_path / "camvid", splits={"train": 3, "val": 2}), {}
    else:
        source, options = None, SMALL_DEMO
    train = examples(name, "train", source, **options)
    val = examples(name, "val", source, **options)
    both = examples(name, "train+val", source, **options)
    assert sorted(both) == sorted({**train, **val}) and len(both) == len(train) + len(val)
    assert len(examples(name, "train[:2]+val", source, **options)) == 2 + len(val)
    assert len(examples(name, " train + val ", source, **options)) == len(both)
    message = one_line_error(load_split, name, "train+nope", source, **options)
    assert "no split 'nope'" in message and "train+val" in message
    assert "empty part" in one_line_error(load_split, name, "train+", source, **options)


def test_a_folder_with_one_split_says_how_to_add_another(tmp_path):
    from keras_deconvnet.datasets.arrays import load_arrays

    source = write_folder_tree(tmp_path / "mine", splits={"train": 2}, list_files=False)
    for load in (load_split, load_arrays):
        message = one_line_error(load, "folder", "val", source, num_classes=3)
        assert "no split 'val'" in message and "train.txt, val.txt" in message and "+" not in message


def test_camvid_cache_follows_the_source_folder(tmp_path, cache):
    first = write_camvid_tree(tmp_path / "first", splits={"train": 3, "val": 2})
    assert len(examples("camvid", "train", first)) == 3
    second = write_camvid_tree(tmp_path / "second", splits={"train": 2, "val": 1, "test": 4})
    assert dataset_info("camvid", second).splits == ("train", "val", "test")
    assert len(examples("camvid", "test", second)) == 4
    assert len(examples("camvid", "train", second)) == 2
    # The same folder, once it gains a test split, is prepared again rather than served stale.
    write_camvid_tree(first, splits={"test": 1})
    assert len(examples("camvid", "test", first)) == 1
    assert len(list((cache / "camvid").iterdir())) == 3


def test_camvid_missing_folder_or_files(tmp_path):
    assert "no CamVid folder" in one_line_error(load_split, "camvid", "train", tmp_path / "nowhere")
    assert one_line_error(load_split, "camvid", "train").startswith("camvid reads SegNet's CamVid folder: pass it with --data-dir")
    source = write_camvid_tree(tmp_path / "camvid")
    missing = source / "trainannot" / "0001TP_train_0001.png"
    missing.unlink()
    assert str(missing) in one_line_error(dataset_info, "camvid", source)


def test_camvid_loads_by_name_through_tfds(tmp_path):
    source = write_camvid_tree(tmp_path / "camvid")
    no_gcs = {"download_config": tfds.download.DownloadConfig(try_download_gcs=False)}
    dataset = tfds.load(
        "camvid",
        split="val",
        data_dir=tmp_path / "tfds",
        builder_kwargs={"source_dir": source},
        download_and_prepare_kwargs=no_gcs,
    )
    assert len(list(dataset)) == 2
    builder = tfds.builder("camvid", data_dir=tmp_path / "tfds", source_dir=source)
    other = tmp_path / "elsewhere"
    with pytest.raises(UsageError, match="source_dir="):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=other))


def test_folder_splits_from_list_files_or_all_in_train(tmp_path):
    source = write_folder_tree(tmp_path / "mine", splits={"train": 3, "val": 1}, num_classes=3)
    info = dataset_info("folder", source, num_classes=3)
    assert (info.splits, info.num_classes, info.ignore_label) == (("train", "val"), 3, 255)
    val = examples("folder", "val", source, num_classes=3)
    assert list(val) == ["img_003.png"]
    labels = np.array(Image.open(source / "masks" / "img_003.png"))
    np.testing.assert_array_equal(val["img_003.png"]["segmentation_mask"][..., 0], labels)
    # A label fixed after preparing is read again, not served from the old cache.
    Image.fromarray(np.zeros_like(labels)).save(source / "masks" / "img_003.png")
    assert (
        examples("folder", "val", source, num_classes=3)["img_003.png"]["segmentation_mask"].max()
        == 0
    )
    unlisted = write_folder_tree(
        tmp_path / "unlisted", splits={"train": 2, "val": 2}, list_files=False
    )
    assert dataset_info("folder", unlisted, num_classes=3).splits == ("train",)
    assert len(examples("folder", "train", unlisted, num_classes=3)) == 4


def _no_mask(source: Path) -> Path:
    (source / "masks" / "img_001.png").unlink()
    return source / "images" / "img_001.png"


def _no_image(source: Path) -> Path:
    (source / "images" / "img_001.png").unlink()
    return source / "masks" / "img_001.png"


def _rgb_mask(source: Path) -> Path:
    path = source / "masks" / "img_002.png"
    Image.open(path).convert("RGB").save(path)
    return path


def _value_too_big(source: Path) -> Path:
    path = source / "masks" / "img_000.png"
    mask = np.array(Image.open(path))
    mask[0, 0] = 7
    Image.fromarray(mask).save(path)
    return path


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (_no_mask, "has no label"),
        (_no_image, "has no image"),
        (_rgb_mask, "has PIL mode RGB"),
        (_value_too_big, "has value 7"),
    ],
)
def test_folder_mistakes_name_the_file_and_the_fix(tmp_path, break_it, expected):
    source = write_folder_tree(tmp_path / "mine", splits={"train": 3})
    bad_file = break_it(source)
    message = one_line_error(load_split, "folder", "train", source, num_classes=3)
    assert expected in message and str(bad_file) in message


def test_folder_needs_num_classes_and_a_folder(tmp_path):
    source = write_folder_tree(tmp_path / "mine")
    assert "num_classes" in one_line_error(load_split, "folder", "train", source)
    assert "ignore_label (--ignore-label)" in one_line_error(
        dataset_info, "folder", source, num_classes=3, ignore_label=1
    )
    assert "no such folder" in one_line_error(
        dataset_info, "folder", tmp_path / "nowhere", num_classes=3
    )
    # No folder at all: the flag to pass, not TFDS's "Failed to construct dataset" and its kwargs.
    message = one_line_error(load_split, "folder", "train", num_classes=3)
    assert message.startswith("the folder dataset") and "--data-dir" in message


def _demo_bytes(data_dir: Path, seed: int) -> dict[str, tuple[bytes, bytes]]:
    """The stored PNG bytes of each demo train example, prepared in `data_dir`."""
    builder = tfds.builder("demo", data_dir=data_dir, seed=seed, **SMALL_DEMO)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    raw = {"image": tfds.decode.SkipDecoding(), "segmentation_mask": tfds.decode.SkipDecoding()}
    dataset = builder.as_dataset(split="train", decoders=raw)
    return {
        ex["file_name"].decode(): (ex["image"], ex["segmentation_mask"])
        for ex in dataset.as_numpy_iterator()
    }


def test_demo_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    first, again = _demo_bytes(tmp_path / "a", seed=3), _demo_bytes(tmp_path / "b", seed=3)
    other = _demo_bytes(tmp_path / "c", seed=4)
    assert len(first) == 6 and first == again
    assert sorted(other) == sorted(first)
    assert all(other[name][0] != first[name][0] for name in first)


def test_a_config_is_prepared_under_a_lock_that_other_processes_wait_for(cache, monkeypatch):
    import fcntl

    from keras_deconvnet.datasets import demo

    builder = tfds.builder("demo", data_dir=cache, **SMALL_DEMO)
    generate = demo.Demo._download_and_prepare
    locked = []

    def generate_and_try_the_lock(self, *args, **kwargs):
        with open(self.preparation_lock) as other_process:  # another open file: as another process
            try:
                fcntl.flock(other_process, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked.append(False)
            except BlockingIOError:
                locked.append(True)
        return generate(self, *args, **kwargs)

    monkeypatch.setattr(demo.Demo, "_download_and_prepare", generate_and_try_the_lock)
    builder.download_and_prepare()
    assert locked == [True]


def test_a_config_another_process_prepared_meanwhile_is_used(cache, monkeypatch):
    from keras_deconvnet.datasets import demo

    # Both built on an empty cache; the first prepares while the second waits for the lock.
    first = tfds.builder("demo", data_dir=cache, **SMALL_DEMO)
    second = tfds.builder("demo", data_dir=cache, **SMALL_DEMO)
    first.download_and_prepare()
    generated = []
    monkeypatch.setattr(demo.Demo, "_download_and_prepare", lambda self, *args, **kwargs: generated.append(self))
    second.download_and_prepare()
    assert generated == []
    assert len(list(second.as_dataset(split="train"))) == 6


def test_undecoded_splits_give_the_pipelines_the_same_batches():
    from keras_deconvnet.data.pipeline import evaluation_pipeline, training_pipeline

    decoded, info = load_split("demo", "train", **SMALL_DEMO)
    encoded, _ = load_split("demo", "train", decode=False, **SMALL_DEMO)
    assert encoded.element_spec["image"].dtype == tf.string
    labels = {"num_classes": info.num_classes, "ignore_label": info.ignore_label}
    for pipeline in (
        lambda split: training_pipeline(split, **labels, input_size=(24, 24), batch_size=2, seed=1),
        lambda split: evaluation_pipeline(split, **labels, input_size=None, batch_size=1, mode="original"),
    ):
        pairs = list(zip(pipeline(decoded), pipeline(encoded), strict=True))
        assert len(pairs) >= 3
        for (images, masks), (images_from_bytes, masks_from_bytes) in pairs:
            np.testing.assert_array_equal(images_from_bytes.numpy(), images.numpy())
            np.testing.assert_array_equal(masks_from_bytes.numpy(), masks.numpy())


def test_demo_split_values_and_info():
    info = dataset_info("demo", **SMALL_DEMO)
    assert info.class_names == ("background", "circle", "square", "triangle")
    assert (info.num_classes, info.palette.shape, info.splits) == (4, (4, 3), ("train", "val"))
    val = examples("demo", "val", **SMALL_DEMO)
    assert len(val) == 3
    labels = set()
    for example in val.values():
        assert example["image"].shape == (32, 32, 3)
        labels |= set(np.unique(example["segmentation_mask"]).tolist())
    assert 0 in labels and labels <= {0, 1, 2, 3} and len(labels) > 1
    assert "image_size must be an integer >= 32" in one_line_error(
        dataset_info, "demo", image_size=16
    )


def test_demo_classes_differ_by_shape_not_colour():
    colours = {label: set() for label in (1, 2, 3)}
    for index in range(30):
        image, mask = demo_example(seed=0, split="train", index=index, image_size=64)
        brightness = image.mean(axis=-1)
        assert brightness[mask[..., 0] > 0].mean() > brightness[mask[..., 0] == 0].mean() + 40
        for label, seen in colours.items():
            inside = mask[..., 0] == label
            if inside.sum() > 20:
                seen.add(tuple(np.median(image[inside], axis=0) // 32))
    assert all(len(seen) >= 4 for seen in colours.values())


def test_unknown_dataset_option_or_data_dir():
    assert DATASET_NAMES == ("voc2012_segmentation", "camvid", "folder", "demo")
    assert "choose one of" in one_line_error(load_split, "imagenet", "train")
    assert "takes no option seed" in one_line_error(load_split, "camvid", "train", "/x", seed=1)
    assert "no data dir" in one_line_error(load_split, "demo", "train", "/x")


def test_palettes_and_colorize():
    voc = voc_palette()
    assert voc.shape == (256, 3) and voc.dtype == np.uint8
    assert [voc[i].tolist() for i in (0, 1, 15, 255)] == [
        [0, 0, 0],
        [128, 0, 0],
        [192, 128, 128],
        [224, 224, 192],
    ]
    masks = np.array([[[0, 1], [15, 255]], [[20, 21], [3, -1]]])
    colours = colorize(masks, voc[:21])
    assert colours.shape == (2, 2, 2, 3) and colours.dtype == np.uint8
    assert colours[0, 1, 0].tolist() == [192, 128, 128]
    for ignored in ((0, 1, 1), (1, 0, 1), (1, 1, 1)):  # 255, 21 (not a class), -1
        assert colours[ignored].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(colorize(masks[..., np.newaxis], voc[:21]), colours)
    assert colorize(np.array([255]), voc)[0].tolist() == [0, 0, 0]
    camvid = colorize(np.array([[11, 3]], dtype=np.uint8), camvid_palette())
    assert camvid.tolist() == [[[0, 0, 0], [128, 64, 128]]]


@pytest.mark.slow
def test_split_stats_count_every_label_and_the_script_prints_them(tmp_path):
    source = write_camvid_tree(tmp_path / "camvid")
    dataset, info = load_split("camvid", "train", source)
    stats = split_stats(dataset)
    expected = sum(
        np.bincount(np.array(Image.open(path)).ravel(), minlength=256)
        for path in (source / "trainannot").iterdir()
    )
    np.testing.assert_array_equal(stats.pixels, expected)
    assert stats.images == 3 and stats.sizes == {(24, 32): 3}
    text = format_split_stats(stats, info, "train")
    assert f"| 11 | (ignore) | {expected[11]:,} |" in text
    done = subprocess.run(
        [
            sys.executable,
            SCRIPTS / "dataset_stats.py",
            "--dataset",
            "camvid",
            "--data-dir",
            source,
            "--split",
            "val",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("camvid val: 2 images\nimage sizes (HxW): 24x32 (2)\n")
    assert "| 0 | Sky |" in done.stdout


def test_preparing_a_dataset_prints_nothing_and_logs_one_line_each_way(cache, capsys, caplog):
    # TFDS prints "Downloading and preparing dataset Unknown size ..." to stdout whatever the
    # log level; the builders send it to TFDS's logger, which the commands silence.
    with caplog.at_level("WARNING", logger="tensorflow_datasets"):
        load_split("demo", "val", **SMALL_DEMO)
    assert "preparing" not in capsys.readouterr().out.lower()
    messages = [record.getMessage() for record in caplog.records if record.name == "tensorflow_datasets"]
    assert [message.split(" in ")[0] for message in messages] == ["preparing dataset demo", "dataset demo prepared"]
