// A second process for file.test.mjs, over the installed package. Prints one JSON line per acknowledged call on fd 1
// (written synchronously, so a line printed is a line the parent sees even if this process is killed next).
//   node child.mjs append-loop PATH        batches of 3 events until killed; prints {ack: batch, ids, positions}
//   node child.mjs contend PATH STREAM N   prints {ready} once open, waits for a line on stdin (the parent's
//                                          barrier, so that the writers start together), then N single-event
//                                          appends with exact expectations; prints each ack and each conflict,
//                                          then {done}
//   node child.mjs append PATH STREAM N    N single-event appends, one call each, then exits
//   node child.mjs subscribe PATH          subscribes from the end, prints {subscribed}, then {seen} per event, and
//                                          does nothing else: it keeps running only while the subscription is open
import { writeSync } from 'node:fs';
import { once } from 'node:events';

import { openEventStore, WrongExpectedVersionError } from 'eventlite';

const [mode, path, stream, count] = process.argv.slice(2);
const say = (value) => writeSync(1, `${JSON.stringify(value)}\n`);
const store = await openEventStore({ path });

if (mode === 'append-loop') {
  for (let batch = 0; ; batch++) {
    const tag = `${process.pid}-${batch}`;
    const events = [0, 1, 2].map((part) => ({ type: 'Part', data: { tag, part } }));
    const result = await store.appendToStream(`loop-${batch % 5}`, events);
    say({ ack: tag, ids: result.eventIds, positions: result.positions });
  }
} else if (mode === 'contend') {
  say({ ready: true });
  await once(process.stdin, 'data');
  process.stdin.destroy();
  let successes = 0;
  let conflicts = 0;
  while (successes < Number(count)) {
    const expected = await store.streamVersion(stream);
    try {
      const result = await store.appendToStream(stream, [{ type: 'Counted', data: { by: process.pid } }], {
        expectedVersion: expected,
      });
      successes += 1;
      say({ ack: result.eventIds[0], expected, version: result.version });
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      conflicts += 1;
      say({ conflict: true, expected: error.expected, actual: error.actual, code: error.code });
    }
  }
  say({ done: true, successes, conflicts });
} else if (mode === 'append') {
  for (let n = 0; n < Number(count); n++) {
    const result = await store.appendToStream(stream, [{ type: 'FromChild', data: { n } }]);
    say({ ack: result.eventIds[0], position: result.positions[0] });
  }
} else if (mode === 'subscribe') {
  await store.subscribeToAll({ from: 'end' }, (event) => say({ seen: event.eventId, stream: event.stream }));
  say({ subscribed: true });
} else {
  throw new Error(`unknown mode ${mode}`);
}
if (mode !== 'subscribe') await store.close();
