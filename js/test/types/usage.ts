// Type-checks typical use of the package's published declarations under `strict` (run: tsc -p test/types).
// Lines marked @ts-expect-error must fail to compile: the types reject them.
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  EventLiteError,
  WrongExpectedVersionError,
  openEventStore,
  ProjectionFailedError,
  type AppendResult,
  type ProjectionDefinition,
  type ProjectionFailure,
  type ProjectionStatus,
  type QueryResult,
  type Row,
  type Watch,
  type EventStore,
  type RecordedEvent,
  type StorageMode,
  type Subscription,
} from 'eventlite';
import { EventStoreProvider, useEventStore, useQuery, type QueryState } from 'eventlite/react';

interface Placed {
  total: number;
}

/** An app's events: a discriminated union of { type, data }. */
type OrderEvent =
  | { type: 'Placed'; data: Placed }
  | { type: 'Paid'; data: { amount: number; currency: 'EUR' | 'USD' } }
  | { type: 'Cancelled'; data: null };

export async function usage(): Promise<void> {
  const store: EventStore = await openEventStore({ name: 'app', storage: 'auto', synchronous: 'normal' });
  const mode: StorageMode = store.storageMode;
  const result: AppendResult = await store.appendToStream('order-1', [{ type: 'Placed', data: { total: 42 } }], {
    expectedVersion: NO_STREAM,
  });
  const ids: string[] = result.eventIds;
  await store.appendToStream('order-1', [{ type: 'Paid', data: null, metadata: { correlationId: 'c' } }], {
    expectedVersion: result.streamVersion,
  });
  await store.appendToStream('order-1', [], { expectedVersion: 2n });
  await store.appendToStream('order-1', [], { expectedVersion: ANY });
  await store.appendToStream('order-1', [{ type: 'Photo', data: new Uint8Array(1), contentType: 'image/png' }], {
    expectedVersion: STREAM_EXISTS,
  });

  const { events, version } = await store.readStream<{ type: 'Placed'; data: Placed }>('order-1', {
    direction: 'backwards',
    maxCount: 10,
  });
  const total: number | undefined = events[0]?.data.total;
  const page = await store.readAll({ after: 0, filter: { categories: ['order'], eventTypes: ['Placed'] } });
  await store.readStream('order-1', { before: 3 });
  const head: number = page.headPosition;

  const subscription: Subscription = await store.subscribeToAll(
    { from: 'start', filter: { categories: ['order'] }, name: 'projector', onError: (error) => console.log(error) },
    (event: RecordedEvent) => {
      console.log(event.position, event.type);
    },
  );
  await store.subscribeToStream('order-1', async (event) => {
    await Promise.resolve(event.version);
  });
  await subscription.unsubscribe();

  await store.saveSnapshot('order-1', { version, state: { total: 42 }, schemaTag: 'v1' });
  await store.subscribeToAll({ after: head }, () => {});
  const snapshot = await store.loadSnapshot<Placed>('order-1', { schemaTag: 'v1' });
  const fromSnapshot: number | undefined = snapshot?.state.total;
  const aggregate = await store.aggregateStream<number, { type: 'Placed'; data: Placed }>('order-1', {
    initial: 0,
    evolve: (sum, event) => sum + event.data.total,
    schemaTag: 'v1',
  });
  const state: number = aggregate.state;
  const snapshotVersion: number | null = aggregate.snapshotVersion;

  try {
    await store.appendToStream('order-1', [{ type: 'Placed', data: {} }], { expectedVersion: NO_STREAM });
  } catch (error) {
    if (error instanceof WrongExpectedVersionError) {
      const actual: number = error.actual;
      const expected: 'any' | 'no_stream' | 'stream_exists' | number = error.expected;
      console.log(actual, expected);
    } else if (error instanceof EventLiteError) {
      const code: string = error.code;
      console.log(code);
    }
  }

  // @ts-expect-error: a name or a path is required
  await openEventStore({});
  const file = await openEventStore({ path: 'app.db' });
  const fileMode: StorageMode = file.storageMode;
  console.log(fileMode === 'file');
  // @ts-expect-error: the path is a string
  await openEventStore({ path: 42 });
  await openEventStore({ path: 'app.db', busyTimeoutMs: 1000, storage: 'auto' });
  // @ts-expect-error: a path is always a file: no storage mode but 'auto'
  await openEventStore({ path: 'app.db', storage: 'memory' });
  // @ts-expect-error: busyTimeoutMs is for file stores
  await openEventStore({ name: 'app', busyTimeoutMs: 1000 });
  // @ts-expect-error: unknown storage mode
  await openEventStore({ name: 'app', storage: 'disk' });
  // @ts-expect-error: expectations are constants or versions
  await store.appendToStream('order-1', [], { expectedVersion: 'sometimes' });
  // @ts-expect-error: an event needs a type
  await store.appendToStream('order-1', [{ data: 1 }]);
  // @ts-expect-error: directions are 'forwards' or 'backwards'
  await store.readStream('order-1', { direction: 'sideways' });

  await store.close();
  console.log(mode, ids, total, head, fromSnapshot, state, snapshotVersion, result.version);
}

/** A store typed by the app's events: appends, reads, subscriptions and folds without casts. */
export async function typedEvents(): Promise<void> {
  const store = await openEventStore<OrderEvent>({ name: 'orders' });
  await store.appendToStream('order-1', [
    { type: 'Placed', data: { total: 42 } },
    { type: 'Paid', data: { amount: 42, currency: 'EUR' }, metadata: { correlationId: 'c' } },
  ]);
  const describe = (event: RecordedEvent<OrderEvent>): string => {
    switch (event.type) {
      case 'Placed':
        return `placed ${event.data.total}`; // narrowed: data is Placed
      case 'Paid':
        return `paid ${event.data.amount} ${event.data.currency}`;
      case 'Cancelled': {
        const none: null = event.data;
        return `cancelled ${none}`;
      }
    }
  };
  const { events } = await store.readStream('order-1');
  console.log(events.map(describe));
  const page = await store.readAll({ after: 0 });
  console.log(page.events.map(describe));
  await store.subscribeToAll((event) => console.log(describe(event)));
  await store.subscribeToStream('order-1', { after: 0 }, async (event) => {
    if (event.type === 'Paid') console.log(event.data.currency);
  });
  const { state } = await store.aggregateStream('order-1', {
    initial: { total: 0, paid: 0 },
    evolve: (sum, event) =>
      event.type === 'Placed' ? { ...sum, total: event.data.total } : event.type === 'Paid' ? { ...sum, paid: event.data.amount } : sum,
  });
  const paid: number = state.paid;
  const sync = await store.sync({ url: 'https://sync.example.com', token: 't', online: false });
  await sync.subscribe({ mode: 'pending' }, (event) => console.log(describe(event)));

  // @ts-expect-error: a payload that does not match its type's data fails to compile
  await store.appendToStream('order-1', [{ type: 'Placed', data: { total: '42' } }]);
  // @ts-expect-error: Paid needs a currency
  await store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 1 } }]);
  // @ts-expect-error: an event type the app does not have
  await store.appendToStream('order-1', [{ type: 'Shipped', data: null }]);
  await store.subscribeToAll((event) => {
    // @ts-expect-error: data is not narrowed before checking the type
    console.log(event.data.total);
  });
  console.log(paid);
}

/** Read models: definitions, typed rows, watches, their errors. */
export async function readModels(store: EventStore): Promise<void> {
  const definition: ProjectionDefinition = {
    name: 'todos',
    version: 1,
    setup: 'CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)',
    handlers: [{ type: 'TodoAdded', statements: ["INSERT INTO todos (id, title) VALUES (:stream, :data ->> '$.title')"] }],
  };
  const status: ProjectionStatus = await store.registerProjection(definition);
  const through: number = status.appliedThrough;
  type Todo = { id: string; title: string; done: number };
  const todos: Todo[] = await store.query<Todo>('SELECT id, title, done FROM todos WHERE done = ?', [0]);
  const titles: string[] = todos.map((todo) => todo.title);
  const untyped: Row[] = await store.query('SELECT count(*) AS n FROM todos WHERE id = :id', { id: 'todo-1', flag: true });
  const { columns, rows }: QueryResult<Todo> = await store.queryRows<Todo>('SELECT * FROM todos');
  const watch: Watch<Todo> = await store.watch<Todo>('SELECT * FROM todos', undefined, (fresh) => {
    const first: Todo | undefined = fresh[0];
    console.log(first?.title);
  });
  await store.watch('SELECT count(*) AS n FROM todos', (fresh: Row[]) => console.log(fresh.length), {
    onError: (error) => console.log(error instanceof ProjectionFailedError ? error.projection : error),
  });
  const latest: Todo[] | undefined = watch.rows;
  await watch.stop();
  try {
    await store.appendToStream('todo-1', [{ type: 'TodoAdded', data: { title: '' } }]);
  } catch (error) {
    if (error instanceof ProjectionFailedError) console.log(error.projection, error.index, error.position);
  }
  const sync = await store.sync({ url: 'https://sync.example.com', token: 't', onProjectionFailed: (f) => console.log(f.name) });
  const failed: ProjectionFailure[] = sync.status.failedProjections;
  // @ts-expect-error: a handler's statements are a list
  await store.registerProjection({ name: 'x', version: 1, setup: '', handlers: [{ statements: 'DELETE' }] });
  // @ts-expect-error: parameters are SQL values
  await store.query('SELECT ?', [{ nested: true }]);
  console.log(through, titles, untyped, columns, rows, latest, failed);
}

/** `eventlite/react`: both forms of useQuery, the provider, typed state. */
export function ReactUsage({ store }: { store: EventStore | null }): unknown {
  const todos: QueryState<{ id: string; title: string }> = useQuery<{ id: string; title: string }>(
    store,
    'SELECT id, title FROM todos WHERE done = ?',
    [0],
  );
  const count = useQuery<{ n: number }>('SELECT count(*) AS n FROM todos', undefined, { store });
  const titles: string[] = (todos.rows ?? []).map((todo) => todo.title);
  const failed: string | undefined = count.error?.code;
  // @ts-expect-error: the SQL comes before the parameters
  useQuery(store, [0], 'SELECT 1');
  return EventStoreProvider({ store, children: [titles.join(), failed, count.loading, useEventStore().name] });
}
