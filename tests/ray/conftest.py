"""A real two-node Ray cluster on loopback, and probe servers on it with ``--executor ray``.

Ray binds the machine's interface address even when told 127.0.0.1, so these tests run only inside a
network namespace of their own that has nothing but loopback: ``make test`` runs them so (``unshare --net``,
then ``ip link set lo up``). Anywhere else they are skipped, saying how to run them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the Ray tests need Ray: pip install 'probe-server[ray]'")
from ray.cluster_utils import Cluster  # noqa: E402

from tests.conftest import ServerProcess, start_server  # noqa: E402

OBJECT_STORE_BYTES = 100 * 2**20  # each node's; the largest checkpoint here is a few MB


def only_loopback() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if only_loopback():
        return
    skip = pytest.mark.skip(
        reason="Ray tests run in a network namespace with only loopback: make test runs them (unshare --net)"
    )
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


class RayCluster:
    """A head and one worker node, one CPU each, and this process connected as a driver."""

    def __init__(self) -> None:
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        self.cluster = Cluster(initialize_head=True, head_node_args=self.node_args())
        self.worker = self.cluster.add_node(**self.node_args())
        self.cluster.wait_for_nodes()
        ray.init(address=self.cluster.address, namespace="probe", log_to_driver=False)

    @staticmethod
    def node_args() -> dict[str, Any]:
        return {"num_cpus": 1, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False}

    @property
    def address(self) -> str:
        return self.cluster.address

    def node_ids(self) -> set[str]:
        return {node["NodeID"] for node in ray.nodes() if node["Alive"]}

    def replace_worker(self) -> None:
        """Kill the worker node (its raylet and every actor on it), and add a fresh one."""
        self.cluster.remove_node(self.worker)
        self.worker = self.cluster.add_node(**self.node_args())
        self.cluster.wait_for_nodes()

    def shutdown(self) -> None:
        ray.shutdown()
        self.cluster.shutdown()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    running = RayCluster()
    yield running
    running.shutdown()


def ray_server(data_dir: Path, cluster: RayCluster, *extra: str) -> ServerProcess:
    return start_server(
        data_dir, "--executor", "ray", "--ray-address", cluster.address, "--slots", "2", "--threads-per-job", "1",
        *extra,
    )  # fmt: skip
