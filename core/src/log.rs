//! The global log: reading all events by position, with filters evaluated in SQL.
//!
//! A filter picks the index that drives the query: each category (`events_by_category (category, position)`) or, with
//! no categories, each event type (`events_by_type (event_type, position)`) becomes one arm pinned to that index and
//! limited to the page size, so each arm is read in position order and stops after one page; the arms are merged by
//! position. A stream prefix that contains `-` fixes the category of every stream it matches, so it is driven by the
//! category index too. A prefix without `-` is a range over `UNIQUE (stream, version)` whose matches SQLite sorts by
//! position, keeping one page in its sorter. Without a filter the query walks the primary key. Repeated filter values
//! are dropped, so no event is returned twice.

use rusqlite::types::Value;

use crate::error::InvalidArgument;
use crate::event::{RecordedEvent, validate_event_type, validate_stream_id};
use crate::stream::Direction;

/// Which events [`crate::Store::read_all`] and subscriptions select. Empty lists select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only streams whose id starts with this prefix.
    pub stream_prefix: Option<String>,
    /// Only these categories (the part of the stream id before the first `-`).
    pub categories: Vec<String>,
    /// Only these event types.
    pub event_types: Vec<String>,
}

impl EventFilter {
    /// Everything.
    pub fn all() -> Self {
        EventFilter::default()
    }

    /// Only streams starting with `prefix`.
    pub fn stream_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.stream_prefix = Some(prefix.into());
        self
    }

    /// Also select this category.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.categories.push(category.into());
        self
    }

    /// Also select this event type.
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_types.push(event_type.into());
        self
    }

    /// Whether `event` passes the filter (the same rule as the SQL, for tests and in-memory checks).
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        self.stream_prefix.as_deref().is_none_or(|prefix| event.stream.starts_with(prefix))
            && (self.categories.is_empty() || self.categories.iter().any(|c| c == event.category()))
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
    }

    pub(crate) fn validate(&self) -> Result<(), InvalidArgument> {
        if let Some(prefix) = &self.stream_prefix {
            validate_stream_id(prefix).map_err(|e| InvalidArgument::new("filter.stream_prefix", e.reason))?;
        }
        for category in &self.categories {
            if category.chars().any(char::is_control) {
                return Err(InvalidArgument::new("filter.categories", "must not contain control characters"));
            }
        }
        for event_type in &self.event_types {
            validate_event_type(event_type, "filter.event_types")?;
        }
        Ok(())
    }
}

/// Where and how far to read the global log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAllOptions {
    /// An exclusive cursor: return events after this position (forwards) or before it (backwards).
    /// `None`: from the start (forwards) or the end (backwards).
    pub from_position: Option<u64>,
    /// Which way to read.
    pub direction: Direction,
    /// At most this many events.
    pub max_count: usize,
    /// Which events.
    pub filter: EventFilter,
}

impl ReadAllOptions {
    /// The default page size.
    pub const DEFAULT_MAX_COUNT: usize = 1_000;

    /// From the start, oldest first, everything, one page.
    pub fn forwards() -> Self {
        ReadAllOptions {
            from_position: None,
            direction: Direction::Forwards,
            max_count: Self::DEFAULT_MAX_COUNT,
            filter: EventFilter::all(),
        }
    }

    /// From the end, newest first.
    pub fn backwards() -> Self {
        ReadAllOptions { direction: Direction::Backwards, ..Self::forwards() }
    }

    /// Events after (forwards) or before (backwards) this position, exclusive.
    pub fn after(mut self, position: u64) -> Self {
        self.from_position = Some(position);
        self
    }

    /// At most `max_count` events.
    pub fn max_count(mut self, max_count: usize) -> Self {
        self.max_count = max_count;
        self
    }

    /// Only events matching `filter`.
    pub fn filter(mut self, filter: EventFilter) -> Self {
        self.filter = filter;
        self
    }
}

impl Default for ReadAllOptions {
    fn default() -> Self {
        Self::forwards()
    }
}

/// A page of the global log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSlice {
    /// The events, in the requested direction.
    pub events: Vec<RecordedEvent>,
    /// The log head: the highest position stored when the page was read (0 for an empty store).
    pub head_position: u64,
}

pub(crate) const EVENT_COLUMNS: &str =
    "position, event_id, stream, version, event_type, content_type, data, metadata, recorded_at";

/// A column and the values a filter allows in it.
type ColumnValues<'a> = (&'static str, &'a [String]);

/// Builds the page query for `filter`. `cursor` is exclusive; `None` means unbounded.
pub(crate) fn page_query(
    filter: &EventFilter,
    cursor: Option<u64>,
    direction: Direction,
    max_count: usize,
) -> (String, Vec<Value>) {
    // Repeated values would make repeated arms and return events twice.
    let mut filter = EventFilter {
        stream_prefix: filter.stream_prefix.clone(),
        categories: unique(&filter.categories),
        event_types: unique(&filter.event_types),
    };
    // A prefix that contains `-` fixes the category of every stream it matches, so the category index can drive
    // the query in position order; the prefix stays as an extra condition.
    if filter.categories.is_empty() {
        if let Some((category, _)) = filter.stream_prefix.as_deref().and_then(|prefix| prefix.split_once('-')) {
            filter.categories.push(category.to_owned());
        }
    }
    let filter = &filter;
    let (compare, order) = match direction {
        Direction::Forwards => (">", "ASC"),
        Direction::Backwards => ("<", "DESC"),
    };
    let limit = i64::try_from(max_count).unwrap_or(i64::MAX);
    let mut params: Vec<Value> = Vec::new();
    let mut shared = String::new();
    if let Some(cursor) = cursor {
        shared.push_str(&format!(" AND position {compare} ?"));
        params.push(Value::Integer(clamp_i64(cursor)));
    }
    let mut shared_params = params.clone();
    if let Some(prefix) = &filter.stream_prefix {
        shared.push_str(" AND stream >= ?");
        shared_params.push(Value::Text(prefix.clone()));
        if let Some(end) = prefix_upper_bound(prefix) {
            shared.push_str(" AND stream < ?");
            shared_params.push(Value::Text(end));
        }
    }

    // One arm per value of the driving column; the other filters become extra terms in every arm.
    let ((driver, values), other): (ColumnValues<'_>, Option<ColumnValues<'_>>) = if !filter.categories.is_empty() {
        (
            ("category", &filter.categories),
            (!filter.event_types.is_empty()).then_some(("event_type", filter.event_types.as_slice())),
        )
    } else if !filter.event_types.is_empty() {
        (("event_type", &filter.event_types), None)
    } else {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1{shared} ORDER BY position {order} LIMIT {limit}");
        return (sql, shared_params);
    };

    let mut arms = Vec::with_capacity(values.len());
    params.clear();
    for value in values {
        // Pinned to the driver's index: it yields the arm in position order, so LIMIT stops the scan early.
        let index = if driver == "category" { "events_by_category" } else { "events_by_type" };
        let mut arm = format!("SELECT {EVENT_COLUMNS} FROM events INDEXED BY {index} WHERE {driver} = ?{shared}");
        params.push(Value::Text(value.clone()));
        params.extend(shared_params.iter().cloned());
        if let Some((column, allowed)) = other {
            arm.push_str(&format!(" AND {column} IN ({})", placeholders(allowed.len())));
            params.extend(allowed.iter().cloned().map(Value::Text));
        }
        arms.push(format!("SELECT * FROM ({arm} ORDER BY position {order} LIMIT {limit})"));
    }
    if arms.len() == 1 {
        let sql = arms.pop().unwrap_or_default();
        return (sql, params);
    }
    let sql = format!("SELECT * FROM ({}) ORDER BY position {order} LIMIT {limit}", arms.join(" UNION ALL "));
    (sql, params)
}

fn unique(values: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    values.iter().filter(|value| seen.insert(value.as_str())).cloned().collect()
}

fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

pub(crate) fn clamp_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The smallest string greater than every string starting with `prefix`, if any.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if next == 0xD800 {
            next = 0xE000;
        }
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn prefix_upper_bound_covers_the_prefix() {
        assert_eq!(prefix_upper_bound("order-").as_deref(), Some("order."));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
    }

    #[test]
    fn category_filters_use_one_limited_arm_per_category() {
        let filter = EventFilter::all().category("a").category("b").event_type("T");
        let (sql, params) = page_query(&filter, Some(10), Direction::Forwards, 50);
        assert_eq!(sql.matches("UNION ALL").count(), 1);
        assert_eq!(sql.matches("LIMIT 50").count(), 3);
        assert!(sql.contains("event_type IN (?)"));
        assert_eq!(params.len(), 6);
    }
}
