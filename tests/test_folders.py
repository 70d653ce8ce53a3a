"""Output folders are checked before a command works: a file in the way, or no write access."""

import os

import pytest

from keras_deconvnet.errors import UsageError
from keras_deconvnet.files import check_output_dir


def test_a_new_or_existing_folder_passes_and_nothing_is_created(tmp_path):
    assert check_output_dir(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()
    assert check_output_dir(str(tmp_path), "--out") == tmp_path


def test_a_file_in_the_way_names_the_flag_and_the_file(tmp_path):
    (tmp_path / "taken").write_text("")
    for path in (tmp_path / "taken", tmp_path / "taken" / "sub"):
        with pytest.raises(UsageError, match=f"--out {path}: {tmp_path / 'taken'} is a file, not a folder"):
            check_output_dir(path, "--out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(UsageError, match="cannot write in"):
        check_output_dir(locked / "run", "--output-dir")


def test_a_broken_link_in_the_way_is_refused(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        check_output_dir(tmp_path / "link", "--out")
