"""A throw-away local Prefect server, for the demo and the tests (no account needed)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .ports import free_port


def wait_until_healthy(api_url: str, process: subprocess.Popen | None = None, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"the Prefect server at {api_url} was not ready within {timeout_s:.0f} s")


@dataclass(frozen=True)
class StartingServer:
    """A local Prefect server that may still be starting: its URL now, its readiness on demand."""

    api_url: str
    process: subprocess.Popen
    log: Path

    def wait_until_healthy(self, timeout_s: float = 180.0) -> None:
        try:
            wait_until_healthy(self.api_url, self.process, timeout_s)
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"{error}; its log: {self.log}") from None


@contextlib.contextmanager
def starting_prefect_server(home: Path | None = None) -> Iterator[StartingServer]:
    """Starts `prefect server start` on a free localhost port and yields at once.

    The caller can start other things while the server starts (about 10 s), then waits for it
    (`StartingServer.wait_until_healthy`). Its database lives in `home` (kept: a second start
    skips the migrations, about 6 s) or in a temporary folder.
    """
    with tempfile.TemporaryDirectory(prefix="prefect-home-") as tmp:
        prefect_home = Path(home or tmp)
        prefect_home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = {
            **os.environ,
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_API_URL": "",
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(port),
            "PREFECT_UI_URL": f"http://127.0.0.1:{port}",  # alerts link to runs (the `ui_url` filter)
        }
        log_path = prefect_home / "server.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield StartingServer(f"http://127.0.0.1:{port}/api", process, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


@contextlib.contextmanager
def local_prefect_server(home: Path | None = None) -> Iterator[str]:
    """A local Prefect server, ready; yields its API URL."""
    with starting_prefect_server(home) as server:
        server.wait_until_healthy()
        yield server.api_url
