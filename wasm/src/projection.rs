//! Read models from JS: projection definitions (their portable JSON form), read-only queries returning row objects,
//! and watches the host re-runs after commits. Conversions only; core keeps the read models.

use eventlite::{Projection, ProjectionError, ProjectionStatus, QueryParams, QueryRows, SqlValue};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::convert::{self, MAX_SAFE_INTEGER};
use crate::error::JsError;
use crate::store::WasmStore;

type JsResult<T> = Result<T, JsValue>;

#[wasm_bindgen(typescript_custom_section)]
const TS_PROJECTION: &str = r#"
/** A query's result: column names, and one object per row keyed by column. */
export interface QueryRowsWire {
  columns: string[];
  rows: Record<string, null | number | bigint | string | Uint8Array>[];
}
/** A registered projection's state. */
export interface ProjectionStatusWire {
  name: string;
  version: number;
  confirmedOnly: boolean;
  appliedThrough: number;
  tables: string[];
  failure: { position: number; eventId: string | null; message: string } | null;
}
"#;

impl From<ProjectionError> for JsError {
    fn from(error: ProjectionError) -> Self {
        let base = JsError::new(error.code().as_str(), error.to_string());
        match error {
            ProjectionError::InvalidArgument(invalid) => invalid.into(),
            ProjectionError::Failed { projection, position, .. } => {
                base.with("projection", projection.into()).with("position", convert::u64_to_js(position))
            }
            _ => base,
        }
    }
}

/// A definition: its JSON text, or the object itself.
fn to_projection(value: &JsValue) -> Result<Projection, JsError> {
    let text = match value.as_string() {
        Some(text) => text,
        None if value.is_object() => js_sys::JSON::stringify(value)
            .map_err(|_| JsError::invalid("projection", "must be JSON-serialisable"))?
            .into(),
        None => return Err(JsError::invalid("projection", "must be an object or its JSON text")),
    };
    Ok(Projection::from_json(&text)?)
}

fn to_sql_value(value: &JsValue, argument: &str) -> Result<SqlValue, JsError> {
    if value.is_null() || value.is_undefined() {
        return Ok(SqlValue::Null);
    }
    if let Some(number) = value.as_f64() {
        return Ok(if number.fract() == 0.0 && number.abs() <= MAX_SAFE_INTEGER as f64 {
            SqlValue::Integer(number as i64)
        } else {
            SqlValue::Real(number)
        });
    }
    if let Some(flag) = value.as_bool() {
        return Ok(SqlValue::Integer(i64::from(flag)));
    }
    if let Some(text) = value.as_string() {
        return Ok(SqlValue::Text(text));
    }
    if value.is_bigint() {
        let text: String = value
            .unchecked_ref::<js_sys::BigInt>()
            .to_string(10)
            .map_err(|_| JsError::invalid(argument, "is not a 64-bit integer"))?
            .into();
        return text.parse().map(SqlValue::Integer).map_err(|_| JsError::invalid(argument, "is not a 64-bit integer"));
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(SqlValue::Blob(bytes.to_vec()));
    }
    Err(JsError::invalid(argument, "must be null, a number, a bigint, a boolean, a string or a Uint8Array"))
}

/// `undefined`: none; an array: positional; an object: named (`{ id: 1 }` binds `:id`).
pub(crate) fn to_params(value: &JsValue) -> Result<QueryParams, JsError> {
    if value.is_null() || value.is_undefined() {
        return Ok(QueryParams::None);
    }
    if let Some(array) = value.dyn_ref::<Array>() {
        let values = array
            .iter()
            .enumerate()
            .map(|(index, value)| to_sql_value(&value, &format!("params[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if values.is_empty() { QueryParams::None } else { QueryParams::Positional(values) });
    }
    if value.is_object() && !value.is_instance_of::<Uint8Array>() {
        let mut named = Vec::new();
        for entry in Object::entries(value.unchecked_ref()).iter() {
            let entry: Array = entry.unchecked_into();
            let name = entry.get(0).as_string().unwrap_or_default();
            let value = to_sql_value(&entry.get(1), &format!("params.{name}"))?;
            let name = if name.starts_with([':', '@', '$']) { name } else { format!(":{name}") };
            named.push((name, value));
        }
        return Ok(QueryParams::Named(named));
    }
    Err(JsError::invalid("params", "must be an array (for ?) or an object (for :name)"))
}

fn sql_value_to_js(value: SqlValue) -> JsValue {
    match value {
        SqlValue::Null => JsValue::NULL,
        SqlValue::Integer(value) if value.unsigned_abs() <= MAX_SAFE_INTEGER => JsValue::from_f64(value as f64),
        SqlValue::Integer(value) => js_sys::BigInt::from(value).into(),
        SqlValue::Real(value) => JsValue::from_f64(value),
        SqlValue::Text(value) => JsValue::from_str(&value),
        SqlValue::Blob(value) => Uint8Array::from(value.as_slice()).into(),
    }
}

/// `{ columns, rows }`, each row an object keyed by column (a later duplicate column name wins).
pub(crate) fn rows_to_js(rows: QueryRows) -> Result<JsValue, JsError> {
    let columns: Array = rows.columns.iter().map(|column| JsValue::from_str(column)).collect();
    let objects = Array::new();
    for row in rows.rows {
        let object = Object::new();
        for (column, value) in rows.columns.iter().zip(row) {
            // Defined, not assigned: a column named `__proto__` is a plain property, not the row's prototype.
            let descriptor = Object::new();
            for (key, field) in [
                ("value", sql_value_to_js(value)),
                ("enumerable", true.into()),
                ("writable", true.into()),
                ("configurable", true.into()),
            ] {
                Reflect::set(&descriptor, &key.into(), &field)
                    .map_err(|_| JsError::new("INTERNAL", "could not build a row"))?;
            }
            Object::define_property(&object, &JsValue::from_str(column), &descriptor);
        }
        objects.push(&object);
    }
    let result = Object::new();
    Reflect::set(&result, &"columns".into(), &columns).map_err(|_| JsError::new("INTERNAL", "could not build rows"))?;
    Reflect::set(&result, &"rows".into(), &objects).map_err(|_| JsError::new("INTERNAL", "could not build rows"))?;
    Ok(result.into())
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusJson {
    name: String,
    version: u32,
    confirmed_only: bool,
    applied_through: u64,
    tables: Vec<String>,
    failure: Option<FailureJson>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct FailureJson {
    position: u64,
    event_id: Option<String>,
    message: String,
}

fn status_to_js(status: ProjectionStatus) -> Result<JsValue, JsError> {
    convert::to_js(&StatusJson {
        name: status.name,
        version: status.version,
        confirmed_only: status.confirmed_only,
        applied_through: status.applied_through,
        tables: status.tables,
        failure: status.failure.map(|failure| FailureJson {
            position: failure.position,
            event_id: failure.event_id.map(|id| id.to_string()),
            message: failure.message,
        }),
    })
}

#[wasm_bindgen]
impl WasmStore {
    /// Registers a projection (its definition object or JSON text): checks its SQL, creates its tables and folds
    /// the stored log, in one transaction.
    #[wasm_bindgen(js_name = registerProjection, unchecked_return_type = "ProjectionStatusWire")]
    pub fn register_projection(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] projection: JsValue,
    ) -> JsResult<JsValue> {
        let projection = to_projection(&projection)?;
        let status = self.store()?.register_projection(&projection).map_err(JsError::from)?;
        Ok(status_to_js(status)?)
    }

    /// Removes a projection and drops its tables; `false` if there was none.
    #[wasm_bindgen(js_name = dropProjection)]
    pub fn drop_projection(&self, #[wasm_bindgen(unchecked_param_type = "unknown")] name: JsValue) -> JsResult<bool> {
        let name = convert::to_string(&name, "name")?;
        Ok(self.store()?.drop_projection(&name).map_err(JsError::from)?)
    }

    /// Every registered projection's state.
    #[wasm_bindgen(unchecked_return_type = "ProjectionStatusWire[]")]
    pub fn projections(&self) -> JsResult<JsValue> {
        let array = Array::new();
        for status in self.store()?.projections().map_err(JsError::from)? {
            array.push(&status_to_js(status)?);
        }
        Ok(array.into())
    }

    /// Runs one read-only SQL statement; `params` an array (`?`) or an object (`:name`).
    #[wasm_bindgen(unchecked_return_type = "QueryRowsWire")]
    pub fn query(
        &self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] sql: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] params: JsValue,
    ) -> JsResult<JsValue> {
        let sql = convert::to_string(&sql, "sql")?;
        let params = to_params(&params)?;
        Ok(rows_to_js(self.store()?.query(&sql, &params).map_err(JsError::from)?)?)
    }

    /// Opens a watch over a read-only query; returns its id for [`WasmStore::poll_watch`].
    pub fn watch(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "unknown")] sql: JsValue,
        #[wasm_bindgen(unchecked_param_type = "unknown")] params: JsValue,
    ) -> JsResult<u32> {
        let sql = convert::to_string(&sql, "sql")?;
        let params = to_params(&params)?;
        let watch = self.store()?.watch(&sql, params).map_err(JsError::from)?;
        Ok(self.add_watch(watch))
    }

    /// The watch's fresh rows if a table its query reads changed since the last poll (the first poll always
    /// answers), `undefined` otherwise. Never blocks.
    #[wasm_bindgen(js_name = pollWatch, unchecked_return_type = "QueryRowsWire | undefined")]
    pub fn poll_watch(&mut self, watch: u32) -> JsResult<JsValue> {
        let store = self.store()?.clone();
        let watch = self.watch_mut(watch)?;
        match watch.poll(&store).map_err(JsError::from)? {
            Some(rows) => Ok(rows_to_js(rows)?),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// Closes a watch. Unknown ids are ignored.
    pub fn unwatch(&mut self, watch: u32) {
        self.remove_watch(watch);
    }
}
