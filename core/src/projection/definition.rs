//! What a projection is: a name, a version, the SQL that creates its tables, and per event type or category the SQL
//! statements to run for each event. The definition is data (serialisable as JSON), so every binding declares it
//! the same way and the store keeps it: every process that writes to the store runs it.

use serde::{Deserialize, Serialize};

use crate::error::InvalidArgument;

/// The named parameters a handler statement may use, bound from the event being projected.
pub const EVENT_PARAMETERS: &[&str] =
    &[":stream", ":version", ":position", ":type", ":category", ":event_id", ":data", ":metadata", ":recorded_at"];

/// The longest projection name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// A read model kept by the store: SQL tables updated by SQL statements, event by event, inside the transaction that
/// stores the event.
///
/// ```
/// use eventlite::Projection;
/// let todos = Projection::new("todos", 1)
///     .setup("CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL)")
///     .on_type("TodoAdded", ["INSERT INTO todos (id, title, done) VALUES (:stream, :data ->> '$.title', 0)"])
///     .on_type("TodoDone", ["UPDATE todos SET done = 1 WHERE id = :stream"]);
/// assert_eq!(todos.handlers.len(), 2);
/// ```
///
/// Invariants the store keeps for a registered projection: its tables always equal running its statements over the
/// local log from the start, in position order (or over the confirmed prefix only, with
/// [`Projection::confirmed_only`]); it is registered with exactly one definition per version (a changed definition
/// needs a new version, which rebuilds it); its statements write only to its own tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Projection {
    /// `[A-Za-z0-9_]`, 1 to 64 characters; unique in the store.
    pub name: String,
    /// Registering a higher (or any different) version drops the projection's tables and rebuilds them from the log.
    pub version: u32,
    /// SQL run once when this version is registered: creates the projection's tables (and indexes, views). Every
    /// table it creates belongs to the projection.
    pub setup: String,
    /// What to run for which events, in order: every handler whose filter matches an event runs, in declaration
    /// order.
    pub handlers: Vec<Handler>,
    /// Project only confirmed events (those the sync server has ordered): such a read model never moves backwards,
    /// is never rewound, and lags local appends until they are confirmed.
    #[serde(default)]
    pub confirmed_only: bool,
}

/// Statements to run for the events a filter matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Handler {
    /// Only events of this type (`None`: any type).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Only events of streams in this category (`None`: any category).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// SQL statements, each with named parameters from [`EVENT_PARAMETERS`] (`:data` is the JSON text, so
    /// `:data ->> '$.title'` picks a field).
    pub statements: Vec<String>,
}

impl Handler {
    /// Whether this handler runs for an event of `event_type` in `category`.
    pub fn matches(&self, event_type: &str, category: &str) -> bool {
        self.event_type.as_deref().is_none_or(|wanted| wanted == event_type)
            && self.category.as_deref().is_none_or(|wanted| wanted == category)
    }
}

impl Projection {
    /// A projection with no tables and no handlers yet.
    pub fn new(name: impl Into<String>, version: u32) -> Projection {
        Projection { name: name.into(), version, setup: String::new(), handlers: Vec::new(), confirmed_only: false }
    }

    /// Sets the SQL that creates the projection's tables.
    pub fn setup(mut self, sql: impl Into<String>) -> Projection {
        self.setup = sql.into();
        self
    }

    /// Runs `statements` for every event of type `event_type`.
    pub fn on_type<S: Into<String>>(
        mut self,
        event_type: impl Into<String>,
        statements: impl IntoIterator<Item = S>,
    ) -> Projection {
        self.handlers.push(Handler {
            event_type: Some(event_type.into()),
            category: None,
            statements: statements.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Runs `statements` for every event of a stream in `category`.
    pub fn on_category<S: Into<String>>(
        mut self,
        category: impl Into<String>,
        statements: impl IntoIterator<Item = S>,
    ) -> Projection {
        self.handlers.push(Handler {
            event_type: None,
            category: Some(category.into()),
            statements: statements.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// Projects confirmed events only (see [`Projection::confirmed_only`]).
    pub fn confirmed_only(mut self) -> Projection {
        self.confirmed_only = true;
        self
    }

    /// The definition as JSON, the portable form every binding accepts.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a projection serialises")
    }

    /// Reads a definition from its JSON form; unknown fields are refused.
    pub fn from_json(json: &str) -> Result<Projection, InvalidArgument> {
        serde_json::from_str(json).map_err(|error| InvalidArgument::new("projection", error.to_string()))
    }

    /// Checks what can be checked without a database: the name, that there is setup SQL and that every handler has
    /// statements.
    pub fn validate(&self) -> Result<(), InvalidArgument> {
        validate_name(&self.name)?;
        if self.setup.trim().is_empty() {
            return Err(InvalidArgument::new("projection.setup", "must create at least one table"));
        }
        for (index, handler) in self.handlers.iter().enumerate() {
            if handler.statements.is_empty() {
                return Err(InvalidArgument::new(format!("projection.handlers[{index}].statements"), "is empty"));
            }
            if handler.event_type.as_deref() == Some("") || handler.category.as_deref() == Some("") {
                return Err(InvalidArgument::new(
                    format!("projection.handlers[{index}]"),
                    "an empty type or category matches nothing; leave it out to match every event",
                ));
            }
            for (statement_index, statement) in handler.statements.iter().enumerate() {
                if statement.trim().is_empty() {
                    return Err(InvalidArgument::new(
                        format!("projection.handlers[{index}].statements[{statement_index}]"),
                        "is empty",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A projection name: `[A-Za-z0-9_]`, 1 to [`MAX_NAME_LEN`] characters.
pub(crate) fn validate_name(name: &str) -> Result<(), InvalidArgument> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(InvalidArgument::new("projection.name", format!("must be 1 to {MAX_NAME_LEN} characters")));
    }
    if !name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_') {
        return Err(InvalidArgument::new("projection.name", format!("{name:?} may hold only A-Z, a-z, 0-9 and _")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn the_json_form_round_trips_and_refuses_unknown_fields() {
        let projection = Projection::new("todos", 2)
            .setup("CREATE TABLE todos (id TEXT)")
            .on_type("TodoAdded", ["INSERT INTO todos VALUES (:stream)"])
            .confirmed_only();
        assert_eq!(Projection::from_json(&projection.to_json()).unwrap(), projection);
        let error = Projection::from_json(r#"{"name":"a","version":1,"setup":"x","handlers":[],"extra":1}"#);
        assert_eq!(error.unwrap_err().argument, "projection");
    }

    #[test]
    fn names_and_handlers_are_checked() {
        let valid = Projection::new("a_1", 1).setup("CREATE TABLE t (x)").on_type("E", ["SELECT 1"]);
        assert!(valid.validate().is_ok());
        for name in ["", "has space", "dash-ed", &"x".repeat(65)] {
            let projection = Projection { name: name.into(), ..valid.clone() };
            assert_eq!(projection.validate().unwrap_err().argument, "projection.name", "{name:?}");
        }
        let no_setup = Projection { setup: " ".into(), ..valid.clone() };
        assert_eq!(no_setup.validate().unwrap_err().argument, "projection.setup");
        let empty = valid.clone().on_type("F", Vec::<String>::new());
        assert_eq!(empty.validate().unwrap_err().argument, "projection.handlers[1].statements");
    }

    #[test]
    fn a_handler_matches_on_type_and_category() {
        let both = Handler { event_type: Some("E".into()), category: Some("c".into()), statements: vec![] };
        assert!(both.matches("E", "c"));
        assert!(!both.matches("E", "d"));
        assert!(!both.matches("F", "c"));
        let any = Handler { event_type: None, category: None, statements: vec![] };
        assert!(any.matches("whatever", "else"));
    }
}
