"""What every builder shares: its features, the `DatasetInfo` it reports, configs keyed to a source.

TFDS caches a prepared dataset under `<data_dir>/<name>/<config>/<version>`. A builder that
reads a folder names its config after a hash of that folder's resolved path and of what it
found there (splits, list files, file sizes and times), so pointing the same builder at another
folder, adding a split, or editing a label prepares a new config instead of serving the old one.
"""

import abc
import contextlib
import dataclasses
import hashlib
import logging
import os
import re
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from keras_deconvnet.datasets.info import DatasetInfo
from keras_deconvnet.errors import UsageError


def segmentation_features() -> tfds.features.FeaturesDict:
    """The features every builder yields: RGB image, PNG mask of class indices, file name."""
    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(None, None, 3), dtype=np.uint8),
            "segmentation_mask": tfds.features.Image(shape=(None, None, 1), dtype=np.uint8),
            "file_name": tfds.features.Text(),
        }
    )


class SegmentationBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A TFDS builder of `segmentation_features()` that describes its labels."""

    VERSION = tfds.core.Version("1.0.0")
    # Keyword arguments, besides TFDS's own, that the builder takes (load_split's **options).
    OPTIONS: tuple[str, ...] = ()
    DESCRIPTION = ""
    HOMEPAGE = ""
    CITATION = ""

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=segmentation_features(),
            supervised_keys=("image", "segmentation_mask"),
            homepage=self.HOMEPAGE,
            citation=self.CITATION,
        )

    @abc.abstractmethod
    def segmentation_info(self) -> DatasetInfo:
        """Returns the classes, palette, ignore label and splits of this builder's config."""

    @property
    def preparation_lock(self) -> Path:
        """The file whose lock a process holds while it prepares this builder's config."""
        return Path(self.data_dir_root, ".locks", f"{self.name}-{self.builder_config.name}.lock")

    # TFDS prints these two to stdout whatever the log level, "Unknown size" and all, on every
    # first use of a folder or a generated set; they go to its logger instead, which the
    # commands silence unless --verbose.
    def _log_download_bytes(self) -> None:
        logging.getLogger("tensorflow_datasets").warning("preparing dataset %s in %s", self.name, self.data_dir)

    def _log_download_done(self) -> None:
        logging.getLogger("tensorflow_datasets").warning("dataset %s prepared in %s", self.name, self.data_dir)

    def download_and_prepare(self, **kwargs) -> None:
        """TFDS's `download_and_prepare`, one process at a time for a config.

        Two runs started together on a fresh cache would otherwise prepare the same config
        at once, in one temporary folder if their seeds match, and the later rename would
        fail on the earlier one's folder. The process that waited uses the other's files.
        """
        with exclusive_lock(self.preparation_lock):
            prepared_meanwhile = self.data_path.exists() and not self.info.splits
            super().download_and_prepare(**kwargs)
        if prepared_meanwhile:  # TFDS reuses the files but reads their splits only when built
            self.info.read_from_directory(self.data_path)


@contextlib.contextmanager
def exclusive_lock(path: Path):
    """Holds an exclusive inter-process lock on `path` (POSIX `flock`; none where it is missing)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclasses.dataclass
class SourceConfig(tfds.core.BuilderConfig):
    """A config for one source folder; its name is a hash of what was found there.

    Attributes:
        source_dir: the resolved source folder.
        splits: the splits found there.
    """

    source_dir: str = ""
    splits: tuple[str, ...] = ()


def config_name(source: Path, *contents: object) -> str:
    """A config name that changes with the folder and with what it holds.

    Args:
        source: the resolved source folder.
        *contents: what was found there (split names, list-file bytes, file stamps).

    Returns:
        '<folder name>-<10 hex digits>', e.g. 'camvid-3f09a1c2d4'.
    """
    digest = hashlib.sha256(repr((str(source), contents)).encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "_", source.name.lower()).strip("_") or "root"
    return f"{slug}-{digest}"


def manual_folder(data_dir: str | os.PathLike | None) -> Path:
    """TFDS's default manual folder, `<data_dir>/downloads/manual`, resolved."""
    root = data_dir or tfds.core.constants.get_default_data_dir()
    return (Path(root).expanduser() / "downloads" / "manual").resolve()


class SourceBuilder(SegmentationBuilder, skip_registration=True):
    """A builder that reads a source folder, with a config keyed to that folder.

    The folder is `source_dir` or, when it is not given, TFDS's manual folder
    `<data_dir>/downloads/manual`. Pass `source_dir` rather than TFDS's
    `download_config.manual_dir`: the builder's config, and so its cache, is fixed when it is
    built, and a different `manual_dir` at preparation time is refused.
    """

    def __init__(
        self,
        *,
        source_dir: str | os.PathLike | None = None,
        data_dir: str | os.PathLike | None = None,
        config: SourceConfig | None = None,
        **kwargs,
    ):
        """Builds the config for the source folder (unless one is given).

        Args:
            source_dir: the folder that holds the data; None for TFDS's manual folder.
            data_dir: TFDS's data dir, where prepared data is cached.
            config: an existing config (TFDS passes it when it unpickles a builder).
            **kwargs: passed to `tfds.core.GeneratorBasedBuilder`.
        """
        if config is None:
            if source_dir is None:
                config = self._make_config(manual_folder(data_dir), given=False)
            else:
                config = self._make_config(Path(source_dir).expanduser().resolve(), given=True)
        super().__init__(data_dir=data_dir, config=config, **kwargs)

    @abc.abstractmethod
    def _make_config(self, source: Path, given: bool) -> SourceConfig:
        """Scans `source` (named by the user when `given`, else TFDS's manual folder)."""

    def download_and_prepare(
        self, *, download_config: tfds.download.DownloadConfig | None = None, **kwargs
    ) -> None:
        """TFDS's `download_and_prepare`, with archives extracted per config.

        TFDS names an extraction after the archive's file name only, so two folders holding
        archives of the same name would share one; here each config extracts into its own
        `downloads/extracted/<config name>/`.

        Raises:
            UsageError: `download_config.manual_dir` is not the config's source folder.
        """
        config = download_config or tfds.download.DownloadConfig()
        source = self.builder_config.source_dir
        if config.manual_dir and Path(config.manual_dir).expanduser().resolve() != Path(source):
            raise UsageError(
                f"this {self.name} builder reads {source} and caches under that folder's key: "
                f"build it with source_dir='{config.manual_dir}' rather than passing manual_dir"
            )
        download_dir = kwargs.get("download_dir") or self.data_dir_root / "downloads"
        extract_dir = config.extract_dir or Path(
            download_dir, "extracted", self.builder_config.name
        )
        super().download_and_prepare(
            download_config=dataclasses.replace(config, extract_dir=extract_dir), **kwargs
        )


def file_stamps(pairs: list[tuple[Path, Path]]) -> list[tuple]:
    """(name, size, modification time) of each image and label, for `config_name`."""
    return [
        tuple((path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in pair)
        for pair in pairs
    ]
