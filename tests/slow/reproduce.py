"""Running `probe-cli reproduce FAMILY --scale small` as users do, for the acceptance tests.

The selected reproductions start at once, as several users would start theirs: their jobs share the server's
queue, so no core idles while one reproduction waits for its last job or analyzes its results (on 2 cores all
nine at once took 763 s; eight of them one after another, single-index left out, 820 s). Each test then waits
for its own. How long each takes alone, the figure a user sees, is `make bench`'s (bench/reproductions.py).
"""

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.image

BIN = Path(sys.executable).parent
SUITE_BUDGET_S = 40 * 60  # all of them, side by side, on 2 cores


@dataclass
class Reproductions:
    """`probe-cli reproduce` processes, one per family, started together against one server."""

    address: str
    root: Path
    started: float = field(default_factory=time.monotonic)
    running: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, family: str) -> None:
        """Start the family's `probe-cli reproduce`, its output into files (a pipe nobody reads yet could fill)."""
        with open(self.root / f"{family}.stdout", "w") as out, open(self.root / f"{family}.stderr", "w") as err:
            self.running[family] = subprocess.Popen(
                [str(BIN / "probe-cli"), "--server", self.address, "reproduce", family, "--scale", "small",
                 "--out", str(self.out(family)), "--json"],
                stdout=out, stderr=err, text=True,
            )  # fmt: skip

    def out(self, family: str) -> Path:
        return self.root / family

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    def summary(self, family: str) -> dict[str, Any]:
        """The family's summary.json once its reproduction ends, after printing its checks."""
        process = self.running[family]
        remaining = SUITE_BUDGET_S - (time.monotonic() - self.started)
        process.wait(timeout=max(remaining, 1) + 300)
        elapsed = time.monotonic() - self.started
        print(f"reproduce {family} --scale small ended {elapsed:.0f} s after the {len(self.running)} started")
        assert process.returncode == 0, (self.root / f"{family}.stderr").read_text()
        assert elapsed <= SUITE_BUDGET_S, f"ended {elapsed:.0f} s in; the suite's budget is {SUITE_BUDGET_S} s"
        assert json.loads((self.root / f"{family}.stdout").read_text())["out"] == str(self.out(family))
        summary = json.loads((self.out(family) / "summary.json").read_text())
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
