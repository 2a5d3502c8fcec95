"""Running `probe-cli reproduce FAMILY --scale small` as a user does, for the acceptance tests."""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib.image

BIN = Path(sys.executable).parent


def reproduce_small(server, family: str, out: Path, budget_s: int) -> dict[str, Any]:
    """The summary.json of a small reproduction, after checking it ran within ``budget_s`` and printing its checks."""
    start = time.monotonic()
    result = subprocess.run(
        [str(BIN / "probe-cli"), "--server", server.address, "reproduce", family, "--scale", "small",
         "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=budget_s + 300,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    print(f"reproduce {family} --scale small took {elapsed:.0f} s")
    assert result.returncode == 0, result.stderr
    assert elapsed <= budget_s, f"took {elapsed:.0f} s, the budget is {budget_s} s"
    summary = json.loads((out / "summary.json").read_text())
    for check in summary["checks"]:
        print(f"{'pass' if check['passed'] else 'FAIL'}  {check['name']}: {check['measured']} ({check['detail']})")
    return summary


def check_figures(out: Path) -> list[Path]:
    """Every PNG of the report opens as a real image and the report's README shows it."""
    figures = sorted(out.glob("*.png"))
    for figure in figures:
        image = matplotlib.image.imread(figure)
        assert image.shape[0] > 300 and image.shape[1] > 400, figure.name
    readme = (out / "README.md").read_text()
    assert all(f.name in readme for f in figures)
    return figures
