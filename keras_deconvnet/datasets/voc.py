"""`voc2012_segmentation`: Pascal VOC 2012 segmentation masks, and SBD for `train_aug`.

TFDS's own `voc` builder has boxes only. Splits: `train` (1,464) and `val` (1,449) from
`ImageSets/Segmentation/{train,val}.txt`, and `train_aug` (10,582): SBD train + val plus VOC
train, minus every VOC val image, with VOC's own mask where VOC has one.

The source folder holds `VOCtrainval_11-May-2012.tar` or its extracted `VOCdevkit/VOC2012/`,
and, for `train_aug`, SBD's `benchmark.tgz` or its extracted `benchmark_RELEASE/dataset/`.
Without `source_dir`, the builder reads TFDS's manual folder, and downloads both archives
(checksummed) when that folder holds no VOC.

VOC masks are palette PNGs: their indices are read with PIL (a greyscale decode would give
luminance), 255 (object borders, difficult regions) is kept. SBD masks are `cls/<id>.mat`,
whose `GTcls.Segmentation` holds the indices.

Reference: M. Everingham et al., "The Pascal Visual Object Classes (VOC) Challenge", IJCV
2010; B. Hariharan et al., "Semantic contours from inverse detectors", ICCV 2011 (SBD).
"""

import dataclasses
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.io
import tensorflow_datasets as tfds

from keras_deconvnet.constants import IGNORE_LABEL
from keras_deconvnet.datasets.base import SourceBuilder, SourceConfig, config_name
from keras_deconvnet.datasets.info import DatasetInfo, read_list, require_files
from keras_deconvnet.datasets.masks import checked_mask, read_index_png
from keras_deconvnet.datasets.palette import voc_palette
from keras_deconvnet.errors import UsageError

CLASS_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
VOC_ARCHIVE = "VOCtrainval_11-May-2012.tar"
SBD_ARCHIVE = "benchmark.tgz"
VOC_FOLDER = Path("VOCdevkit", "VOC2012")
SBD_FOLDER = Path("benchmark_RELEASE", "dataset")
VOC_URL = f"http://host.robots.ox.ac.uk/pascal/VOC/voc2012/{VOC_ARCHIVE}"
SBD_URL = (
    "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/"
    f"{SBD_ARCHIVE}"
)
_DEMO = "--dataset demo works offline"


@dataclasses.dataclass
class VocConfig(SourceConfig):
    """Where the VOC and SBD data are: a folder, an archive or a URL ("" when absent)."""

    voc: str = ""
    sbd: str = ""


def _locate(root: Path, folder: Path, archive: str) -> str:
    if (root / folder).is_dir():
        return str(root / folder)
    if (root / archive).is_file():
        return str(root / archive)
    return ""


def _stamp(location: str, list_files: tuple[Path, ...]) -> object:
    """What identifies a source's content: its list files, or the archive's size and time."""
    path = Path(location)
    if path.is_dir():
        files = [path / name for name in list_files]
        return [(str(file), file.is_file() and file.read_bytes()) for file in files]
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


_VOC_LISTS = {
    split: Path("ImageSets", "Segmentation", f"{split}.txt") for split in ("train", "val")
}
_SBD_LISTS = (Path("train.txt"), Path("val.txt"))


def _missing_voc(source: Path) -> str:
    return (
        f"no Pascal VOC 2012 in {source}: put {VOC_ARCHIVE} (or its extracted "
        f"{VOC_FOLDER}/) there, and SBD's {SBD_ARCHIVE} for train_aug; {_DEMO}"
    )


def _materialize(
    dl_manager: tfds.download.DownloadManager, location: str, inner: Path, manual: str
) -> Path:
    """The extracted folder of a source: as is, extracted from its archive, or downloaded."""
    if location.startswith(("http://", "https://")):
        archive = location.rsplit("/", 1)[-1]
        try:
            # Resolving the host first fails in a moment offline, where TFDS retries for minutes.
            socket.getaddrinfo(urllib.parse.urlparse(location).hostname, None)
            extracted = dl_manager.download_and_extract(location)
        except OSError as error:
            raise UsageError(
                f"cannot download {location} ({type(error).__name__}; offline?): put "
                f"{archive} in {manual} or pass the folder that holds it as the data dir; {_DEMO}"
            ) from None
    elif Path(location).is_file():
        archive, extracted = Path(location).name, dl_manager.extract(location)
    else:
        return Path(location)
    folder = Path(extracted) / inner
    if not folder.is_dir():
        raise UsageError(f"{archive} has no {inner}/ inside: it is not the official archive")
    return folder


def read_sbd_mat(path: Path) -> np.ndarray:
    """Reads the class indices of an SBD `cls/<id>.mat` (its `GTcls.Segmentation`).

    Raises:
        UsageError: the file is not an SBD class mask.
    """
    try:
        gtcls = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["GTcls"]
        return np.asarray(gtcls.Segmentation)
    except (OSError, ValueError, KeyError, AttributeError) as error:
        raise UsageError(
            f"cannot read {path} as an SBD mask (a .mat with GTcls.Segmentation): {error}"
        ) from None


def _ids(list_file: Path) -> list[str]:
    if not list_file.is_file():
        raise UsageError(f"{list_file} is missing: re-extract the archive")
    return [fields[0] for fields in read_list(list_file)]


class Voc2012Segmentation(SourceBuilder):
    """Pascal VOC 2012 segmentation (21 classes, 255 = ignore) with SBD's `train_aug`."""

    name = "voc2012_segmentation"
    DESCRIPTION = "Pascal VOC 2012 segmentation masks (21 classes, 255 borders), with SBD."
    HOMEPAGE = "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/"
    CITATION = "Everingham et al., IJCV 2010; Hariharan et al., ICCV 2011 (SBD)."
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Put {VOC_ARCHIVE} (or its extracted {VOC_FOLDER}/) in the manual folder, and SBD's "
        f"{SBD_ARCHIVE} (or {SBD_FOLDER}/) for the train_aug split."
    )
    url_infos = {  # TFDS checks downloads against these (size, sha256).
        VOC_URL: tfds.core.download.checksums.UrlInfo(
            size=1999639040,
            checksum="e14f763270cf193d0b5f74b169f44157a4b0c6efa708f4dd0ff78ee691763bcb",
            filename=VOC_ARCHIVE,
        ),
        SBD_URL: tfds.core.download.checksums.UrlInfo(
            size=1419539633,
            checksum="6a5a2918d5c73ce032fdeba876574d150d9d04113ab87540a1304cbcc715be53",
            filename=SBD_ARCHIVE,
        ),
    }

    def _make_config(self, source: Path, given: bool) -> VocConfig:
        if given and not source.is_dir():
            raise UsageError(f"no such folder: {source}; {_missing_voc(source)}")
        voc = _locate(source, VOC_FOLDER, VOC_ARCHIVE)
        sbd = _locate(source, SBD_FOLDER, SBD_ARCHIVE)
        if not voc:
            if given:
                raise UsageError(_missing_voc(source))
            # TFDS's manual folder holds no VOC: download both archives.
            return VocConfig(
                name="download",
                source_dir=str(source),
                splits=("train", "val", "train_aug"),
                voc=VOC_URL,
                sbd=SBD_URL,
            )
        stamps = (
            voc,
            _stamp(voc, tuple(_VOC_LISTS.values())),
            sbd,
            sbd and _stamp(sbd, _SBD_LISTS),
        )
        return VocConfig(
            name=config_name(source, stamps),
            source_dir=str(source),
            splits=("train", "val", "train_aug") if sbd else ("train", "val"),
            voc=voc,
            sbd=sbd,
        )

    def segmentation_info(self) -> DatasetInfo:
        return DatasetInfo(
            name=self.name,
            num_classes=len(CLASS_NAMES),
            class_names=CLASS_NAMES,
            palette=voc_palette()[: len(CLASS_NAMES)],
            ignore_label=IGNORE_LABEL,
            splits=self.builder_config.splits,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        config = self.builder_config
        voc = _materialize(dl_manager, config.voc, VOC_FOLDER, config.source_dir)
        ids = {split: _ids(voc / name) for split, name in _VOC_LISTS.items()}

        def voc_pair(image_id: str) -> tuple[Path, Path]:
            return (
                voc / "JPEGImages" / f"{image_id}.jpg",
                voc / "SegmentationClass" / f"{image_id}.png",
            )

        pairs = {split: [voc_pair(i) for i in ids[split]] for split in ids}
        if config.sbd:
            sbd = _materialize(dl_manager, config.sbd, SBD_FOLDER, config.source_dir)
            sbd_ids = {i for name in _SBD_LISTS for i in _ids(sbd / name)}
            voc_train = set(ids["train"])
            pairs["train_aug"] = [
                voc_pair(i)
                if i in voc_train
                else (sbd / "img" / f"{i}.jpg", sbd / "cls" / f"{i}.mat")
                for i in sorted((sbd_ids | voc_train) - set(ids["val"]))
            ]
        return {
            split: self._generate_examples(require_files(p, "is listed but missing: re-extract the archive"))
            for split, p in pairs.items()
        }

    def _generate_examples(self, pairs: list[tuple[Path, Path]]) -> Iterator[tuple[str, dict]]:
        for image, label in pairs:
            indices = read_sbd_mat(label) if label.suffix == ".mat" else read_index_png(label)
            mask = checked_mask(indices, label, len(CLASS_NAMES), IGNORE_LABEL, image)
            yield image.name, {"image": image, "segmentation_mask": mask, "file_name": image.name}
