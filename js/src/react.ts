/**
 * `eventlite/react`: watched queries as React state. {@link useQuery} runs a read-only query over the read models
 * (`docs/projections.md`) and re-renders with fresh rows after each commit that changed a table it reads (a local
 * append, another tab's, a sync pull or rebase), through `useSyncExternalStore`. Components rendering the same
 * query on the same store share one watch; it stops when the last of them unmounts.
 *
 * ```js
 * import { EventStoreProvider, useQuery } from 'eventlite/react';
 *
 * function Todos() {
 *   const { rows = [], error } = useQuery('SELECT id, title FROM todos WHERE done = ?', [0]);
 *   if (error) return <p>{error.message}</p>;
 *   return <ul>{rows.map((todo) => <li key={todo.id}>{todo.title}</li>)}</ul>;
 * }
 * root.render(<EventStoreProvider store={store}><Todos /></EventStoreProvider>);
 * ```
 *
 * React (18 or later) is a peer dependency of this entry point only.
 */

import { createContext, createElement, useContext, useMemo, useSyncExternalStore, type ReactNode } from 'react';

import { EventLiteError, toEventLiteError, toErrorShape } from './common/errors.js';
import type { EventType, Row, SqlParams } from './common/types.js';
import type { EventStore } from './page/store.js';
import type { Watch } from './page/watch.js';

// Any store, whatever its events: read models do not depend on the event union.
type AnyStore = EventStore<EventType>;

const StoreContext = createContext<AnyStore | null>(null);

/** Props of {@link EventStoreProvider}. */
export interface EventStoreProviderProps {
  /** The open store (`await openEventStore(...)`); `null` while it opens (queries report `loading`). */
  store: AnyStore | null;
  children?: ReactNode;
}

/** Makes `store` the one {@link useEventStore} and {@link useQuery} use below it. */
export function EventStoreProvider({ store, children }: EventStoreProviderProps): ReactNode {
  return createElement(StoreContext.Provider, { value: store }, children);
}

/** The store of the nearest {@link EventStoreProvider}; throws when there is none (or it is still `null`). */
export function useEventStore<E extends EventType = EventType>(): EventStore<E> {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useEventStore: no <EventStoreProvider store={...}> with an open store above this component');
  return store as unknown as EventStore<E>;
}

/** What {@link useQuery} returns. Each change is a new object; unchanged state is the same object. */
export interface QueryState<R = Row> {
  /** The latest rows; `undefined` until the first answer (and when the query failed before any). */
  rows: R[] | undefined;
  /** The latest result's column names. */
  columns: string[] | undefined;
  /** No answer yet (the store is opening, or the watch has not answered). */
  loading: boolean;
  /**
   * Why the query failed: `INVALID_ARGUMENT` (bad SQL, a statement that writes), `PROJECTION_FAILED` (a pulled
   * event made a projection it reads fail; cleared when a new version answers). `rows` keeps the last answer.
   */
  error: EventLiteError | undefined;
}

/** Options of {@link useQuery}'s context form. */
export interface UseQueryOptions {
  /** The store to query instead of the provider's. */
  store?: AnyStore | null;
}

const LOADING: QueryState<never> = Object.freeze({ rows: undefined, columns: undefined, loading: true, error: undefined });

/** One watched query shared by the components that render it, started by the first and stopped by the last. */
class LiveQuery {
  #state: QueryState<unknown> = LOADING;
  readonly #listeners = new Set<() => void>();
  #watch: Promise<Watch<unknown> | undefined> | undefined;

  constructor(
    private readonly store: AnyStore,
    private readonly sql: string,
    private readonly params: SqlParams | undefined,
    private readonly forget: () => void,
  ) {}

  readonly getSnapshot = (): QueryState<unknown> => this.#state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  };

  #set(state: QueryState<unknown>): void {
    this.#state = state;
    for (const listener of [...this.#listeners]) listener();
  }

  #start(): void {
    const current = (): boolean => this.#watch === opened;
    const opened: Promise<Watch<unknown> | undefined> = this.store
      .watch<unknown>(
        this.sql,
        this.params,
        (rows, columns) => {
          if (current()) this.#set({ rows, columns, loading: false, error: undefined });
        },
        {
          onError: (error) => {
            if (current()) this.#set({ ...this.#state, loading: false, error: asError(error) });
          },
        },
      )
      .catch((error: unknown) => {
        if (current()) this.#set({ ...this.#state, loading: false, error: asError(error) });
        return undefined;
      });
    this.#watch = opened;
  }

  #stop(): void {
    const opened = this.#watch;
    this.#watch = undefined;
    this.forget();
    void opened?.then((watch) => watch?.stop()).catch(() => {
      // The store closed meanwhile: its watches are gone with it.
    });
  }
}

function asError(error: unknown): EventLiteError {
  return error instanceof EventLiteError ? error : toEventLiteError(toErrorShape(error));
}

/** The live queries of each store, by query and parameters, so equal queries share one watch. */
const live = new WeakMap<AnyStore, Map<string, LiveQuery>>();

function liveQuery(store: AnyStore, sql: string, params: SqlParams | undefined, key: string): LiveQuery {
  let queries = live.get(store);
  if (!queries) live.set(store, (queries = new Map()));
  const existing = queries.get(key);
  if (existing) return existing;
  const query: LiveQuery = new LiveQuery(store, sql, params, () => {
    if (queries.get(key) === query) queries.delete(key);
  });
  queries.set(key, query);
  return query;
}

/** A key equal for equal parameters (bigints and byte arrays included), so re-renders keep their watch. */
function keyOf(sql: string, params: SqlParams | undefined): string {
  const encoded = JSON.stringify(params ?? null, (_key, value: unknown) => {
    if (typeof value === 'bigint') return { bigint: value.toString() };
    if (value instanceof Uint8Array) return { bytes: Array.from(value) };
    if (value === undefined) return null;
    return value;
  });
  return `${sql}\u0000${encoded}`;
}

const idle = (): (() => void) => () => {};
const loading = (): QueryState<never> => LOADING;

/**
 * Watches a read-only query on the provider's store (or `options.store`): the component re-renders with fresh rows
 * after each commit that changed a table the query reads. Equal `params` across renders keep the same watch.
 */
export function useQuery<R = Row>(sql: string, params?: SqlParams, options?: UseQueryOptions): QueryState<R>;
/** Watches a read-only query on `store` (`null` while it opens: `loading`). */
export function useQuery<R = Row>(store: AnyStore | null | undefined, sql: string, params?: SqlParams): QueryState<R>;
export function useQuery<R = Row>(...args: unknown[]): QueryState<R> {
  const provided = useContext(StoreContext);
  let store: AnyStore | null | undefined;
  let sql: string;
  let params: SqlParams | undefined;
  if (typeof args[0] === 'string') {
    [sql, params] = args as [string, SqlParams | undefined];
    const options = args[2] as UseQueryOptions | undefined;
    store = options && 'store' in options ? options.store : provided;
  } else {
    [store, sql, params] = args as [AnyStore | null | undefined, string, SqlParams | undefined];
  }
  const key = keyOf(sql, params);
  // `key` stands for sql and params: equal values in a new array or object keep the same watch.
  const query = useMemo(() => (store ? liveQuery(store, sql, params, key) : undefined), [store, key]);
  const state = useSyncExternalStore(
    query?.subscribe ?? idle,
    query?.getSnapshot ?? loading,
    query?.getSnapshot ?? loading,
  );
  return state as QueryState<R>;
}
