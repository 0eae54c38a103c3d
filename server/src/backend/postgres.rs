//! The PostgreSQL backend: every tenant in one pair of tables, in a schema of its own (one database can hold several
//! deployments or test runs).
//!
//! Positions are per tenant and assigned under the tenant row's lock (`SELECT head ... FOR UPDATE`), which is held to
//! commit: a push can only take positions after the previous push of that tenant committed, so positions become
//! visible in commit order and a puller reading `position > cursor` never skips an event (sequence values, by
//! contrast, are visible out of order). Each push ends with `pg_notify`, delivered at commit to every server process
//! that `LISTEN`s on the schema's channel: that is how a client connected to one process sees pushes made through
//! another.
//!
//! Each tenant's log has an identity, `tenants.log_id`: a random UUID created with the tenant's row, by its first
//! push or pull. Two processes creating it at once both insert under the row's unique key, so one insert wins and
//! the other reads the winner's identity. A push's cursor is checked under the tenant row's lock, in the push's
//! transaction, before anything is stored.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use eventlite::sync::server::{
    Limits, PullPage, PushRules, StoredEvent, StoredMatch, Verdict, same_event, validate_push,
};
use eventlite::sync::{PushOutcome, PushRequest, PushResponse, ServerEvent};
use eventlite::{EventData, RecordedEvent};
use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, NoTls};
use uuid::Uuid;

use crate::auth::Tenant;
use crate::backend::{Backend, BackendError, Pulled};
use crate::cursor::{Cursor, EventMark};
use crate::live::Hub;

/// The PostgreSQL backend.
pub struct PostgresBackend {
    pool: Pool,
    url: String,
    schema: String,
}

fn unavailable(error: impl std::fmt::Display) -> BackendError {
    BackendError::Unavailable(format!("postgres: {error}"))
}

fn db_error(error: tokio_postgres::Error) -> BackendError {
    if error.is_closed() || error.as_db_error().is_none() {
        unavailable(error)
    } else {
        BackendError::Internal(format!("postgres: {error}"))
    }
}

impl PostgresBackend {
    /// Connects to `url` (e.g. `postgres://postgres@127.0.0.1:5432/test`) and creates `schema` and its tables if
    /// missing. `schema`: lowercase letters, digits and `_`, starting with a letter or `_`.
    pub async fn connect(url: &str, schema: &str) -> Result<PostgresBackend, BackendError> {
        let valid = !schema.is_empty()
            && schema.len() <= 48
            && schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !schema.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(BackendError::Internal(format!("invalid schema name {schema:?}")));
        }
        let config: tokio_postgres::Config = url.parse().map_err(unavailable)?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(16).build().map_err(unavailable)?;
        let backend = PostgresBackend { pool, url: url.to_owned(), schema: schema.to_owned() };
        backend.migrate().await?;
        Ok(backend)
    }

    fn channel(&self) -> String {
        format!("eventlite_{}", self.schema)
    }

    async fn migrate(&self) -> Result<(), BackendError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        let s = &self.schema;
        // Two processes starting at once must not race on CREATE ... IF NOT EXISTS.
        client.execute("SELECT pg_advisory_lock(hashtext('eventlite-migrate'))", &[]).await.map_err(db_error)?;
        let result = client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {s};
                 CREATE TABLE IF NOT EXISTS {s}.tenants (
                     tenant TEXT PRIMARY KEY,
                     head   BIGINT NOT NULL DEFAULT 0,
                     log_id UUID
                 );
                 -- Schemas made before logs had identities: their tenants get one on first use.
                 ALTER TABLE {s}.tenants ADD COLUMN IF NOT EXISTS log_id UUID;
                 CREATE TABLE IF NOT EXISTS {s}.events (
                     tenant       TEXT   NOT NULL,
                     position     BIGINT NOT NULL,
                     event_id     UUID   NOT NULL,
                     stream       TEXT   NOT NULL,
                     version      BIGINT NOT NULL CHECK (version >= 1),
                     event_type   TEXT   NOT NULL,
                     content_type TEXT,
                     data         BYTEA  NOT NULL,
                     metadata     TEXT,
                     recorded_at  BIGINT NOT NULL,
                     PRIMARY KEY (tenant, position),
                     UNIQUE (tenant, event_id),
                     UNIQUE (tenant, stream, version)
                 );"
            ))
            .await
            .map_err(db_error);
        client.execute("SELECT pg_advisory_unlock(hashtext('eventlite-migrate'))", &[]).await.map_err(db_error)?;
        result
    }

    /// Drops the schema and everything in it (tests).
    pub async fn drop_schema(&self) -> Result<(), BackendError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)).await.map_err(db_error)
    }
}

struct Stored {
    position: i64,
    version: i64,
    stream: String,
    event_type: String,
    content_type: Option<String>,
    data: Vec<u8>,
    metadata: Option<String>,
}

fn split_data(data: &EventData) -> (Option<String>, Vec<u8>) {
    match data {
        EventData::Json(text) => (None, text.as_bytes().to_vec()),
        EventData::Binary { content_type, bytes } => (Some(content_type.clone()), bytes.clone()),
    }
}

/// A stored row's data: JSON text when it has no content type (`None` if that text is not UTF-8), else binary.
fn stored_data(content_type: Option<String>, bytes: Vec<u8>) -> Option<EventData> {
    match content_type {
        None => String::from_utf8(bytes).ok().map(EventData::Json),
        Some(content_type) => Some(EventData::Binary { content_type, bytes }),
    }
}

fn now_millis() -> i64 {
    let elapsed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn push(
        &self,
        tenant: &Tenant,
        request: PushRequest,
        limits: Limits,
        after: Option<&Cursor>,
    ) -> Result<(PushResponse, u64), BackendError> {
        let events = validate_push(&request, &limits)?;
        let s = &self.schema;
        let tenant = tenant.as_str();
        let mut client = self.pool.get().await.map_err(unavailable)?;
        let transaction = client.transaction().await.map_err(db_error)?;
        let new_log_id = Uuid::new_v4();
        transaction
            .execute(
                &statement(
                    &transaction,
                    &format!("INSERT INTO {s}.tenants (tenant, log_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"),
                )
                .await?,
                &[&tenant, &new_log_id],
            )
            .await
            .map_err(db_error)?;
        let after_position = after.map_or(0, |cursor| i64::try_from(cursor.position()).unwrap_or(i64::MAX));
        let row = transaction
            .query_one(
                &statement(
                    &transaction,
                    &format!(
                        "SELECT t.head, t.log_id, e.event_id, e.recorded_at
                         FROM {s}.tenants t LEFT JOIN {s}.events e ON e.tenant = t.tenant AND e.position = $2
                         WHERE t.tenant = $1 FOR UPDATE OF t"
                    ),
                )
                .await?,
                &[&tenant, &after_position],
            )
            .await
            .map_err(db_error)?;
        let head: i64 = row.get(0);
        let log_id = match row.get::<_, Option<Uuid>>(1) {
            Some(log_id) => log_id,
            None => {
                // A row from before logs had identities; the row lock makes this the only writer of it.
                transaction
                    .execute(
                        &statement(&transaction, &format!("UPDATE {s}.tenants SET log_id = $2 WHERE tenant = $1"))
                            .await?,
                        &[&tenant, &new_log_id],
                    )
                    .await
                    .map_err(db_error)?;
                new_log_id
            }
        };
        if let Some(after) = after {
            // Nothing is stored: the transaction rolls back when dropped.
            after.verify(tenant, log_id, event_mark(&row, 2))?;
        }
        let ids: Vec<Uuid> = request.events.iter().map(|event| event.event_id).collect();
        let mut stored: HashMap<Uuid, Stored> = HashMap::new();
        for row in transaction
            .query(
                &statement(
                    &transaction,
                    &format!(
                        // A join on the unnested ids probes `UNIQUE (tenant, event_id)` once per id.
                        "SELECT e.event_id, e.position, e.version, e.stream, e.event_type, e.content_type, e.data,
                                e.metadata
                         FROM unnest($2::uuid[]) AS i (id) JOIN {s}.events e ON e.tenant = $1 AND e.event_id = i.id"
                    ),
                )
                .await?,
                &[&tenant, &ids],
            )
            .await
            .map_err(db_error)?
        {
            stored.insert(
                row.get(0),
                Stored {
                    position: row.get(1),
                    version: row.get(2),
                    stream: row.get(3),
                    event_type: row.get(4),
                    content_type: row.get(5),
                    data: row.get(6),
                    metadata: row.get(7),
                },
            );
        }
        let streams: Vec<&str> =
            request.events.iter().map(|e| e.stream.as_str()).collect::<HashSet<_>>().into_iter().collect();
        let mut versions: HashMap<String, u64> = HashMap::new();
        for row in transaction
            .query(
                &statement(
                    &transaction,
                    &format!(
                    // One backward index probe per stream (a GROUP BY over `stream = ANY(..)` scans every row
                    // of those streams: 40x slower on 50k events).
                    "SELECT s.stream, (SELECT e.version FROM {s}.events e WHERE e.tenant = $1 AND e.stream = s.stream
                                       ORDER BY e.version DESC LIMIT 1)
                     FROM unnest($2::text[]) AS s (stream)"
                ),
                )
                .await?,
                &[&tenant, &streams],
            )
            .await
            .map_err(db_error)?
        {
            if let Some(version) = row.get::<_, Option<i64>>(1) {
                versions.insert(row.get(0), version as u64);
            }
        }

        // The rules are core's (eventlite::sync::server::PushRules); this backend only does the storage I/O.
        let now = now_millis();
        let mut next = head;
        let mut rules = PushRules::default();
        let mut outcomes = Vec::with_capacity(events.len());
        let mut rows = Inserts::default();
        for (wire, event) in request.events.iter().zip(&events) {
            let stream = wire.stream.as_str();
            let (content_type, data) = split_data(&event.data);
            // The same event as core decides it (`same_event`): JSON by value, absent metadata = `{}`.
            let existing = stored.get(&wire.event_id).map(|existing| StoredMatch {
                position: existing.position as u64,
                version: existing.version as u64,
                same_event: stored_data(existing.content_type.clone(), existing.data.clone()).is_some_and(|data| {
                    same_event(
                        StoredEvent {
                            stream: &existing.stream,
                            event_type: &existing.event_type,
                            data: &data,
                            metadata: existing.metadata.as_deref(),
                        },
                        stream,
                        event,
                    )
                }),
            });
            let stored_version =
                |stream: &str| Ok::<u64, std::convert::Infallible>(versions.get(stream).copied().unwrap_or(0));
            let version = match rules.judge(wire, existing, stored_version) {
                Ok(Verdict::Answer(outcome)) => {
                    outcomes.push(outcome);
                    continue;
                }
                Ok(Verdict::Append { version }) => version,
                Err(never) => match never {},
            };
            next += 1;
            rules.appended(stream, version);
            rows.positions.push(next);
            rows.ids.push(wire.event_id);
            rows.streams.push(stream.to_owned());
            rows.versions.push(version as i64);
            rows.types.push(event.event_type.clone());
            rows.content_types.push(content_type);
            rows.data.push(data);
            rows.metadata.push(event.metadata.clone());
            rows.recorded_at.push(now);
            outcomes.push(PushOutcome::Accepted {
                event_id: wire.event_id,
                position: next as u64,
                version,
                duplicate: false,
            });
        }
        if next > head {
            transaction
                .execute(
                    &statement(
                        &transaction,
                        &format!(
                            "INSERT INTO {s}.events
                             (tenant, position, event_id, stream, version, event_type, content_type, data, metadata,
                              recorded_at)
                         SELECT $1, * FROM UNNEST($2::int8[], $3::uuid[], $4::text[], $5::int8[], $6::text[],
                                                  $7::text[], $8::bytea[], $9::text[], $10::int8[])"
                        ),
                    )
                    .await?,
                    &[
                        &tenant,
                        &rows.positions,
                        &rows.ids,
                        &rows.streams,
                        &rows.versions,
                        &rows.types,
                        &rows.content_types,
                        &rows.data,
                        &rows.metadata,
                        &rows.recorded_at,
                    ],
                )
                .await
                .map_err(db_error)?;
            transaction
                .execute(
                    &statement(&transaction, &format!("UPDATE {s}.tenants SET head = $2 WHERE tenant = $1")).await?,
                    &[&tenant, &next],
                )
                .await
                .map_err(db_error)?;
            let payload = format!("{next} {tenant}");
            transaction.execute("SELECT pg_notify($1, $2)", &[&self.channel(), &payload]).await.map_err(db_error)?;
        }
        transaction.commit().await.map_err(db_error)?;
        Ok((PushResponse { outcomes }, next as u64))
    }

    async fn pull(&self, tenant: &Tenant, after: u64, limit: usize, max_bytes: usize) -> Result<Pulled, BackendError> {
        let s = &self.schema;
        let tenant = tenant.as_str();
        let client = self.pool.get().await.map_err(unavailable)?;
        let after_i64 = i64::try_from(after).unwrap_or(i64::MAX);
        let row = client
            .query_opt(
                &statement(
                    &client,
                    &format!(
                        "SELECT t.head, t.log_id, e.event_id, e.recorded_at
                         FROM {s}.tenants t LEFT JOIN {s}.events e ON e.tenant = t.tenant AND e.position = $2
                         WHERE t.tenant = $1"
                    ),
                )
                .await?,
                &[&tenant, &after_i64],
            )
            .await
            .map_err(db_error)?;
        let (head, log_id, event_at_after) = match row {
            Some(row) => (row.get::<_, i64>(0) as u64, row.get::<_, Option<Uuid>>(1), event_mark(&row, 2)),
            None => (0, None, None),
        };
        let log_id = match log_id {
            Some(log_id) => log_id,
            None => create_log_id(&client, s, tenant).await?,
        };
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let max_bytes = i64::try_from(max_bytes).unwrap_or(i64::MAX);
        // The byte budget is applied in SQL: a running sum of the events' sizes over the page, cut where it passes
        // the budget (the first event always stays), so no more rows than that reach this process.
        // `octet_length` reads a TOASTed value's size without fetching it.
        let rows = client
            .query(
                &statement(
                    &client,
                    &format!(
                        "SELECT position, event_id, stream, version, event_type, content_type, data, metadata,
                                recorded_at
                         FROM (SELECT *, sum(size) OVER (ORDER BY position) AS running
                               FROM (SELECT *, octet_length(event_type) + coalesce(octet_length(content_type), 0)
                                               + octet_length(data) + coalesce(octet_length(metadata), 0) AS size
                                     FROM {s}.events WHERE tenant = $1 AND position > $2
                                     ORDER BY position LIMIT $3) page) sized
                         WHERE running <= $4 OR running = size
                         ORDER BY position"
                    ),
                )
                .await?,
                &[&tenant, &after_i64, &limit, &max_bytes],
            )
            .await
            .map_err(db_error)?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let content_type: Option<String> = row.get(5);
            let bytes: Vec<u8> = row.get(6);
            let data = stored_data(content_type, bytes)
                .ok_or_else(|| BackendError::Internal("stored JSON is not UTF-8".into()))?;
            let recorded = RecordedEvent {
                position: row.get::<_, i64>(0) as u64,
                event_id: row.get(1),
                stream: row.get(2),
                version: row.get::<_, i64>(3) as u64,
                event_type: row.get(4),
                data,
                metadata: row.get(7),
                recorded_at: row.get(8),
            };
            events.push(ServerEvent::from_recorded(&recorded));
        }
        // `head` was read before the page: events committed in between can make the page end beyond it.
        let through = events.last().map_or(after, |event| event.position);
        let head = events.last().map_or(head, |event| head.max(event.position));
        Ok(Pulled { page: PullPage { events, through, head }, log_id, event_at_after })
    }

    async fn head(&self, tenant: &Tenant) -> Result<u64, BackendError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        head_of(&client, &self.schema, tenant.as_str()).await
    }

    async fn listen(&self, hub: Hub) -> Result<(), BackendError> {
        // Core's backoff, the one every sync transport uses.
        let mut backoff = eventlite::sync::Backoff::new(uuid::Uuid::new_v4().as_u64_pair().0);
        loop {
            match self.listen_once(&hub).await {
                Ok(()) => backoff.reset(),
                Err(error) => tracing::warn!(%error, "LISTEN connection lost; reconnecting"),
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    async fn ping(&self) -> Result<(), BackendError> {
        let client = self.pool.get().await.map_err(unavailable)?;
        client.execute("SELECT 1", &[]).await.map_err(db_error)?;
        Ok(())
    }
}

impl PostgresBackend {
    async fn listen_once(&self, hub: &Hub) -> Result<(), BackendError> {
        let (client, mut connection) = tokio_postgres::connect(&self.url, NoTls).await.map_err(db_error)?;
        let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(notification)) => {
                        if sender.send(notification.payload().to_owned()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "LISTEN connection failed");
                        break;
                    }
                }
            }
        });
        client.batch_execute(&format!("LISTEN {}", self.channel())).await.map_err(db_error)?;
        // Catch up with heads moved while not listening.
        for row in
            client.query(&format!("SELECT tenant, head FROM {}.tenants", self.schema), &[]).await.map_err(db_error)?
        {
            hub.publish(row.get(0), row.get::<_, i64>(1) as u64);
        }
        tracing::info!(channel = %self.channel(), "listening for pushes through other server processes");
        while let Some(payload) = notifications.recv().await {
            if let Some((head, tenant)) = payload.split_once(' ')
                && let Ok(head) = head.parse::<u64>()
            {
                hub.publish(tenant, head);
            }
        }
        driver.abort();
        Ok(())
    }
}

async fn head_of(client: &deadpool_postgres::Client, schema: &str, tenant: &str) -> Result<u64, BackendError> {
    let row = client
        .query_opt(
            &statement(client, &format!("SELECT head FROM {schema}.tenants WHERE tenant = $1")).await?,
            &[&tenant],
        )
        .await
        .map_err(db_error)?;
    Ok(row.map_or(0, |row| row.get::<_, i64>(0) as u64))
}

/// The event in columns `first` (id) and `first + 1` (recorded time) of a row left-joined to `events`.
fn event_mark(row: &tokio_postgres::Row, first: usize) -> Option<EventMark> {
    let event_id: Option<Uuid> = row.get(first);
    let recorded_at: Option<i64> = row.get(first + 1);
    Some(EventMark { event_id: event_id?, recorded_at: recorded_at? })
}

/// Gives the tenant's log its identity if it has none (no row yet, or a row from before logs had identities) and
/// returns the identity it has then: a process racing this one may have created it first, and its identity stays.
async fn create_log_id(client: &deadpool_postgres::Client, schema: &str, tenant: &str) -> Result<Uuid, BackendError> {
    let row = client
        .query_one(
            &statement(
                client,
                &format!(
                    "INSERT INTO {schema}.tenants AS t (tenant, log_id) VALUES ($1, $2)
                     ON CONFLICT (tenant) DO UPDATE SET log_id = coalesce(t.log_id, excluded.log_id)
                     RETURNING t.log_id"
                ),
            )
            .await?,
            &[&tenant, &Uuid::new_v4()],
        )
        .await
        .map_err(db_error)?;
    Ok(row.get(0))
}

/// A prepared statement from the connection's cache: one round trip fewer per query.
async fn statement<C: deadpool_postgres::GenericClient + Sync>(
    client: &C,
    sql: &str,
) -> Result<tokio_postgres::Statement, BackendError> {
    client.prepare_cached(sql).await.map_err(db_error)
}

#[derive(Default)]
struct Inserts {
    positions: Vec<i64>,
    ids: Vec<Uuid>,
    streams: Vec<String>,
    versions: Vec<i64>,
    types: Vec<String>,
    content_types: Vec<Option<String>>,
    data: Vec<Vec<u8>>,
    metadata: Vec<Option<String>>,
    recorded_at: Vec<i64>,
}
