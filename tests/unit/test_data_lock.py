"""The data directory's lock: exclusive, names its holder, and goes when released."""

import os

import pytest

from probe_server.data_lock import DataDirInUse, DataDirLock


def test_a_second_lock_on_the_directory_is_refused_naming_the_holder(tmp_path):
    first = DataDirLock(tmp_path)
    first.acquire()
    assert (tmp_path / "server.lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(DataDirInUse, match=rf"in use by another probe-server \(pid {os.getpid()}\)"):
        DataDirLock(tmp_path).acquire()
    first.release()
    again = DataDirLock(tmp_path)
    again.acquire()  # a released (or dead holder's) lock file does not block
    again.release()
