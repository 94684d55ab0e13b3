"""`recon serve` and `recon demo` bind their port before they announce or start anything.

A port in use is one line on stderr naming it and exit 2 (not "serving at …" and then exit 3, a
partial run's status); `recon demo` then starts no simulator and leaves `var/demo.toml` as it
was. A free port accepts connections as soon as "serving at" is printed (issue #10).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

RECON = [sys.executable, "-m", "recon.cli"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "RECON_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'recon.db'}",
        "PYTHONPATH": str(ROOT),
    }


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_port_in_use_is_one_line_and_exit_2_and_nothing_is_started(
    tmp_path: Path, busy_port: int, command: str
) -> None:
    (tmp_path / "var").mkdir()
    demo_toml = tmp_path / "var" / "demo.toml"
    demo_toml.write_text("# the demo that is already running\n", encoding="utf-8")
    done = subprocess.run(
        [*RECON, command, "--port", str(busy_port)],
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "serving" not in done.stdout
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"recon: error: cannot listen on 127.0.0.1:{busy_port}: ")
    assert "address already in use" in done.stderr
    assert demo_toml.read_text(encoding="utf-8") == "# the demo that is already running\n"
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["demo.toml"]


def test_serving_is_announced_once_the_port_accepts_connections(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with subprocess.Popen(
        [*RECON, "serve", "--no-scheduler", "--port", str(port)],
        cwd=tmp_path,
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            assert line.startswith(f"recon is serving at http://127.0.0.1:{port}/")
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass  # accepted (queued until uvicorn takes it): bound and listening
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_serves_on_the_port_and_host_asked_for() -> None:
    done = subprocess.run(
        ["make", "-n", "run", "PORT=8001", "HOST=0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "recon demo --host 0.0.0.0 --port 8001" in done.stdout
