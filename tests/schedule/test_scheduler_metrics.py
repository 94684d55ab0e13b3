"""`recon scheduler --metrics-port`: the scheduler's own runs and pulls, which no API replica
counts, served for Prometheus by the scheduler process itself (docs/operations.md, Metrics)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

RECON = [sys.executable, "-m", "recon.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def scrape(port: int, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
                body: bytes = answer.read()
                return body.decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_scheduler_serves_its_own_counters(environ: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **environ, "RECON_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("", encoding="utf-8")  # no channels: nothing to run
    process = subprocess.Popen(
        [*RECON, "scheduler", "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        text = scrape(port, time.monotonic() + 30)
        names = {family.name for family in text_string_to_metric_families(text)}
        assert {"recon_runs", "recon_run_duration_seconds", "recon_statement_lines"} <= names
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_metrics_port_in_use_is_refused_in_one_line(
    environ: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    env = {**os.environ, **environ, "RECON_CONFIG": str(tmp_path / "none.toml")}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [*RECON, "scheduler", "--metrics-port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("recon: error: cannot serve metrics on 127.0.0.1:"), done.stderr
