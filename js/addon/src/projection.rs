//! Read models from JS, with the wasm layer's surface (`wasm/src/projection.rs`): projection definitions (their
//! portable JSON form), read-only queries returning one object per row, and watches the host polls after commits.
//! Conversions only; core keeps the read models. The first watch starts the commit watcher, so other processes'
//! commits reach the host's watches too.

use eventlite::{Projection, ProjectionError, ProjectionStatus, QueryParams, QueryRows, SqlValue};
use napi::bindgen_prelude::{
    BigInt, Either, Either5, FromNapiValue, JsObjectValue, Null, Object, Uint8Array, Undefined, Unknown,
};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use serde::Serialize;
use serde_json::Value;

use crate::convert::{self, MAX_SAFE_INTEGER, StringArg};
use crate::error::{AddonError, AddonResult, throw};
use crate::store::NodeStore;

impl From<ProjectionError> for AddonError {
    fn from(error: ProjectionError) -> Self {
        let base = AddonError::new(error.code().as_str(), error.to_string());
        match error {
            ProjectionError::InvalidArgument(invalid) => invalid.into(),
            ProjectionError::Failed { projection, position, .. } => {
                base.with("projection", projection.into()).with("position", crate::error::number(position))
            }
            _ => base,
        }
    }
}

/// A definition: its JSON text, or the object itself (read as JSON, as the wasm layer stringifies it).
fn to_projection(env: &Env, value: Unknown<'_>) -> AddonResult<Projection> {
    let text = match value.get_type() {
        Ok(ValueType::String) => {
            String::from_unknown(value).map_err(|_| AddonError::invalid("projection", "must be a string"))?
        }
        Ok(ValueType::Object) => {
            let json: Value =
                env.from_js_value(value).map_err(|_| AddonError::invalid("projection", "must be JSON-serialisable"))?;
            json.to_string()
        }
        _ => return Err(AddonError::invalid("projection", "must be an object or its JSON text")),
    };
    Ok(Projection::from_json(&text)?)
}

/// Bytes from a typed array (napi's serde reads a `Uint8Array` as bytes).
struct Bytes(Vec<u8>);

impl<'de> serde::Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl serde::de::Visitor<'_> for BytesVisitor {
            type Value = Bytes;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
        }
        deserializer.deserialize_bytes(BytesVisitor)
    }
}

/// One parameter, by the wasm layer's rules: a whole number within 2^53 is an integer, other numbers reals,
/// booleans 0 / 1, bigints 64-bit integers, a `Uint8Array` a blob.
fn to_sql_value(env: &Env, value: Unknown<'_>, argument: &str) -> AddonResult<SqlValue> {
    let wrong =
        || AddonError::invalid(argument, "must be null, a number, a bigint, a boolean, a string or a Uint8Array");
    match value.get_type().map_err(|_| wrong())? {
        ValueType::Null | ValueType::Undefined => Ok(SqlValue::Null),
        ValueType::Number => {
            let number = f64::from_unknown(value).map_err(|_| wrong())?;
            Ok(if number.fract() == 0.0 && number.abs() <= MAX_SAFE_INTEGER as f64 {
                SqlValue::Integer(number as i64)
            } else {
                SqlValue::Real(number)
            })
        }
        ValueType::Boolean => Ok(SqlValue::Integer(i64::from(bool::from_unknown(value).map_err(|_| wrong())?))),
        ValueType::String => Ok(SqlValue::Text(String::from_unknown(value).map_err(|_| wrong())?)),
        ValueType::BigInt => {
            let bigint = BigInt::from_unknown(value).map_err(|_| wrong())?;
            let too_big = || AddonError::invalid(argument, "is not a 64-bit integer");
            let magnitude = match bigint.words.as_slice() {
                [] => 0,
                [word] => i128::from(*word),
                _ => return Err(too_big()),
            };
            let signed = if bigint.sign_bit { -magnitude } else { magnitude };
            i64::try_from(signed).map(SqlValue::Integer).map_err(|_| too_big())
        }
        ValueType::Object if value.is_typedarray().unwrap_or(false) => {
            let Bytes(bytes) = env.from_js_value(value).map_err(|_| wrong())?;
            Ok(SqlValue::Blob(bytes))
        }
        _ => Err(wrong()),
    }
}

/// `undefined`: none; an array: positional; an object: named (`{ id: 1 }` binds `:id`).
fn to_params(env: &Env, value: Unknown<'_>) -> AddonResult<QueryParams> {
    let wrong = || AddonError::invalid("params", "must be an array (for ?) or an object (for :name)");
    match value.get_type().map_err(|_| wrong())? {
        ValueType::Null | ValueType::Undefined => return Ok(QueryParams::None),
        ValueType::Object if !value.is_typedarray().unwrap_or(false) => {}
        _ => return Err(wrong()),
    }
    let object = Object::from_unknown(value).map_err(|_| wrong())?;
    if object.is_array().unwrap_or(false) {
        let length = object.get_array_length().map_err(|_| wrong())?;
        let mut values = Vec::with_capacity(length as usize);
        for index in 0..length {
            let item: Unknown<'_> = object.get_element(index).map_err(|_| wrong())?;
            values.push(to_sql_value(env, item, &format!("params[{index}]"))?);
        }
        return Ok(if values.is_empty() { QueryParams::None } else { QueryParams::Positional(values) });
    }
    let mut named = Vec::new();
    for name in Object::keys(&object).map_err(|_| wrong())? {
        let item: Unknown<'_> = object.get_named_property(&name).map_err(|_| wrong())?;
        let value = to_sql_value(env, item, &format!("params.{name}"))?;
        let name = if name.starts_with([':', '@', '$']) { name } else { format!(":{name}") };
        named.push((name, value));
    }
    Ok(QueryParams::Named(named))
}

type JsSqlValue = Either5<Null, f64, BigInt, String, Uint8Array>;

fn sql_value_to_js(value: SqlValue) -> JsSqlValue {
    match value {
        SqlValue::Null => Either5::A(Null),
        SqlValue::Integer(value) if value.unsigned_abs() <= MAX_SAFE_INTEGER => Either5::B(value as f64),
        SqlValue::Integer(value) => Either5::C(BigInt::from(value)),
        SqlValue::Real(value) => Either5::B(value),
        SqlValue::Text(value) => Either5::D(value),
        SqlValue::Blob(value) => Either5::E(Uint8Array::new(value)),
    }
}

/// `{ columns, rows }`, each row an object keyed by column (a later duplicate column name wins).
fn rows_to_js(env: &Env, rows: QueryRows) -> AddonResult<Object<'_>> {
    let internal = |_| AddonError::new("INTERNAL", "could not build rows");
    let mut objects = env.create_array(rows.rows.len() as u32).map_err(internal)?;
    for (index, row) in rows.rows.into_iter().enumerate() {
        let mut object = Object::new(env).map_err(internal)?;
        for (column, value) in rows.columns.iter().zip(row) {
            object.set(column, sql_value_to_js(value)).map_err(internal)?;
        }
        objects.set(index as u32, object).map_err(internal)?;
    }
    let mut result = Object::new(env).map_err(internal)?;
    result.set("columns", rows.columns).map_err(internal)?;
    result.set("rows", objects).map_err(internal)?;
    Ok(result)
}

/// A registered projection's state (the wasm layer's `ProjectionStatusWire`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusJson {
    name: String,
    version: u32,
    confirmed_only: bool,
    applied_through: u64,
    tables: Vec<String>,
    failure: Option<FailureJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailureJson {
    position: u64,
    event_id: Option<String>,
    message: String,
}

fn status_json(status: ProjectionStatus) -> Value {
    let status = StatusJson {
        name: status.name,
        version: status.version,
        confirmed_only: status.confirmed_only,
        applied_through: status.applied_through,
        tables: status.tables,
        failure: status.failure.map(|failure| FailureJson {
            position: failure.position,
            event_id: failure.event_id.map(|id| id.hyphenated().to_string()),
            message: failure.message,
        }),
    };
    serde_json::to_value(status).unwrap_or(Value::Null)
}

#[napi]
impl NodeStore {
    /// Registers a projection (its definition object or JSON text): checks its SQL, creates its tables and folds
    /// the stored log, in one transaction.
    #[napi(js_name = "registerProjection")]
    pub fn register_projection(&self, env: Env, projection: Unknown<'_>) -> napi::Result<Value> {
        let status = (|| {
            let projection = to_projection(&env, projection)?;
            Ok(status_json(self.store()?.register_projection(&projection)?))
        })();
        throw(&env, status)
    }

    /// Removes a projection and drops its tables; `false` if there was none.
    #[napi(js_name = "dropProjection")]
    pub fn drop_projection(&self, env: Env, name: StringArg<'_>) -> napi::Result<bool> {
        let dropped = (|| {
            let name = convert::to_string(name, "name")?;
            Ok(self.store()?.drop_projection(&name)?)
        })();
        throw(&env, dropped)
    }

    /// Every registered projection's state.
    #[napi]
    pub fn projections(&self, env: Env) -> napi::Result<Vec<Value>> {
        throw(&env, (|| Ok(self.store()?.projections()?.into_iter().map(status_json).collect()))())
    }

    /// Runs one read-only SQL statement; `params` an array (`?`) or an object (`:name`).
    #[napi(ts_return_type = "QueryRowsWire")]
    pub fn query<'env>(&self, env: &'env Env, sql: StringArg<'_>, params: Unknown<'_>) -> napi::Result<Object<'env>> {
        let rows = (|| {
            let sql = convert::to_string(sql, "sql")?;
            let params = to_params(env, params)?;
            let rows = self.store()?.query(&sql, &params)?;
            rows_to_js(env, rows)
        })();
        throw(env, rows)
    }

    /// Opens a watch over a read-only query; returns its id for [`NodeStore::poll_watch`]. Starts the commit
    /// watcher, so other processes' commits call `onCommit` and the host polls.
    #[napi]
    pub fn watch(&mut self, env: Env, sql: StringArg<'_>, params: Unknown<'_>) -> napi::Result<u32> {
        let id = (|| {
            let sql = convert::to_string(sql, "sql")?;
            let params = to_params(&env, params)?;
            let watch = self.store()?.watch(&sql, params)?;
            self.add_watch(watch)
        })();
        throw(&env, id)
    }

    /// The watch's fresh rows if a table its query reads changed since the last poll (the first poll always
    /// answers), `undefined` otherwise. Never blocks.
    #[napi(js_name = "pollWatch", ts_return_type = "QueryRowsWire | undefined")]
    pub fn poll_watch<'env>(&mut self, env: &'env Env, watch: u32) -> napi::Result<Either<Object<'env>, Undefined>> {
        let rows = (|| match self.poll_query_watch(watch)? {
            Some(rows) => Ok(Either::A(rows_to_js(env, rows)?)),
            None => Ok(Either::B(())),
        })();
        throw(env, rows)
    }

    /// Closes a watch. Unknown ids are ignored.
    #[napi]
    pub fn unwatch(&mut self, watch: u32) {
        self.remove_watch(watch);
    }
}
