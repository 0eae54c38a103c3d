//! `RawSqlite` (feature `bench-baseline`): a bare rusqlite connection over the same OPFS pool and pragmas as
//! [`crate::WasmStore`], so the browser benchmark (`js/bench`) can run raw SQLite in the same worker as the store.
//! It opens the pool's own VFS, not the store's commit-writes layer over it: it is raw sqlite-wasm on sahpool.
//! Not part of the npm package.

use rusqlite::{Connection, OpenFlags, params_from_iter, types::Value};
use sqlite_wasm_vfs::sahpool::OpfsSAHPoolUtil;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::error::JsError;
use crate::opfs;

type JsResult<T> = Result<T, JsValue>;

fn sql_error(error: rusqlite::Error) -> JsValue {
    JsError::new("STORAGE_ERROR", error.to_string()).into()
}

/// A raw connection: WAL, `locking_mode=EXCLUSIVE`, `synchronous=NORMAL` (or FULL), 16 MiB page cache, checkpoint
/// every 10,000 pages: the pragmas the store opens its file with.
#[wasm_bindgen]
pub struct RawSqlite {
    connection: Option<Connection>,
    pool: Option<OpfsSAHPoolUtil>,
}

#[wasm_bindgen]
impl RawSqlite {
    /// Opens `name` in its own OPFS pool, as `WasmStore.openOpfs` would.
    #[wasm_bindgen(js_name = openOpfs)]
    pub async fn open_opfs(name: String, synchronous: String) -> JsResult<RawSqlite> {
        opfs::validate_name(&name)?;
        let pool = opfs::open_pool(&name).await?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let connection =
            Connection::open_with_flags_and_vfs(opfs::database_path(&name), flags, opfs::pool_vfs_name(&name).as_str())
                .map_err(sql_error)?;
        connection.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(sql_error)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(sql_error)?;
        connection.pragma_update(None, "synchronous", synchronous).map_err(sql_error)?;
        // The store's own pragmas (core's `open_connection`), so the baseline differs only by what the store does.
        connection.pragma_update(None, "cache_size", -16_384).map_err(sql_error)?;
        connection.pragma_update(None, "wal_autocheckpoint", 10_000).map_err(sql_error)?;
        Ok(RawSqlite { connection: Some(connection), pool: Some(pool) })
    }

    fn connection(&self) -> Result<&Connection, JsValue> {
        self.connection.as_ref().ok_or_else(|| JsError::new("STORE_CLOSED", "closed").into())
    }

    /// Runs SQL statements (no parameters).
    pub fn exec(&self, sql: &str) -> JsResult<()> {
        self.connection()?.execute_batch(sql).map_err(sql_error)
    }

    /// Runs the cached statement `sql` once per row of `rows` (a JSON array of arrays of parameters), all in one
    /// `BEGIN IMMEDIATE` transaction.
    #[wasm_bindgen(js_name = insertRows)]
    pub fn insert_rows(&self, sql: &str, rows: &str) -> JsResult<()> {
        let rows: Vec<Vec<serde_json::Value>> =
            serde_json::from_str(rows).map_err(|error| JsError::invalid("rows", error.to_string()))?;
        let connection = self.connection()?;
        connection.execute_batch("BEGIN IMMEDIATE").map_err(sql_error)?;
        {
            let mut statement = connection.prepare_cached(sql).map_err(sql_error)?;
            for row in rows {
                let values = row.into_iter().map(|value| match value {
                    serde_json::Value::Null => Value::Null,
                    serde_json::Value::Number(n) => {
                        n.as_i64().map_or(Value::Real(n.as_f64().unwrap_or(0.0)), Value::Integer)
                    }
                    serde_json::Value::String(text) => Value::Text(text),
                    other => Value::Text(other.to_string()),
                });
                statement.execute(params_from_iter(values)).map_err(sql_error)?;
            }
        }
        connection.execute_batch("COMMIT").map_err(sql_error)
    }

    /// Runs a query and returns how many rows it produced, reading every column of every row as text or number.
    #[wasm_bindgen(js_name = queryCount)]
    pub fn query_count(&self, sql: &str) -> JsResult<u32> {
        let connection = self.connection()?;
        let mut statement = connection.prepare_cached(sql).map_err(sql_error)?;
        let columns = statement.column_count();
        let mut rows = statement.query([]).map_err(sql_error)?;
        let mut count = 0;
        while let Some(row) = rows.next().map_err(sql_error)? {
            for column in 0..columns {
                let _: Value = row.get(column).map_err(sql_error)?;
            }
            count += 1;
        }
        Ok(count)
    }

    /// Closes the connection and releases the OPFS handles.
    pub fn close(&mut self) -> JsResult<()> {
        self.connection = None;
        if let Some(pool) = self.pool.take() {
            pool.pause().map_err(opfs::pool_error)?;
        }
        Ok(())
    }
}
