"""A real `basir server` process on a free port with its own BASIR_HOME, driven over HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_e2e import Server, make_server  # noqa: E402


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Build servers; every one still running at the end is stopped."""
    made: list[Server] = []

    def build(*args: str, **kwargs: Any) -> Server:
        server = make_server(tmp_path / f"s{len(made)}", *args, **kwargs)
        made.append(server)
        return server

    yield build
    for server in made:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One running server shared by a module's tests."""
    started = make_server(tmp_path_factory.mktemp("e2e-server")).start()
    yield started
    if started.process is not None and started.process.poll() is None:
        started.terminate()
