"""The Python device of the cross-platform test: the `eventlite` wheel, driven one command per process.

    python device.py append <store> <server url> <token> '<operations>'
    python device.py sync   <store> <server url> <token>
    python device.py dump   <store> <server url> <token>

Operations come one per line, `stream TAB type TAB expectation TAB data as JSON` (expectation: `any`, `no_stream`,
`stream_exists` or a version). Each command prints one JSON line (shapes: tests/cross-platform/one-log.test.mjs). Every command opens the file
store, does its work and closes it: the store persists across processes, as an app's does across launches.
"""

import json
import sys

import eventlite
from eventlite import EventStore, ReadAllOptions, SyncOptions


def expectation(expected):
    named = {"any": eventlite.ANY, "no_stream": eventlite.NO_STREAM, "stream_exists": eventlite.STREAM_EXISTS}
    return named[expected] if expected in named else eventlite.exact(int(expected))


def append(store, operations):
    results = []
    for line in filter(None, operations.split("\n")):
        stream, event_type, expected, data = line.split("\t", 3)
        event = eventlite.new_event(event_type, json.loads(data))
        try:
            result = store.append_to_stream(stream, [event], expectation(expected))
            results.append({"ok": True, "version": result.stream_version})
        except eventlite.EventLiteError as error:
            results.append({"ok": False, "code": error.error_code()})
    return {"results": results}


def conflicts_of(conflicts):
    return [{"eventId": c.event_id, "stream": c.stream, "code": c.code} for c in conflicts]


def sync(store, url, token):
    report = store.sync_once(SyncOptions(url=url, token=token))
    return {"pushed": report.pushed, "pulled": report.pulled, "conflicts": conflicts_of(report.conflicts)}


def dump(store):
    log, after = [], None
    while True:
        page = store.read_all(ReadAllOptions(from_position=after, max_count=1000))
        if not page.events:
            break
        log += [
            {"eventId": e.event_id, "stream": e.stream, "version": e.version, "type": e.event_type} for e in page.events
        ]
        after = page.events[-1].position
    status = store.sync_status()
    return {"log": log, "conflicts": conflicts_of(store.sync_conflicts()), "pending": status.pending}


def main(argv):
    command, path, url, token = argv[1:5]
    store = EventStore.open(path)
    try:
        if command == "append":
            answer = append(store, argv[5])
        elif command == "sync":
            answer = sync(store, url, token)
        elif command == "dump":
            answer = dump(store)
        else:
            raise SystemExit(f"unknown command {command}")
    finally:
        store.close()
    print(json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv)
