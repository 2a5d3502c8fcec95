"""deploy/: promtool accepts the rules and the scrape config, and a real Prometheus scraping a real server
answers every expression of the Grafana dashboard and of the rules with data.

Prometheus and promtool come from Debian's ``prometheus`` package, installed here when missing (as root, with
apt-get); where that cannot be done the tests are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import SMALL_FACTS, ServerProcess, free_port, start_server

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "probe-dashboard.json"
APT = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def _install() -> str | None:
    """Install Debian's prometheus package if its binaries are missing; the reason it cannot be, or None."""
    if shutil.which("prometheus") and shutil.which("promtool"):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "Prometheus is not installed and cannot be here (needs root and apt-get: apt-get install prometheus)"
    install = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
    done = subprocess.run(install, env=APT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:  # a fresh machine may not have the package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=APT, capture_output=True, timeout=600)
        done = subprocess.run(install, env=APT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not shutil.which("prometheus"):
        return f"apt-get install prometheus failed: {done.stderr.strip()[-500:]}"
    return None


@pytest.fixture(scope="module")
def prometheus_installed() -> None:
    reason = _install()
    if reason:
        pytest.skip(reason)


def _alert_series(expr: str) -> str:
    """An alert's series: its expression without the threshold (``probe:x > 0.05`` -> ``probe:x``)."""
    match = re.fullmatch(r"\s*(.+?)\s*(?:[<>]=?|==|!=)\s*[-+.\deE]+\s*", expr)
    assert match, f"alert expression {expr!r} is not '<series> <comparison> <number>'"
    return match.group(1)


def expressions() -> dict[str, str]:
    """Every expression an operator's Prometheus and Grafana evaluate, named by where it is."""
    found: dict[str, str] = {}
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            found[f"panel {panel['title']!r} {target['refId']}"] = target["expr"]
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                found[f"recording rule {rule['record']}"] = rule["expr"]
            else:
                found[f"alert {rule['alert']}"] = _alert_series(rule["expr"])
    return found


def test_promtool_accepts_the_rules_and_the_config(prometheus_installed):
    for command in (["check", "rules", str(RULES)], ["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")]):
        done = subprocess.run(["promtool", *command], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


class Prometheus:
    def __init__(self, target: str, workdir: Path) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "probe", "static_configs": [{"targets": [target]}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(workdir / "prometheus.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def get(self, path: str, **params: str) -> dict:
        url = f"http://127.0.0.1:{self.port}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("Prometheus did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def monitored(prometheus_installed, tmp_path) -> Iterator[tuple[ServerProcess, Prometheus]]:
    server = start_server(tmp_path / "data")
    prometheus = Prometheus(f"127.0.0.1:{server.metrics_port}", tmp_path)
    try:
        prometheus.wait_ready()
        yield server, prometheus
    finally:
        prometheus.stop()
        server.stop()


def test_every_dashboard_and_rule_expression_returns_data(monitored):
    server, prometheus = monitored
    with server.client() as client:
        trained = client.wait(client.submit_job("factual-recall", SMALL_FACTS, steps=20, seed=1).job_id)
        running = client.submit_job("factual-recall", SMALL_FACTS, steps=1_000_000, seed=2, log_every=5)
        client.query_facts(trained.checkpoint_id, [(0, 0), (1, 1)])
        missing = dict(expressions())
        deadline = time.monotonic() + 90
        while missing and time.monotonic() < deadline:
            client.query_facts(trained.checkpoint_id, [(2, 2)])  # traffic between scrapes: rates need two
            for name, expr in list(missing.items()):
                if prometheus.get("/api/v1/query", query=expr)["data"]["result"]:
                    del missing[name]
            time.sleep(1)
        client.cancel_job(running.job_id)
    assert not missing, f"expressions without data: {missing}"
    groups = prometheus.get("/api/v1/rules")["data"]["groups"]
    assert {g["name"] for g in groups} == {"probe.rules", "probe.alerts"}
    assert all(rule["health"] == "ok" for group in groups for rule in group["rules"]), groups
    up = prometheus.get("/api/v1/query", query='up{job="probe"}')["data"]["result"]
    assert up and up[0]["value"][1] == "1"
