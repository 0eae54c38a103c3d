// A tenant's log in its Durable Object's SQLite storage: the only code that knows the tables' columns. The wasm
// (crate eventlite-edge-wasm) calls these methods, synchronously, while it decides a push or pages a pull.

/** The version of the tables below; `migrate` brings older storage forward. */
const SCHEMA_VERSION = 1;

/** A stored event, with the property names the wasm's `StoredEvent` reads. */
export interface StoredEvent {
  position: number;
  event_id: string;
  stream: string;
  version: number;
  event_type: string;
  content_type: string | undefined;
  data: Uint8Array;
  metadata: string | undefined;
  recorded_at: number;
}

type Row = Record<string, SqlStorageValue>;

const COLUMNS = "position, event_id, stream, version, event_type, content_type, data, metadata, recorded_at";

function toEvent(row: Row): StoredEvent {
  const data = row.data;
  return {
    position: Number(row.position),
    event_id: String(row.event_id),
    stream: String(row.stream),
    version: Number(row.version),
    event_type: String(row.event_type),
    content_type: row.content_type === null ? undefined : String(row.content_type),
    data: data instanceof ArrayBuffer ? new Uint8Array(data) : new TextEncoder().encode(String(data)),
    metadata: row.metadata === null ? undefined : String(row.metadata),
    recorded_at: Number(row.recorded_at),
  };
}

export class LogStorage {
  private page: SqlStorageCursor<Row> | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** Creates the tables if missing. Positions are never reused: events are never deleted. */
  migrate(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const stored = this.sql.exec(`SELECT value FROM meta WHERE key = 'schema_version'`).toArray()[0];
    if (stored === undefined) {
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS events (
          position     INTEGER PRIMARY KEY,
          event_id     TEXT    NOT NULL UNIQUE,
          stream       TEXT    NOT NULL,
          version      INTEGER NOT NULL CHECK (version >= 1),
          event_type   TEXT    NOT NULL,
          content_type TEXT,
          data         BLOB    NOT NULL,
          metadata     TEXT,
          recorded_at  INTEGER NOT NULL,
          UNIQUE (stream, version)
        )`);
      this.sql.exec(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`, String(SCHEMA_VERSION));
    } else if (Number(stored.value) > SCHEMA_VERSION) {
      throw new Error(`the storage's schema version ${String(stored.value)} is newer than this Worker's`);
    }
  }

  /** The log's identity: a random UUID created with the log, kept with its data. */
  logId(): string {
    const row = this.sql.exec(`SELECT value FROM meta WHERE key = 'log_id'`).toArray()[0];
    if (row !== undefined) return String(row.value);
    const id = crypto.randomUUID();
    this.sql.exec(`INSERT INTO meta (key, value) VALUES ('log_id', ?)`, id);
    return id;
  }

  head(): number {
    const row = this.sql.exec(`SELECT coalesce(max(position), 0) AS head FROM events`).one();
    return Number(row.head);
  }

  eventAt(position: number): StoredEvent | undefined {
    const row = this.sql.exec(`SELECT ${COLUMNS} FROM events WHERE position = ?`, position).toArray()[0];
    return row === undefined ? undefined : toEvent(row);
  }

  eventById(eventId: string): StoredEvent | undefined {
    const row = this.sql.exec(`SELECT ${COLUMNS} FROM events WHERE event_id = ?`, eventId).toArray()[0];
    return row === undefined ? undefined : toEvent(row);
  }

  streamVersion(stream: string): number {
    // A backward probe of UNIQUE (stream, version).
    const row = this.sql.exec(`SELECT coalesce(max(version), 0) AS version FROM events WHERE stream = ?`, stream).one();
    return Number(row.version);
  }

  insert(
    position: number,
    eventId: string,
    stream: string,
    version: number,
    eventType: string,
    contentType: string | undefined,
    data: Uint8Array,
    metadata: string | undefined,
    recordedAt: number,
  ): void {
    // `data` is a view of the wasm's memory: copied before anything else runs.
    this.sql.exec(
      `INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      position,
      eventId,
      stream,
      version,
      eventType,
      contentType ?? null,
      data.slice().buffer,
      metadata ?? null,
      recordedAt,
    );
  }

  openPage(after: number, limit: number): void {
    this.page = this.sql.exec<Row>(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`, after, limit);
  }

  nextEvent(): StoredEvent | undefined {
    const next = this.page?.next();
    if (next === undefined || next.done === true) {
      this.page = undefined;
      return undefined;
    }
    return toEvent(next.value);
  }
}
