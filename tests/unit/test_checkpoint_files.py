"""Checkpoint files: digests written with the files, checked on read, and no leftovers from a failed write."""

import errno
import json
import shutil

import pytest
import torch

from probe_server import checkpoint_files
from probe_server.checkpoint_files import CheckpointMeta, read_weights, sha256_file, write_checkpoint
from probe_server.errors import DataLoss, NotFoundError

META = CheckpointMeta("checkpoint-0123456789abcdef", "job-0123456789abcdef", "eos", {}, 0, 5, {}, 0.0, "0")


def test_meta_json_holds_the_digest_of_each_file_and_reads_check_it(tmp_path):
    write_checkpoint(tmp_path, META, {"w": torch.arange(6.0)}, {"m": torch.ones(2)})
    path = tmp_path / META.checkpoint_id
    recorded = json.loads((path / "meta.json").read_text())["sha256"]
    assert recorded == {name: sha256_file(path / name) for name in ("weights.safetensors", "optimizer.safetensors")}
    assert torch.equal(read_weights(path)["w"], torch.arange(6.0))
    data = bytearray((path / "weights.safetensors").read_bytes())
    data[-1] ^= 0x80  # the last float's sign bit: still a valid safetensors file
    (path / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(DataLoss, match=f"{META.checkpoint_id}: weights.safetensors does not match the SHA-256"):
        read_weights(path)


def test_a_write_that_fails_on_a_full_disk_leaves_no_temporary_directory(tmp_path, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_files, "save_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_checkpoint(tmp_path, META, {"w": torch.ones(3)}, {})
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_deleted_while_it_is_read_is_not_found_not_data_loss(tmp_path):
    write_checkpoint(tmp_path, META, {"w": torch.ones(2)}, {})
    path = tmp_path / META.checkpoint_id
    (path / "weights.safetensors").unlink()
    with pytest.raises(DataLoss, match=r"weights\.safetensors is missing"):
        read_weights(path)  # a file gone from a checkpoint that is still there: damage
    shutil.rmtree(path)
    with pytest.raises(NotFoundError, match=f"no checkpoint {META.checkpoint_id}"):
        read_weights(path)  # the whole checkpoint gone (a DeleteCheckpoint won the race): not found
