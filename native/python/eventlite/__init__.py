"""EventLite: an embedded event store on SQLite, with sync.

Everything from the generated UniFFI module (``EventStore``, ``NewEvent``, ``EventLiteError``, ...) is re-exported
here, plus a few conveniences that use Python's own types: ``ANY`` / ``NO_STREAM`` / ``STREAM_EXISTS`` / ``exact(n)``,
``new_event(type, data)`` taking any JSON-serialisable value (or ``bytes``), ``RecordedEvent.json()``, plain
callables as subscription handlers, and ``EventStore.aggregate`` folding Python values.

    import eventlite
    store = eventlite.EventStore.open("app.db")
    store.append_to_stream("order-1", [eventlite.new_event("Placed", {"total": 42})], eventlite.NO_STREAM)
    for event in store.read_stream("order-1", eventlite.ReadStreamOptions()).events:
        print(event.version, event.event_type, event.json())
"""

import json as _json

from ._native import *  # noqa: F401,F403
from ._native import (
    EventData,
    EventHandler,
    EventLiteError,
    EventStore,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    Reducer,
    SyncListener,
    binary_event,
    json_event,
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


def new_event(event_type, data=None, *, metadata=None, content_type=None, event_id=None):
    """An event with a fresh UUID v7 id (so appending the same value again is an idempotent retry).

    ``data`` is any JSON-serialisable value, or ``bytes`` with a ``content_type``; ``metadata`` a ``dict``.
    """
    metadata_text = None if metadata is None else _json.dumps(metadata)
    if isinstance(data, (bytes, bytearray)):
        if content_type is None:
            raise TypeError("binary data needs a content_type")
        event = binary_event(event_type, content_type, bytes(data), metadata_text)
    else:
        event = json_event(event_type, _json.dumps(data), metadata_text)
    if event_id is not None:
        event.event_id = str(event_id)
    return event


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
