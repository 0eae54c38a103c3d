"""EventLite: an embedded event store on SQLite, with sync.

Everything from the generated UniFFI module (``EventStore``, ``NewEvent``, ``EventLiteError``, ...) is re-exported
here, plus a few conveniences that use Python's own types: ``ANY`` / ``NO_STREAM`` / ``STREAM_EXISTS`` / ``exact(n)``,
``new_event(type, data)`` taking any JSON-serialisable value (or ``bytes``), ``RecordedEvent.json()``, plain
callables as subscription handlers (``subscribe_to_all``, ``subscribe_to_stream``, ``subscribe_synced``),
``EventStore.aggregate`` folding Python values, and read models with Python values: ``register_projection`` taking
the portable definition as a ``dict``, ``query`` returning a list of ``dict`` rows, ``watch`` calling a plain callable
with them (the generated methods stay as ``query_rows`` and ``watch_rows``).

``EventStore.append_to_stream`` takes the generated method's arguments and gives its results and errors, in one FFI
call: the whole append is packed into one ``bytes`` (``append_encoded(store.append_handle(), payload)``, see
native/src/encoded.rs) instead of being lowered field by field; arguments the packer does not recognise go through the generated method
(``EventStore.append_to_stream_generated``), which stays the reference.

    import eventlite
    store = eventlite.EventStore.open("app.db")
    store.append_to_stream("order-1", [eventlite.new_event("Placed", {"total": 42})], eventlite.NO_STREAM)
    for event in store.read_stream("order-1", eventlite.ReadStreamOptions()).events:
        print(event.version, event.event_type, event.json())
"""

import json as _json
import os as _os
import struct as _struct
import threading as _threading
import time as _time

from ._native import *  # noqa: F401,F403
from ._native import (
    AppendResult,
    EventData,
    EventHandler,
    EventLiteError,
    EventStore,
    ExpectedVersion,
    NewEvent,
    QueryHandler,
    RecordedEvent,
    Reducer,
    SqlValue,
    SyncedHandler,
    SyncListener,
    SyncMode,
    append_encoded as _append_encoded,
    take_append_result,
)

#: No expectation.
ANY = ExpectedVersion.ANY()
#: The stream must not exist.
NO_STREAM = ExpectedVersion.NO_STREAM()
#: The stream must exist.
STREAM_EXISTS = ExpectedVersion.STREAM_EXISTS()


def exact(version):
    """The stream must be exactly at ``version`` (0: it must not exist)."""
    return ExpectedVersion.EXACT(version)


_uuid_lock = _threading.Lock()
_uuid_last = 0
_uuid_random = []
_uuid_refill = _struct.Struct("<512Q").unpack


def _reset_ids_after_fork():
    # A forked child would otherwise draw the parent's remaining random bits (identical ids: a silent idempotent
    # "retry" or an IDEMPOTENCY_CONFLICT), and could inherit the lock held by another thread of the parent.
    global _uuid_lock
    _uuid_lock = _threading.Lock()
    _uuid_random.clear()


if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_reset_ids_after_fork)


def _new_event_id():
    """A UUID v7 string made without an FFI call, increasing within this process as core's ``Uuid::now_v7``: 48 bits
    of Unix milliseconds and a 12-bit counter (RFC 9562 method 1), then 62 random bits (``os.urandom``, drawn 512
    at a time)."""
    global _uuid_last
    with _uuid_lock:
        if not _uuid_random:
            _uuid_random.extend(_uuid_refill(_os.urandom(8 * 512)))
        random = _uuid_random.pop() >> 2
        stamp = _time.time_ns() // 1_000_000 << 12
        if stamp <= _uuid_last:
            stamp = _uuid_last + 1
        _uuid_last = stamp
    return "%08x-%04x-7%03x-%04x-%012x" % (
        stamp >> 28,
        stamp >> 12 & 0xFFFF,
        stamp & 0xFFF,
        0x8000 | random >> 48,
        random & 0xFFFFFFFFFFFF,
    )


def new_event(event_type, data=None, *, metadata=None, content_type=None, event_id=None):
    """An event with a fresh UUID v7 id (so appending the same value again is an idempotent retry).

    ``data`` is any JSON-serialisable value, or ``bytes`` with a ``content_type``; ``metadata`` a ``dict``.
    """
    metadata_text = None if metadata is None else _json.dumps(metadata)
    if isinstance(data, (bytes, bytearray)):
        if content_type is None:
            raise TypeError("binary data needs a content_type")
        payload = EventData.BINARY(content_type=content_type, bytes=bytes(data))
    else:
        payload = EventData.JSON(json=_json.dumps(data))
    event_id = _new_event_id() if event_id is None else str(event_id)
    return NewEvent(event_type=event_type, data=payload, metadata=metadata_text, event_id=event_id)


def json_event(event_type, json, metadata=None):
    """An event whose data is JSON text, with a fresh UUID v7 id (the generated function's, without an FFI call)."""
    return NewEvent(event_type=event_type, data=EventData.JSON(json=json), metadata=metadata, event_id=_new_event_id())


def binary_event(event_type, content_type, bytes, metadata=None):  # noqa: A002 - the generated function's name
    """An event whose data is raw bytes of ``content_type``, with a fresh UUID v7 id (without an FFI call)."""
    data = EventData.BINARY(content_type=content_type, bytes=bytes)
    return NewEvent(event_type=event_type, data=data, metadata=metadata, event_id=_new_event_id())


# The compact append (native/src/encoded.rs): little-endian, strings as u32 length + UTF-8.
_FORMAT = 1
_HEADER = _struct.Struct("<BBQI").pack  # format, expectation, version, stream length
_U32 = _struct.Struct("<I").pack
_EVENT = _struct.Struct("<BI").pack  # flags, event type length
_RESULT = _struct.Struct("<BQI").unpack_from  # already_appended, stream_version, count
_BINARY, _METADATA, _EVENT_ID = 1, 2, 4
_JSON_DATA, _BINARY_DATA = EventData.JSON, EventData.BINARY
_EXACT = ExpectedVersion.EXACT
_EXPECTATIONS = {ExpectedVersion.ANY: 0, ExpectedVersion.NO_STREAM: 1, ExpectedVersion.STREAM_EXISTS: 2}
# ForeignBytes carries an i32 length.
_MAX_PAYLOAD = 0x7FFFFFFF


def _encode_append(stream, events, expected):
    """The append as one ``bytes``, or ``None`` when an argument is not of the exact types the packer knows (the
    generated method then checks and converts it, raising its own errors)."""
    kind = type(expected)
    if kind is _EXACT:
        tag, version = 3, expected.version
    else:
        tag, version = _EXPECTATIONS.get(kind), 0
        if tag is None:
            return None
    if type(stream) is not str or type(events) is not list or type(version) is not int or not 0 <= version < 1 << 64:
        return None
    stream = stream.encode()
    parts = [_HEADER(_FORMAT, tag, version, len(stream)), stream, _U32(len(events))]
    for event in events:
        if type(event) is not NewEvent:
            return None
        event_type, data, metadata, event_id = event.event_type, event.data, event.metadata, event.event_id
        if type(event_type) is not str:
            return None
        flags = (0 if metadata is None else _METADATA) | (0 if event_id is None else _EVENT_ID)
        event_type = event_type.encode()
        kind = type(data)
        if kind is _JSON_DATA and type(data.json) is str:
            body = data.json.encode()
            parts += (_EVENT(flags, len(event_type)), event_type, _U32(len(body)), body)
        elif kind is _BINARY_DATA and type(data.content_type) is str and type(data.bytes) is bytes:
            content_type, body = data.content_type.encode(), data.bytes
            parts += (_EVENT(flags | _BINARY, len(event_type)), event_type, _U32(len(content_type)), content_type)
            parts += (_U32(len(body)), body)
        else:
            return None
        if metadata is not None:
            if type(metadata) is not str:
                return None
            metadata = metadata.encode()
            parts += (_U32(len(metadata)), metadata)
        if event_id is not None:
            if type(event_id) is not str:
                return None
            event_id = event_id.encode()
            parts += (_U32(len(event_id)), event_id)
    payload = b"".join(parts)
    return payload if len(payload) <= _MAX_PAYLOAD else None


def _decode_result(answer):
    already_appended, stream_version, count = _RESULT(answer)
    positions = list(_struct.unpack_from("<%dQ" % count, answer, 13))
    return AppendResult(stream_version=stream_version, positions=positions, already_appended=already_appended == 1)


_generated_append_to_stream = EventStore.append_to_stream
_POSITION_MASK = (1 << 38) - 1


def _append_to_stream(self, stream, events, expected):
    try:
        payload = _encode_append(stream, events, expected)
    except UnicodeEncodeError:
        payload = None  # a lone surrogate: the generated method raises its own error for it
    if payload is None:
        return _generated_append_to_stream(self, stream, events, expected)
    try:
        handle = self._eventlite_append_handle
    except AttributeError:
        handle = self._eventlite_append_handle = self.append_handle()
    packed = _append_encoded(handle, payload)
    if not packed:
        return _decode_result(take_append_result())
    # Bit 62 already_appended, bits 38-61 the stream version, bits 0-37 the first of consecutive positions.
    first = packed & _POSITION_MASK
    return AppendResult(
        stream_version=packed >> 38 & 0xFFFFFF,
        positions=[first] if len(events) == 1 else list(range(first, first + len(events))),
        already_appended=packed >> 62 & 1 == 1,
    )


_append_to_stream.__doc__ = _generated_append_to_stream.__doc__
EventStore.append_to_stream = _append_to_stream
EventStore.append_to_stream_generated = _generated_append_to_stream


def _json_data(self):
    """The event's JSON data as Python values (``ValueError`` for binary data)."""
    if not self.data.is_JSON():
        raise ValueError("event data is binary, not JSON")
    return _json.loads(self.data.json)


def _json_metadata(self):
    """The event's metadata as a ``dict`` (``None`` when absent)."""
    return None if self.metadata is None else _json.loads(self.metadata)


RecordedEvent.json = _json_data
RecordedEvent.metadata_json = _json_metadata


class _CallableHandler(EventHandler):
    def __init__(self, function):
        self._function = function

    def on_event(self, event):
        self._function(event)


def _handler(handler):
    return handler if isinstance(handler, EventHandler) else _CallableHandler(handler)


_subscribe_to_all = EventStore.subscribe_to_all
_subscribe_to_stream = EventStore.subscribe_to_stream


def _subscribe_all(self, options, handler):
    return _subscribe_to_all(self, options, _handler(handler))


def _subscribe_stream(self, stream, options, handler):
    return _subscribe_to_stream(self, stream, options, _handler(handler))


_subscribe_all.__doc__ = _subscribe_to_all.__doc__
_subscribe_stream.__doc__ = _subscribe_to_stream.__doc__
EventStore.subscribe_to_all = _subscribe_all
EventStore.subscribe_to_stream = _subscribe_stream


class _CallableSyncedHandler(SyncedHandler):
    def __init__(self, on_event, on_rewound):
        self._on_event = on_event
        self._on_rewound = on_rewound

    def on_event(self, event):
        self._on_event(event)

    def on_rewound(self, from_position):
        self._on_rewound(from_position)


_subscribe_synced_generated = EventStore.subscribe_synced


def _subscribe_synced(self, mode, options, handler, on_rewound=None):
    """Subscribes to a syncing store's log in ``mode``: ``SyncMode.CONFIRMED_ONLY`` delivers only events the server
    confirmed, ``SyncMode.INCLUDE_PENDING`` also pending ones, calling ``on_rewound(from_position)`` when a sync
    rewrites them (and, in both modes, ``on_rewound(0)`` after a server log reset). ``handler`` is a
    ``SyncedHandler``, or a callable taking each event together with ``on_rewound``. Delivered on a library
    thread."""
    if not isinstance(handler, SyncedHandler):
        if on_rewound is None:
            raise TypeError("subscribe_synced needs on_rewound: both modes can be rewound (a log reset)")
        handler = _CallableSyncedHandler(handler, on_rewound)
    return _subscribe_synced_generated(self, mode, options, handler)


EventStore.subscribe_synced = _subscribe_synced


class _JsonReducer(Reducer):
    def __init__(self, evolve):
        self._evolve = evolve

    def evolve(self, state, event):
        return _json.dumps(self._evolve(_json.loads(state), event))


def _aggregate(self, stream, initial, evolve, schema_tag=None):
    """Folds ``stream`` with ``evolve(state, event) -> state`` over Python values, starting from the snapshot saved
    under ``schema_tag`` (when given and present) or ``initial``. Returns ``(state, aggregate)``."""
    aggregate = self.aggregate_stream(stream, _json.dumps(initial), _JsonReducer(evolve), schema_tag)
    return _json.loads(aggregate.state), aggregate


EventStore.aggregate = _aggregate


def _to_sql(value):
    if value is None:
        return SqlValue.NULL()
    if isinstance(value, bool) or isinstance(value, int):
        return SqlValue.INTEGER(value=int(value))
    if isinstance(value, float):
        return SqlValue.REAL(value=value)
    if isinstance(value, str):
        return SqlValue.TEXT(value=value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return SqlValue.BLOB(value=bytes(value))
    if isinstance(value, SqlValue):
        return value
    raise TypeError(f"a query parameter must be None, int, float, str or bytes, not {type(value).__name__}")


def _from_sql(value):
    return None if value.is_NULL() else value.value


def _rows(result):
    return [dict(zip(result.columns, (_from_sql(value) for value in row))) for row in result.rows]


_register_projection_generated = EventStore.register_projection
_query_generated = EventStore.query
_watch_generated = EventStore.watch


def _register_projection(self, projection):
    """Registers a projection: a generated ``Projection`` record, or its portable form as a ``dict``
    (``{"name", "version", "setup", "handlers": [{"type", "statements"}], "confirmedOnly"}``)."""
    if isinstance(projection, dict):
        return self.register_projection_json(_json.dumps(projection))
    return _register_projection_generated(self, projection)


def _query(self, sql, params=None):
    """Runs one read-only SQL statement; rows as dicts of Python values. ``params``: a list (``?``) or a dict
    (``:name``)."""
    if isinstance(params, dict):
        return _rows(self.query_named(sql, {name: _to_sql(value) for name, value in params.items()}))
    return _rows(_query_generated(self, sql, [_to_sql(value) for value in params or []]))


class _CallableQueryHandler(QueryHandler):
    def __init__(self, function):
        self._function = function

    def on_rows(self, rows):
        self._function(_rows(rows))


def _watch(self, sql, callback, params=None):
    """Calls ``callback(rows)`` (dicts) now and after every commit that changed a table the query reads, on a
    library thread; returns the handle to ``stop()``."""
    handler = callback if isinstance(callback, QueryHandler) else _CallableQueryHandler(callback)
    return _watch_generated(self, sql, [_to_sql(value) for value in params or []], handler)


EventStore.register_projection = _register_projection
EventStore.query = _query
EventStore.query_rows = _query_generated
EventStore.watch = _watch
EventStore.watch_rows = _watch_generated
