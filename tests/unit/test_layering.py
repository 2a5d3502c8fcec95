"""Layers import downward only: the wire format imports nothing of ours, the client never loads torch, the server
never loads the client (nor its CLI libraries), the science never loads grpc."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package_dir: Path) -> set[str]:
    names = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_wire_source_imports_nothing_of_ours_and_no_cli_or_torch():
    names = imported_modules(ROOT / "wire" / "src" / "probe_wire")
    assert not names & {"torch", "probe_models", "probe_server", "probe_client", "typer", "rich", "onnxruntime"}


def test_server_source_never_imports_the_client_and_does_not_depend_on_it():
    names = imported_modules(ROOT / "server" / "src" / "probe_server")
    assert not names & {"probe_client", "typer", "rich"}
    requirements = tomllib.loads((ROOT / "server" / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [r for r in requirements if r.startswith(("probe-client", "typer", "rich"))], requirements


def test_importing_the_server_loads_no_client_and_no_cli_libraries():
    code = (
        "import sys, probe_server.app; print(sorted(m for m in ('probe_client', 'typer', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_client_source_never_imports_torch_or_the_server():
    names = imported_modules(ROOT / "client" / "src" / "probe_client")
    assert not names & {"torch", "probe_models", "probe_server", "onnxruntime"}


def test_models_source_never_imports_grpc_or_the_client():
    names = imported_modules(ROOT / "models" / "src" / "probe_models")
    assert not names & {"grpc", "grpc_health", "probe_client", "probe_server", "google"}


def test_no_package_imports_the_benchmark_baselines():
    for package in (
        "wire/src/probe_wire",
        "client/src/probe_client",
        "models/src/probe_models",
        "server/src/probe_server",
    ):
        assert "pyhessian" not in imported_modules(ROOT / package), package


def test_importing_the_client_and_cli_loads_no_torch():
    code = "import sys, probe_client, probe_client.cli.main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_importing_every_model_module_loads_no_grpc():
    code = (
        "import sys, pkgutil, importlib, probe_models\n"
        "for m in pkgutil.walk_packages(probe_models.__path__, 'probe_models.'): importlib.import_module(m.name)\n"
        "print('grpc' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
