"""Fixtures: a real `eventlite serve` process on a free port with a temporary data directory."""

import json
import os
import subprocess
import threading
import time

import pytest

TOKEN = "python-token"
OTHER_TENANT_TOKEN = "other-token"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The base URL of a running sync server (tenant `py` for TOKEN, `other` for OTHER_TENANT_TOKEN)."""
    binary = os.environ.get("EVENTLITE_BIN")
    if not binary:
        pytest.fail("EVENTLITE_BIN must name the `eventlite` server binary (scripts/test-native.sh sets it)")
    data_dir = tmp_path_factory.mktemp("server-data")
    env = dict(os.environ, EVENTLITE_TOKENS=f"{TOKEN}:py,{OTHER_TENANT_TOKEN}:other", RUST_LOG="info")
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), "--json-logs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    address = None
    deadline = time.monotonic() + 30
    while address is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        try:
            fields = json.loads(line).get("fields", {})
        except ValueError:
            continue
        if fields.get("message") == "serving":
            address = fields["address"]
    if address is None:
        process.kill()
        pytest.fail("the server did not start")
    # Keep reading its output so it never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    yield f"http://{address}"
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
