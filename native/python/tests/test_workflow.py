"""The Python binding, installed from its wheel, on a real workflow: file store, appends, conflicts, reads,
subscriptions, snapshots, threads, close/reopen, bad input and sync through a running `eventlite serve`."""

import threading
import time
import uuid

import pytest

import eventlite
from eventlite import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    Direction,
    EventFilter,
    EventLiteError,
    EventStore,
    ReadAllOptions,
    ReadStreamOptions,
    StartFrom,
    StoreOptions,
    SubscriptionOptions,
    Synchronous,
    SyncOptions,
    exact,
    new_event,
)

from conftest import OTHER_TENANT_TOKEN, TOKEN


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(tmp_path):
    store = EventStore.open(str(tmp_path / "app.db"))
    yield store
    store.close()


def test_open_a_file_store_with_options(tmp_path):
    options = StoreOptions(synchronous=Synchronous.FULL, busy_timeout_ms=250, max_event_size=64)
    store = EventStore.open(str(tmp_path / "full.db"), options)
    assert store.options() == options
    store.append_to_stream("small-1", [new_event("T", {"a": 1})], NO_STREAM)
    with pytest.raises(EventLiteError.EventTooLarge) as raised:
        store.append_to_stream("small-1", [new_event("T", {"a": "x" * 100})], ANY)
    assert raised.value.code == "EVENT_TOO_LARGE"
    assert raised.value.limit == 64
    assert store.stream_version("small-1") == 1
    store.close()
    assert (tmp_path / "full.db").exists()


def test_append_with_every_expectation_and_a_version_conflict(store):
    first = store.append_to_stream("order-1", [new_event("Placed", {"total": 42})], NO_STREAM)
    assert (first.stream_version, first.positions, first.already_appended) == (1, [1], False)
    assert store.append_to_stream("order-1", [new_event("Paid", {})], STREAM_EXISTS).stream_version == 2
    assert store.append_to_stream("order-1", [new_event("Packed", {})], exact(2)).stream_version == 3
    assert store.append_to_stream("order-1", [new_event("Noted", {}), new_event("Noted", {})], ANY).positions == [4, 5]

    with pytest.raises(EventLiteError.WrongExpectedVersion) as raised:
        store.append_to_stream("order-1", [new_event("Shipped", {})], exact(2))
    error = raised.value
    assert error.code == "WRONG_EXPECTED_VERSION"
    assert error.error_code() == "WRONG_EXPECTED_VERSION"
    assert (error.stream, error.expected, error.actual) == ("order-1", exact(2), 5)
    assert isinstance(error, EventLiteError)

    with pytest.raises(EventLiteError.WrongExpectedVersion) as raised:
        store.append_to_stream("order-2", [new_event("Shipped", {})], STREAM_EXISTS)
    assert raised.value.actual == 0
    assert store.head_position() == 5


def test_a_retried_append_is_idempotent(store):
    event = new_event("Placed", {"total": 1}, metadata={"correlationId": "c-1"})
    first = store.append_to_stream("order-9", [event], NO_STREAM)
    retry = store.append_to_stream("order-9", [event], NO_STREAM)
    assert retry.already_appended and retry.positions == first.positions
    clash = new_event("Other", {}, event_id=event.event_id)
    with pytest.raises(EventLiteError.IdempotencyConflict) as raised:
        store.append_to_stream("order-10", [clash], ANY)
    assert raised.value.code == "IDEMPOTENCY_CONFLICT"
    assert raised.value.event_id == event.event_id


def test_reads_both_directions_filters_and_binary_data(store):
    store.append_to_stream("order-1", [new_event("Placed", {"n": n}) for n in range(5)], NO_STREAM)
    store.append_to_stream("user-1", [new_event("Registered", {"name": "ada"})], NO_STREAM)
    png = bytes([0x89, 0x50, 0x4E, 0x47, 0, 255])
    store.append_to_stream("order-2", [new_event("Photo", png, content_type="image/png")], NO_STREAM)

    forwards = store.read_stream("order-1", ReadStreamOptions(from_version=2, max_count=2))
    assert [e.version for e in forwards.events] == [2, 3]
    assert forwards.stream_version == 5
    assert [e.json()["n"] for e in forwards.events] == [1, 2]
    backwards = store.read_stream("order-1", ReadStreamOptions(direction=Direction.BACKWARDS, max_count=3))
    assert [e.version for e in backwards.events] == [5, 4, 3]
    missing = store.read_stream("order-404", ReadStreamOptions())
    assert (missing.events, missing.stream_version) == ([], 0)

    everything = store.read_all(ReadAllOptions())
    assert [e.position for e in everything.events] == list(range(1, 8))
    assert everything.head_position == 7
    users = store.read_all(ReadAllOptions(filter=EventFilter(categories=["user"])))
    assert [e.stream for e in users.events] == ["user-1"]
    photos = store.read_all(ReadAllOptions(filter=EventFilter(event_types=["Photo"])))
    assert photos.events[0].data.is_BINARY()
    assert photos.events[0].data.bytes == png and photos.events[0].data.content_type == "image/png"
    with pytest.raises(ValueError):
        photos.events[0].json()
    prefixed = store.read_all(ReadAllOptions(filter=EventFilter(stream_prefix="order-"), direction=Direction.BACKWARDS))
    assert [e.position for e in prefixed.events] == [7, 5, 4, 3, 2, 1]
    after = store.read_all(ReadAllOptions(from_position=5, max_count=1))
    assert [e.position for e in after.events] == [6]


def test_a_subscription_calls_back_on_a_library_thread_then_resumes_from_its_checkpoint(tmp_path):
    path = str(tmp_path / "sub.db")
    store = EventStore.open(path)
    store.append_to_stream("order-1", [new_event("Placed", {"n": 1})], NO_STREAM)
    seen, threads = [], set()

    def handler(event):
        threads.add(threading.get_ident())
        seen.append((event.position, event.event_type))

    subscription = store.subscribe_to_all(SubscriptionOptions(name="projector"), handler)
    assert wait_until(lambda: len(seen) == 1)
    store.append_to_stream("order-1", [new_event("Paid", {})], exact(1))
    assert wait_until(lambda: len(seen) == 2)
    assert seen == [(1, "Placed"), (2, "Paid")]
    assert threading.get_ident() not in threads and len(threads) == 1
    assert subscription.is_running() and subscription.name() == "projector"
    subscription.stop()
    assert not subscription.is_running()
    assert store.load_checkpoint("projector") == 2
    store.append_to_stream("order-1", [new_event("Shipped", {})], exact(2))
    store.close()

    reopened = EventStore.open(path)
    resumed = []
    again = reopened.subscribe_to_all(SubscriptionOptions(name="projector"), lambda e: resumed.append(e.position))
    assert wait_until(lambda: resumed == [3])
    again.stop()
    stream_events = []
    one = reopened.subscribe_to_stream(
        "order-1", SubscriptionOptions(start=StartFrom.AFTER(1)), lambda e: stream_events.append(e.version)
    )
    assert wait_until(lambda: stream_events == [2, 3])
    one.stop()
    reopened.close()


def test_a_handler_that_throws_stops_its_subscription_at_that_event(store):
    store.append_to_stream("order-1", [new_event("T", {"n": n}) for n in range(3)], NO_STREAM)
    accepted = []

    def handler(event):
        if event.version == 2:
            raise RuntimeError("projection failed")
        accepted.append(event.version)

    subscription = store.subscribe_to_all(SubscriptionOptions(name="fragile"), handler)
    assert wait_until(lambda: not subscription.is_running())
    with pytest.raises(EventLiteError.HandlerFailed) as raised:
        subscription.stop()
    assert raised.value.code == "HANDLER_FAILED" and "projection failed" in raised.value.reason
    assert accepted == [1]
    assert store.load_checkpoint("fragile") == 1


def test_snapshot_and_aggregate(store):
    store.append_to_stream("cart-1", [new_event("Added", {"qty": q}) for q in (1, 2, 3)], NO_STREAM)
    total, aggregate = store.aggregate("cart-1", {"qty": 0}, lambda s, e: {"qty": s["qty"] + e.json()["qty"]})
    assert total == {"qty": 6} and aggregate.version == 3 and aggregate.events_folded == 3
    store.save_snapshot("cart-1", 3, '{"qty": 6}', "cart-v1")
    store.append_to_stream("cart-1", [new_event("Added", {"qty": 4})], exact(3))
    snapshot = store.load_snapshot("cart-1")
    assert (snapshot.version, snapshot.schema_tag, snapshot.state) == (3, "cart-v1", '{"qty":6}')
    assert store.load_snapshot("cart-1", "cart-v2") is None
    total, aggregate = store.aggregate(
        "cart-1", {"qty": 0}, lambda s, e: {"qty": s["qty"] + e.json()["qty"]}, schema_tag="cart-v1"
    )
    assert total == {"qty": 10}
    assert (aggregate.snapshot_version, aggregate.events_folded) == (3, 1)
    with pytest.raises(EventLiteError.InvalidArgument) as raised:
        store.save_snapshot("cart-1", 9, "{}", "cart-v1")
    assert raised.value.argument == "version"

    def broken(state, event):
        raise KeyError("qty")

    with pytest.raises(EventLiteError.HandlerFailed):
        store.aggregate("cart-1", {}, broken)


def test_bad_input_raises_a_clear_error_and_leaves_the_data_unchanged(store):
    store.append_to_stream("order-1", [new_event("Placed", {})], NO_STREAM)
    before = store.read_all(ReadAllOptions())
    bad_calls = [
        (lambda: store.append_to_stream("", [new_event("T", {})], ANY), "INVALID_ARGUMENT", "stream"),
        (lambda: store.append_to_stream("$system", [new_event("T", {})], ANY), "INVALID_ARGUMENT", "stream"),
        (lambda: store.append_to_stream("a\nb", [new_event("T", {})], ANY), "INVALID_ARGUMENT", "stream"),
        (lambda: store.append_to_stream("order-1", [new_event("", {})], ANY), "INVALID_ARGUMENT", "events[0].type"),
        (
            lambda: store.append_to_stream(
                "order-1", [new_event("T", {}), eventlite.json_event("T", "{not json", None)], ANY
            ),
            "INVALID_ARGUMENT",
            "events[1].data",
        ),
        (
            lambda: store.append_to_stream("order-1", [eventlite.json_event("T", "{}", "[1]")], ANY),
            "INVALID_ARGUMENT",
            "events[0].metadata",
        ),
        (
            lambda: store.append_to_stream("order-1", [new_event("T", {}, event_id="not-a-uuid")], ANY),
            "INVALID_ARGUMENT",
            "events[0].event_id",
        ),
        (lambda: store.read_stream("", ReadStreamOptions()), "INVALID_ARGUMENT", "stream"),
        (lambda: store.save_snapshot("order-1", 1, "{oops", "tag"), "INVALID_ARGUMENT", "state"),
        (lambda: store.dismiss_conflict("nope"), "INVALID_ARGUMENT", "event_id"),
    ]
    for call, code, argument in bad_calls:
        with pytest.raises(EventLiteError.InvalidArgument) as raised:
            call()
        assert (raised.value.code, raised.value.argument) == (code, argument)
        assert raised.value.reason
    with pytest.raises(EventLiteError.EventTooLarge):
        store.append_to_stream("order-1", [new_event("T", "x" * (2 * 1024 * 1024))], ANY)
    after = store.read_all(ReadAllOptions())
    assert [(e.position, e.event_id) for e in after.events] == [(e.position, e.event_id) for e in before.events]
    assert store.stream_version("order-1") == 1


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(EventLiteError.Storage) as raised:
        EventStore.open(str(path))
    assert raised.value.code == "NOT_A_DATABASE"
    assert path.read_bytes() == b"these are my notes, not a database" * 100


def test_one_handle_used_from_several_threads(store):
    writers, per_writer = 4, 50
    conflicts, errors = [], []
    done = []

    def writer(index):
        try:
            for n in range(per_writer):
                while True:
                    version = store.stream_version("counter-1")
                    try:
                        store.append_to_stream("counter-1", [new_event("Incremented", {"by": index})], exact(version))
                        break
                    except EventLiteError.WrongExpectedVersion as error:
                        conflicts.append(error.actual)
                store.append_to_stream(f"writer-{index}", [new_event("Wrote", {"n": n})], ANY)
                store.read_stream("counter-1", ReadStreamOptions(direction=Direction.BACKWARDS, max_count=1))
            done.append(index)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(done) == list(range(writers))
    counter = store.read_stream("counter-1", ReadStreamOptions(max_count=10_000))
    assert [e.version for e in counter.events] == list(range(1, writers * per_writer + 1))
    for index in range(writers):
        assert store.stream_version(f"writer-{index}") == per_writer
    log = store.read_all(ReadAllOptions(max_count=10_000))
    positions = [e.position for e in log.events]
    assert positions == sorted(positions) and len(positions) == 2 * writers * per_writer


def test_close_then_reopen(tmp_path):
    path = str(tmp_path / "life.db")
    store = EventStore.open(path)
    store.append_to_stream("todo-1", [new_event("Added", {"title": "milk"})], NO_STREAM)
    seen = []
    subscription = store.subscribe_to_all(SubscriptionOptions(), lambda e: seen.append(e.position))
    assert wait_until(lambda: seen == [1])
    store.close()
    store.close()  # idempotent
    assert store.is_closed() and not subscription.is_running()
    with pytest.raises(EventLiteError.StoreClosed) as raised:
        store.append_to_stream("todo-1", [new_event("Added", {})], ANY)
    assert raised.value.code == "STORE_CLOSED"
    reopened = EventStore.open(path)
    assert reopened.stream_version("todo-1") == 1
    assert reopened.read_stream("todo-1", ReadStreamOptions()).events[0].json() == {"title": "milk"}
    reopened.close()


class Recorder(eventlite.SyncListener):
    def __init__(self):
        self.conflicts, self.reports, self.errors = [], [], []

    def on_conflict(self, conflict):
        self.conflicts.append(conflict)

    def on_sync(self, report):
        self.reports.append(report)

    def on_error(self, error):
        self.errors.append(error)


def test_sync_two_stores_through_the_server_with_a_conflict(server, tmp_path):
    options = SyncOptions(url=server, token=TOKEN)
    phone = EventStore.open(str(tmp_path / "phone.db"))
    laptop = EventStore.open(str(tmp_path / "laptop.db"))
    todo = unique("todo")
    phone.append_to_stream(todo, [new_event("Added", {"title": "milk"})], NO_STREAM)
    laptop.append_to_stream(todo, [new_event("Added", {"title": "eggs"})], NO_STREAM)
    assert phone.sync_status().pending == 1

    pushed = phone.sync_once(options)
    assert pushed.pushed == 1 and pushed.conflicts == []
    assert phone.sync_status().pending == 0

    report = laptop.sync_once(options)
    assert len(report.conflicts) == 1
    conflict = report.conflicts[0]
    assert (conflict.stream, conflict.code, conflict.expected) == (todo, "WRONG_EXPECTED_VERSION", NO_STREAM)
    assert conflict.data.is_JSON() and '"eggs"' in conflict.data.json
    assert [c.event_id for c in laptop.sync_conflicts()] == [conflict.event_id]
    titles = [e.json()["title"] for e in laptop.read_stream(todo, ReadStreamOptions()).events]
    assert titles == ["milk"]
    assert laptop.sync_status().conflicts == 1
    assert laptop.dismiss_conflict(conflict.event_id) is True
    assert laptop.dismiss_conflict(conflict.event_id) is False
    assert laptop.sync_conflicts() == []

    # Live sync on the laptop: the phone's next event arrives without asking, and a conflict is called back.
    listener = Recorder()
    laptop.start_sync(options, listener)
    assert laptop.is_syncing()
    phone.append_to_stream(todo, [new_event("Added", {"title": "bread"})], exact(1))
    phone.sync_once(options)
    assert wait_until(lambda: laptop.stream_version(todo) == 2)
    assert wait_until(lambda: listener.reports)

    # The app goes to the background: sync stops; events appended meanwhile stay pending and are pushed on resume.
    laptop.stop_sync()
    assert not laptop.is_syncing()
    laptop.append_to_stream(todo, [new_event("Added", {"title": "tea"})], exact(2))
    phone.append_to_stream(todo, [new_event("Added", {"title": "jam"})], exact(2))
    phone.sync_once(options)
    laptop.append_to_stream(unique("note"), [new_event("Noted", {"offline": True})], NO_STREAM)
    assert laptop.sync_status().pending == 2
    laptop.close()

    resumed = EventStore.open(str(tmp_path / "laptop.db"))
    assert resumed.sync_status().pending == 2
    listener = Recorder()
    resumed.start_sync(options, listener)
    assert wait_until(lambda: resumed.sync_status().pending == 0)
    assert wait_until(lambda: len(listener.conflicts) == 1)
    assert listener.conflicts[0].stream == todo and '"tea"' in listener.conflicts[0].data.json
    # The rejection (its push) and the phone's "jam" (a pull) may arrive in different rounds: wait for both.
    assert wait_until(lambda: resumed.stream_version(todo) == 3)
    resumed.stop_sync()
    phone.sync_once(options)
    phone_log = [(e.stream, e.version, e.event_id) for e in phone.read_all(ReadAllOptions(max_count=10_000)).events]
    laptop_log = [(e.stream, e.version, e.event_id) for e in resumed.read_all(ReadAllOptions(max_count=10_000)).events]
    assert phone_log == laptop_log
    assert [e.json()["title"] for e in resumed.read_stream(todo, ReadStreamOptions()).events] == [
        "milk",
        "bread",
        "jam",
    ]
    phone.close()
    resumed.close()


def test_sync_failures_carry_codes_and_lose_nothing(server, tmp_path):
    store = EventStore.open(str(tmp_path / "device.db"))
    store.append_to_stream(unique("todo"), [new_event("Added", {})], NO_STREAM)
    with pytest.raises(EventLiteError.Sync) as raised:
        store.sync_once(SyncOptions(url=server, token="wrong-token"))
    assert (raised.value.code, raised.value.status, raised.value.retryable) == ("UNAUTHORIZED", 401, False)
    with pytest.raises(EventLiteError.Sync) as raised:
        store.sync_once(SyncOptions(url="http://127.0.0.1:9", token=TOKEN))
    assert raised.value.code == "NETWORK" and raised.value.retryable
    assert store.sync_status().pending == 1

    listener = Recorder()
    store.start_sync(SyncOptions(url="http://127.0.0.1:9", token=TOKEN), listener)
    assert wait_until(lambda: listener.errors)
    assert listener.errors[0].code == "NETWORK"
    store.stop_sync()
    assert store.sync_once(SyncOptions(url=server, token=OTHER_TENANT_TOKEN)).pushed == 1
    assert store.sync_status().pending == 0
    store.close()


def test_the_fast_append_gives_the_generated_methods_results_errors_and_log(tmp_path):
    """`append_to_stream` packs the append into one buffer (`append_encoded`); the generated method is the
    reference: the same results, the same errors and the same log, step by step."""
    options = StoreOptions(max_event_size=256)
    fast = EventStore.open(str(tmp_path / "fast.db"), options)
    generated = EventStore.open(str(tmp_path / "generated.db"), options)
    placed = new_event("Placed", {"total": 42}, metadata={"correlationId": "c-1"})
    batch = [new_event("Line", {"n": n}) for n in range(100)]
    picture = new_event("Scanned", b"\x00\x01\xfe\xff", content_type="image/png")
    store_made_id = eventlite.NewEvent(event_type="Noted", data=eventlite.EventData.JSON(json="{}"))
    steps = [
        ("order-1", [placed], NO_STREAM),
        ("order-1", [placed], NO_STREAM),  # an idempotent retry
        ("order-1", [new_event("Paid", {}), picture, store_made_id], STREAM_EXISTS),
        ("order-1", [new_event("Shipped", {})], exact(4)),
        ("order-1", [new_event("Late", {})], exact(1)),
        ("order-1", [placed], ANY),  # already appended
        ("cart-1", batch, NO_STREAM),
        ("cart-1", batch, exact(0)),  # a retried batch
        ("cart-2", [], ANY),
        ("", [new_event("T", {})], ANY),
        ("a\nb", [new_event("T", {})], ANY),
        ("order-1", [new_event("", {})], ANY),
        ("order-1", [new_event("T", {}), eventlite.json_event("T", "{not json")], ANY),
        ("order-1", [eventlite.json_event("T", "{}", "[1]")], ANY),
        ("order-1", [new_event("T", {}, event_id="not-a-uuid")], ANY),
        ("order-1", [placed, placed], ANY),
        ("order-1", [new_event("T", "x" * 300)], ANY),
        ("order-\u00e9t\u00e9", [new_event("Caf\u00e9", {"\u2603": "\U0001f600"})], ANY),
    ]
    outcomes = []
    for stream, events, expected in steps:
        results = []
        for store, append in ((fast, fast.append_to_stream), (generated, generated.append_to_stream_generated)):
            try:
                results.append(("ok", append(stream, events, expected)))
            except EventLiteError as error:
                results.append((type(error), error.code, getattr(error, "argument", None), str(error)))
        assert results[0] == results[1], (stream, expected)
        outcomes.append(results[0][0] if results[0][0] == "ok" else results[0][1])
    assert outcomes.count("ok") == 9
    assert set(outcomes) == {"ok", "WRONG_EXPECTED_VERSION", "INVALID_ARGUMENT", "EVENT_TOO_LARGE"}

    def log(store):
        return [
            (e.position, e.stream, e.version, e.event_type, e.data, e.metadata)
            for e in store.read_all(ReadAllOptions(max_count=10_000)).events
        ]

    assert log(fast) == log(generated)
    # Arguments the packer does not take go through the generated method and raise its errors.
    for stream, events, expected in [
        (b"order-1", [placed], ANY),
        ("order-1", [placed], "ANY"),
        ("order-1", ["not an event"], ANY),
        ("order-1", [new_event("T", {}, event_id=uuid.uuid4())], exact(-1)),
        ("order-\ud800", [placed], ANY),
    ]:
        errors = []
        for append in (fast.append_to_stream, generated.append_to_stream_generated):
            with pytest.raises(Exception) as raised:
                append(stream, events, expected)
            errors.append((type(raised.value), str(raised.value)))
        assert errors[0] == errors[1]
    tupled = (new_event("T", {}),)
    assert fast.append_to_stream("tuple-1", tupled, ANY) == generated.append_to_stream_generated("tuple-1", tupled, ANY)
    assert log(fast) == log(generated)
    fast.close()
    generated.close()


def test_event_ids_made_in_python_are_uuid_v7_and_increase():
    ids = [new_event("T", {}).event_id for _ in range(5000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, ids[0])
    assert abs((parsed.int >> 80) - time.time_ns() // 1_000_000) < 3_600_000


def test_a_confirmed_only_subscriber_sees_events_only_once_the_server_confirmed_them(server, tmp_path):
    options = SyncOptions(url=server, token=TOKEN)
    device = EventStore.open(str(tmp_path / "device.db"))
    other = EventStore.open(str(tmp_path / "other.db"))
    stream = unique("view")
    only_ours = SubscriptionOptions(filter=EventFilter(stream_prefix=stream))
    confirmed, optimistic = [], []
    confirmed_sub = device.subscribe_synced(
        eventlite.SyncMode.CONFIRMED_ONLY,
        only_ours,
        lambda e: confirmed.append((e.event_id, e.position)),
        on_rewound=lambda position: confirmed.append(("rewound", position)),
    )
    optimistic_sub = device.subscribe_synced(
        eventlite.SyncMode.INCLUDE_PENDING,
        only_ours,
        lambda e: optimistic.append(("event", e.event_id, threading.get_ident())),
        on_rewound=lambda position: optimistic.append(("rewound", position, threading.get_ident())),
    )
    mine = new_event("Added", {"title": "mine"})
    device.append_to_stream(stream, [mine], ANY)
    # The optimistic subscriber sees the pending event at once, on a library thread.
    assert wait_until(lambda: len(optimistic) == 1)
    assert optimistic[0][:2] == ("event", mine.event_id) and optimistic[0][2] != threading.get_ident()
    theirs = new_event("Added", {"title": "theirs"})
    other.append_to_stream(stream, [theirs], ANY)
    other.sync_once(options)

    report = device.sync_once(options)
    assert report.log_reset is False and report.rewound_from is not None
    assert device.sync_status().log_resets == 0
    assert wait_until(lambda: len(confirmed) == 2)
    assert wait_until(lambda: len(optimistic) == 4)
    # Confirmed-only: the server's order, at the positions after the sync; the pending event was never delivered.
    after_sync = [(e.event_id, e.position) for e in device.read_stream(stream, ReadStreamOptions()).events]
    assert confirmed == after_sync
    assert [event_id for event_id, _ in confirmed] == [theirs.event_id, mine.event_id]
    # Optimistic: told that the log was rewritten, then the new order.
    assert optimistic[1][0] == "rewound" and optimistic[1][1] < after_sync[0][1]
    assert [item[:2] for item in optimistic[2:]] == [("event", theirs.event_id), ("event", mine.event_id)]
    assert confirmed_sub.position() == after_sync[-1][1]

    with pytest.raises(TypeError):
        device.subscribe_synced(eventlite.SyncMode.CONFIRMED_ONLY, only_ours, lambda e: None)
    with pytest.raises(EventLiteError.InvalidArgument) as raised:
        device.subscribe_synced(
            eventlite.SyncMode.CONFIRMED_ONLY, SubscriptionOptions(name="view"), lambda e: None, on_rewound=print
        )
    assert raised.value.argument == "name"
    confirmed_sub.stop()
    optimistic_sub.stop()
    device.close()
    other.close()


def test_event_ids_stay_unique_across_fork():
    """A forked child must not draw the parent's remaining random bits (same ids: events silently dropped)."""
    import os

    import eventlite

    eventlite.new_event("Warm", {})  # fill the parent's pool
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        ids = "\n".join(eventlite.new_event("T", {}).event_id for _ in range(200))
        os.write(write_end, ids.encode())
        os._exit(0)
    os.close(write_end)
    parent = {eventlite.new_event("T", {}).event_id for _ in range(200)}
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    child = set(b"".join(chunks).decode().split("\n"))
    assert len(child) == 200 and not parent & child


TODOS = {
    "name": "todos",
    "version": 1,
    "setup": "CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)",
    "handlers": [
        {"type": "Added", "statements": ["INSERT INTO todos (id, title) VALUES (:stream, :data ->> '$.title')"]},
        {"type": "Done", "statements": ["UPDATE todos SET done = 1 WHERE id = :stream"]},
    ],
}


def test_a_projection_keeps_a_read_model_that_queries_and_watches_read(store):
    store.append_to_stream("todo-1", [new_event("Added", {"title": "milk"})], NO_STREAM)
    status = store.register_projection(TODOS)
    assert (status.name, status.applied_through, status.tables) == ("todos", 1, ["todos"])
    seen = []
    watch = store.watch("SELECT id, title, done FROM todos ORDER BY id", seen.append)
    assert wait_until(lambda: seen == [[{"id": "todo-1", "title": "milk", "done": 0}]])
    store.append_to_stream("todo-1", [new_event("Done", {})], exact(1))
    assert wait_until(lambda: seen[-1] == [{"id": "todo-1", "title": "milk", "done": 1}])
    watch.stop()
    assert store.query("SELECT title FROM todos WHERE done = ?", [1]) == [{"title": "milk"}]
    assert store.query("SELECT count(*) AS n FROM todos WHERE id = :id", {"id": "todo-1"}) == [{"n": 1}]


def test_projection_bad_input_raises_typed_errors_and_writes_nothing(store):
    with pytest.raises(EventLiteError.InvalidArgument) as invalid:
        store.register_projection({**TODOS, "setup": "CREATE TABLE todos (id"})
    assert invalid.value.code == "INVALID_ARGUMENT" and invalid.value.argument == "projection.setup"
    assert store.projections() == []
    store.register_projection(TODOS)
    with pytest.raises(EventLiteError.ProjectionFailed) as failed:
        store.append_to_stream("todo-2", [new_event("Added", {"no": "title"})], NO_STREAM)
    assert failed.value.code == "PROJECTION_FAILED" and failed.value.projection == "todos" and failed.value.index == 0
    assert store.stream_version("todo-2") == 0
    with pytest.raises(EventLiteError.InvalidArgument):
        store.query("DELETE FROM todos")
