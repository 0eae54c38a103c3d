//! What projection SQL and queries may do, enforced by SQLite's authorizer while their statements are prepared
//! (SQLite asks it about every table a statement, its triggers and its views touch, before the statement exists).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};

/// The rule in force, and what it saw.
#[derive(Debug, Default)]
pub(crate) enum Policy {
    /// EventLite's own statements: anything goes.
    #[default]
    Internal,
    /// A projection's setup: may create objects and fill tables it creates; must not touch `existing` ones.
    Setup { existing: BTreeSet<String>, refused: Option<String> },
    /// A handler statement: may read anything and write only `own` tables; `written` collects what it writes.
    Handler { own: BTreeSet<String>, written: BTreeSet<String>, refused: Option<String> },
    /// A query: reads only; `read` collects the tables it reads.
    Query { read: BTreeSet<String>, refused: Option<String> },
}

/// SQLite's schema table, which a CREATE writes on the statement's behalf. (`sqlite_sequence` is not one of them:
/// projections may not use AUTOINCREMENT, whose counters a rewind could not restore, and nothing may write the
/// log's own counter.)
fn bookkeeping(table: &str) -> bool {
    matches!(table, "sqlite_master" | "sqlite_schema" | "sqlite_temp_master")
}

/// Installs the authorizer on `connection` with `policy` shared with the caller; [`remove`] takes it off.
pub(crate) fn install(connection: &mut Connection) -> rusqlite::Result<Arc<Mutex<Policy>>> {
    let policy = Arc::new(Mutex::new(Policy::Internal));
    let shared = Arc::clone(&policy);
    connection.authorizer(Some(move |context: AuthContext<'_>| {
        let mut policy = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        decide(&mut policy, context.action)
    }))?;
    Ok(policy)
}

/// Takes the authorizer off.
pub(crate) fn remove(connection: &mut Connection) -> rusqlite::Result<()> {
    connection.authorizer(None::<fn(AuthContext<'_>) -> Authorization>)
}

fn refuse(slot: &mut Option<String>, why: String) -> Authorization {
    slot.get_or_insert(why);
    Authorization::Deny
}

fn decide(policy: &mut Policy, action: AuthAction<'_>) -> Authorization {
    use AuthAction as A;
    match policy {
        Policy::Internal => Authorization::Allow,
        // Setup creates the projection's tables, indexes and views, and may fill what it creates: it reads and
        // writes nothing that existed before (so running it again on a rebuild gives the same tables), and creates
        // no trigger (a trigger would also fire while a rewind undoes rows, and its effects could not be undone).
        Policy::Setup { existing, refused } => match action {
            A::CreateTable { .. } | A::CreateView { .. } | A::Select | A::Function { .. } | A::Recursive => {
                Authorization::Allow
            }
            A::CreateIndex { table_name, .. } => {
                if existing.contains(table_name) {
                    refuse(refused, format!("setup may not add to the existing table {table_name:?}"))
                } else {
                    Authorization::Allow
                }
            }
            A::Read { table_name, .. } => {
                if bookkeeping(table_name) || !existing.contains(table_name) {
                    Authorization::Allow
                } else {
                    refuse(refused, format!("setup may only read the tables it creates, not {table_name:?}"))
                }
            }
            A::Insert { table_name } | A::Update { table_name, .. } | A::Delete { table_name } => {
                if bookkeeping(table_name) || (!existing.contains(table_name) && table_name != "sqlite_sequence") {
                    Authorization::Allow
                } else {
                    refuse(refused, format!("setup may only write to the tables it creates, not {table_name:?}"))
                }
            }
            A::CreateTrigger { .. } => refuse(
                refused,
                "setup may not create triggers: a projection's tables change only through its statements".into(),
            ),
            other => refuse(refused, format!("setup may only create tables, indexes and views ({other:?})")),
        },
        // A handler statement sees the event (its parameters) and its own projection's tables, nothing else: what
        // it does then depends only on the log, so folding it incrementally, after a rewind, or in a rebuild gives
        // the same tables.
        Policy::Handler { own, written, refused } => match action {
            A::Select | A::Function { .. } | A::Recursive => Authorization::Allow,
            A::Read { table_name, .. } => {
                if own.contains(table_name) {
                    Authorization::Allow
                } else {
                    refuse(
                        refused,
                        format!("a projection's statements may read only its own tables, not {table_name:?}"),
                    )
                }
            }
            A::Insert { table_name } | A::Update { table_name, .. } | A::Delete { table_name } => {
                if own.contains(table_name) {
                    written.insert(table_name.to_owned());
                    Authorization::Allow
                } else {
                    refuse(
                        refused,
                        format!("a projection's statements may write only to its own tables, not {table_name:?}"),
                    )
                }
            }
            other => refuse(refused, format!("a projection's statements may only read and write rows ({other:?})")),
        },
        Policy::Query { read, refused } => match action {
            A::Select | A::Function { .. } | A::Recursive => Authorization::Allow,
            A::Read { table_name, .. } => {
                read.insert(table_name.to_owned());
                Authorization::Allow
            }
            other => refuse(refused, format!("a query may only read ({other:?})")),
        },
    }
}
