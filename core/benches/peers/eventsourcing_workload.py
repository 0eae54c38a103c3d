"""DESIGN.md §6's workload on Python `eventsourcing` 9.5 with its SQLite persistence module.

Run by scripts/bench-workload.sh in target/bench-peers/venv; prints one JSON line per driver per round with the same
figures as core/benches/workload.rs (events per second): `single`, `batch`, `read`.

The workload (as in workload.rs): 100 streams (aggregates); single-event appends round-robin over them, 50 per
aggregate, each a `save` of one new event; then 50 batches of 100 events, each one `save` of 100 new events on one of
the aggregates; then every aggregate's events read back, `READ_PASSES` times. Fresh file per round, WAL.

Two drivers, both as the library's docs present them:
- `application`: an `Application` with `PERSISTENCE_MODULE=eventsourcing.sqlite` and `SQLITE_DBNAME=<file>`, an
  `Aggregate` whose `@event` method triggers each event, `app.save(aggregate)`; reads are `app.events.get(id)`
  (domain event objects, what `repository.get` folds). The version check is the recorder's: the primary key
  `(originator_id, originator_version)` refuses a stale version.
- `recorder`: the same application's `SQLiteApplicationRecorder` driven directly with `StoredEvent`s (JSON state made
  before the clock starts, as the Rust baselines do); reads are `recorder.select_events(id)`.

eventsourcing sets `journal_mode=WAL` on file databases but leaves `synchronous` at SQLite's default (FULL: an fsync
per commit). Unless `EVENTSOURCING_SYNCHRONOUS=default`, the script sets `synchronous=NORMAL` on each pooled
connection as it is made (the only hook the library has: it opens connections itself), so every implementation in
the comparison runs with the same durability.

Environment: `EVENTLITE_BENCH_SCALE` (single appends per aggregate = 50 x scale), `EVENTLITE_BENCH_ROUNDS` (default 3).
"""

import json
import os
import shutil
import sys
import tempfile
import time
from uuid import NAMESPACE_URL, uuid5

from eventsourcing import sqlite as es_sqlite
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

STREAMS = 100
BATCHES = 50
BATCH_SIZE = 100
READ_PASSES = 10

SCALE = float(os.environ.get("EVENTLITE_BENCH_SCALE", "1"))
ROUNDS = max(1, int(float(os.environ.get("EVENTLITE_BENCH_ROUNDS", "3"))))
SINGLES_PER_STREAM = max(1, int(50 * SCALE))
SYNCHRONOUS = os.environ.get("EVENTSOURCING_SYNCHRONOUS", "NORMAL")

if SYNCHRONOUS != "default":
    _create_connection = es_sqlite.SQLiteConnectionPool._create_connection

    def _create_connection_with_synchronous(self):
        connection = _create_connection(self)
        connection._sqlite_conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
        return connection

    es_sqlite.SQLiteConnectionPool._create_connection = _create_connection_with_synchronous


def fields(n):
    """The fields of workload.rs's ~80-byte JSON payload."""
    return {"order_id": f"order-{n}", "amount": n % 977, "currency": "EUR", "note": "benchmark event"}


class Order(Aggregate):
    """One stream. Creating it records its first event (`Opened`, version 1, the same fields); `place` each later one."""

    @event("Opened")
    def __init__(self, order_id: str, amount: int, currency: str, note: str):
        pass

    @event("Placed")
    def place(self, order_id: str, amount: int, currency: str, note: str):
        pass


class Orders(Application):
    pass


def single_appends():
    """(stream index, the stream's version before the append), in order: round-robin over the streams."""
    return [(s, i) for i in range(SINGLES_PER_STREAM) for s in range(STREAMS)]


def batch_appends():
    return [(b % STREAMS, SINGLES_PER_STREAM + (b // STREAMS) * BATCH_SIZE) for b in range(BATCHES)]


def total_events():
    return STREAMS * SINGLES_PER_STREAM + BATCHES * BATCH_SIZE


def open_app(path):
    return Orders(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path})


def pragmas(app):
    with app.recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[cursor.fetchone()[0]]
    return journal, synchronous


def application_round(path):
    app = open_app(path)
    aggregates = [None] * STREAMS
    n = 0
    start = time.perf_counter()
    for s, version in single_appends():
        if version == 0:
            aggregates[s] = Order(**fields(n))
        else:
            aggregates[s].place(**fields(n))
        app.save(aggregates[s])
        n += 1
    single = time.perf_counter() - start
    batches = []
    for s, version in batch_appends():
        assert aggregates[s].version == version
        batches.append((s, [fields(n + k) for k in range(BATCH_SIZE)]))
        n += BATCH_SIZE
    start = time.perf_counter()
    for s, events in batches:
        aggregate = aggregates[s]
        for f in events:
            aggregate.place(**f)
        app.save(aggregate)
    batch = time.perf_counter() - start
    ids = [aggregate.id for aggregate in aggregates]
    start = time.perf_counter()
    seen = 0
    for _ in range(READ_PASSES):
        for aggregate_id in ids:
            seen += len(list(app.events.get(aggregate_id)))
    read = time.perf_counter() - start
    assert seen == total_events() * READ_PASSES, seen
    journal, synchronous = pragmas(app)
    app.close()
    return single, batch, read, journal, synchronous


def recorder_round(path):
    app = open_app(path)
    recorder = app.recorder
    topic = "benchmark:Placed"
    ids = [uuid5(NAMESPACE_URL, f"order-{s}") for s in range(STREAMS)]

    def stored(s, version, n):
        state = json.dumps(fields(n), separators=(",", ":")).encode()
        return StoredEvent(originator_id=ids[s], originator_version=version + 1, topic=topic, state=state)

    n = 0
    singles = []
    for s, version in single_appends():
        singles.append([stored(s, version, n)])
        n += 1
    batches = []
    for s, version in batch_appends():
        batches.append([stored(s, version + k, n + k) for k in range(BATCH_SIZE)])
        n += BATCH_SIZE
    start = time.perf_counter()
    for events in singles:
        recorder.insert_events(events)
    single = time.perf_counter() - start
    start = time.perf_counter()
    for events in batches:
        recorder.insert_events(events)
    batch = time.perf_counter() - start
    start = time.perf_counter()
    seen = 0
    for _ in range(READ_PASSES):
        for originator_id in ids:
            seen += len(recorder.select_events(originator_id))
    read = time.perf_counter() - start
    assert seen == total_events() * READ_PASSES, seen
    journal, synchronous = pragmas(app)
    app.close()
    return single, batch, read, journal, synchronous


DRIVERS = {
    "application": ("eventsourcing 9.5, Application + Aggregate", application_round),
    "recorder": ("eventsourcing 9.5, SQLiteApplicationRecorder", recorder_round),
}


def main():
    import eventsourcing

    version = getattr(eventsourcing, "__version__", None)
    if version is None:
        from importlib.metadata import version as package_version

        version = package_version("eventsourcing")
    for round_number in range(1, ROUNDS + 1):
        for key, (label, run) in DRIVERS.items():
            directory = tempfile.mkdtemp(prefix="eventsourcing-workload-")
            try:
                single, batch, read, journal, synchronous = run(os.path.join(directory, "workload.db"))
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            line = {
                "impl": f"eventsourcing-{key}",
                "label": label,
                "round": round_number,
                "single": round(STREAMS * SINGLES_PER_STREAM / single),
                "batch": round(BATCHES * BATCH_SIZE / batch),
                "read": round(total_events() * READ_PASSES / read),
                "singles": STREAMS * SINGLES_PER_STREAM,
                "batched": BATCHES * BATCH_SIZE,
                "read_events": total_events() * READ_PASSES,
                "version": version,
                "journal_mode": journal,
                "synchronous": synchronous,
                "python": sys.version.split()[0],
            }
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
