//! The global log: reading all events by position, with filters evaluated in SQL.
//!
//! A filter becomes index arms, merged by position. Each arm fixes the leading columns of one index by equality, so
//! the index yields exactly the arm's rows in position order and the arm stops after one page, whatever the log's
//! size: a category (`events_by_category (category, position)`), an event type (`events_by_type (event_type,
//! position)`), or a category and an event type (`events_by_category_type (category, event_type, position)`); with
//! both lists, one arm per combination, at most [`MAX_FILTER_COMBINATIONS`] (larger filters are refused with
//! `INVALID_ARGUMENT`).
//!
//! A stream prefix that contains `-` fixes the category of every stream it matches: it is read through that category's
//! arms with the prefix as an extra condition (a prefix that reaches past the `-`, like `order-12`, therefore costs
//! in proportion to the category's other events after the cursor). A prefix without `-` matches exactly the streams
//! of the categories that start with it, which a skip scan of the category index finds; those categories' arms are
//! read with no extra condition (when more than [`MAX_FILTER_COMBINATIONS`] categories match, the stream range is
//! read and sorted instead). Without a filter the query walks the primary key. Repeated filter values are dropped, so
//! no event is returned twice.

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
        let unique = self.deduplicated();
        let combinations = unique.categories.len().max(1) * unique.event_types.len().max(1);
        if combinations > MAX_FILTER_COMBINATIONS {
            return Err(InvalidArgument::new(
                "filter",
                format!(
                    "{} categories x {} event types make {combinations} combinations; at most {MAX_FILTER_COMBINATIONS}",
                    unique.categories.len(),
                    unique.event_types.len()
                ),
            ));
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

pub(crate) use crate::events_table::COLUMNS as EVENT_COLUMNS;

/// The most index arms one read may merge: categories x event types (each counted as 1 when absent). Filters over it
/// are refused with `INVALID_ARGUMENT`; a stream prefix that matches more categories is read by its stream range.
pub const MAX_FILTER_COMBINATIONS: usize = 256;

/// How a filter is read, once its prefix is resolved against the database: index arms, or one scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterPlan {
    /// The whole log, or a stream range scan (`prefix`), with optional event types: read in position order from the
    /// primary key (no filter) or sorted (a prefix matching too many categories).
    Scan { prefix: Option<String>, event_types: Vec<String> },
    /// One arm per (category, event type) combination, each pinned to an index that yields its rows in position
    /// order with no row to skip; `prefix` is an extra condition only when it reaches past its category's `-`.
    Arms { categories: Vec<String>, event_types: Vec<String>, prefix: Option<String> },
    /// A prefix that matches no stream.
    Nothing,
}

impl EventFilter {
    /// The filter's values without repeats (repeated values would return events twice).
    fn deduplicated(&self) -> EventFilter {
        EventFilter {
            stream_prefix: self.stream_prefix.clone(),
            categories: unique(&self.categories),
            event_types: unique(&self.event_types),
        }
    }

    /// Resolves the filter against `connection`: a stream prefix without `-` becomes the categories it matches (a
    /// stream starts with such a prefix exactly when its category does), found by a skip scan of the category index.
    pub(crate) fn plan(&self, connection: &rusqlite::Connection) -> rusqlite::Result<FilterPlan> {
        let filter = self.deduplicated();
        let types = filter.event_types;
        if !filter.categories.is_empty() {
            return Ok(FilterPlan::Arms {
                categories: filter.categories,
                event_types: types,
                prefix: filter.stream_prefix,
            });
        }
        let Some(prefix) = filter.stream_prefix else {
            return Ok(if types.is_empty() {
                FilterPlan::Scan { prefix: None, event_types: types }
            } else {
                FilterPlan::Arms { categories: Vec::new(), event_types: types, prefix: None }
            });
        };
        if let Some((category, _)) = prefix.split_once('-') {
            // Even `cat-` keeps the prefix as a condition: it selects the category's streams but its bare `cat` one.
            return Ok(FilterPlan::Arms {
                categories: vec![category.to_owned()],
                event_types: types,
                prefix: Some(prefix),
            });
        }
        let per_category = types.len().max(1);
        let categories = categories_with_prefix(connection, &prefix, MAX_FILTER_COMBINATIONS / per_category + 1)?;
        Ok(if categories.is_empty() {
            FilterPlan::Nothing
        } else if categories.len() * per_category > MAX_FILTER_COMBINATIONS {
            FilterPlan::Scan { prefix: Some(prefix), event_types: types }
        } else {
            FilterPlan::Arms { categories, event_types: types, prefix: None }
        })
    }
}

/// The distinct categories starting with `prefix`, at most `limit`, each found in O(log n) by a recursive skip scan
/// of `events_by_category`.
fn categories_with_prefix(
    connection: &rusqlite::Connection,
    prefix: &str,
    limit: usize,
) -> rusqlite::Result<Vec<String>> {
    // Written without OR so that each `min()` is one index seek; a prefix of U+10FFFF characters has no upper bound.
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    match prefix_upper_bound(prefix) {
        Some(upper) => connection
            .prepare_cached(
                "WITH RECURSIVE found(category) AS (
                     SELECT (SELECT min(category) FROM events WHERE category >= ?1 AND category < ?2)
                     UNION ALL
                     SELECT (SELECT min(category) FROM events WHERE category > found.category AND category < ?2)
                     FROM found WHERE found.category IS NOT NULL
                 )
                 SELECT category FROM found WHERE category IS NOT NULL LIMIT ?3",
            )?
            .query_map(rusqlite::params![prefix, upper, limit], |row| row.get(0))?
            .collect(),
        None => connection
            .prepare_cached(
                "WITH RECURSIVE found(category) AS (
                     SELECT (SELECT min(category) FROM events WHERE category >= ?1)
                     UNION ALL
                     SELECT (SELECT min(category) FROM events WHERE category > found.category)
                     FROM found WHERE found.category IS NOT NULL
                 )
                 SELECT category FROM found WHERE category IS NOT NULL LIMIT ?2",
            )?
            .query_map(rusqlite::params![prefix, limit], |row| row.get(0))?
            .collect(),
    }
}

/// Builds the page query for a resolved filter. `cursor` is exclusive; `None` means unbounded.
pub(crate) fn page_query(
    plan: &FilterPlan,
    cursor: Option<u64>,
    direction: Direction,
    max_count: usize,
) -> (String, Vec<Value>) {
    let (compare, order) = match direction {
        Direction::Forwards => (">", "ASC"),
        Direction::Backwards => ("<", "DESC"),
    };
    let limit = i64::try_from(max_count).unwrap_or(i64::MAX);
    // The conditions every arm shares: the cursor and the stream range.
    let shared = |prefix: &Option<String>, sql: &mut String, params: &mut Vec<Value>| {
        if let Some(cursor) = cursor {
            sql.push_str(&format!(" AND position {compare} ?"));
            params.push(Value::Integer(clamp_i64(cursor)));
        }
        if let Some(prefix) = prefix {
            sql.push_str(" AND stream >= ?");
            params.push(Value::Text(prefix.clone()));
            if let Some(end) = prefix_upper_bound(prefix) {
                sql.push_str(" AND stream < ?");
                params.push(Value::Text(end));
            }
        }
    };
    let mut params: Vec<Value> = Vec::new();
    let (categories, event_types, prefix) = match plan {
        FilterPlan::Nothing => return (format!("SELECT {EVENT_COLUMNS} FROM events WHERE 0"), params),
        FilterPlan::Scan { prefix, event_types } => {
            let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1");
            shared(prefix, &mut sql, &mut params);
            if !event_types.is_empty() {
                sql.push_str(&format!(" AND event_type IN ({})", placeholders(event_types.len())));
                params.extend(event_types.iter().cloned().map(Value::Text));
            }
            sql.push_str(&format!(" ORDER BY position {order} LIMIT {limit}"));
            return (sql, params);
        }
        FilterPlan::Arms { categories, event_types, prefix } => (categories, event_types, prefix),
    };
    // One arm per combination, each pinned to the index whose leading columns it fixes by equality: the index yields
    // the arm in position order and holds only matching rows, so LIMIT stops the scan after one page whatever the
    // log's size.
    let none = [None];
    let category_values: Vec<Option<&String>> =
        if categories.is_empty() { none.to_vec() } else { categories.iter().map(Some).collect() };
    let type_values: Vec<Option<&String>> =
        if event_types.is_empty() { none.to_vec() } else { event_types.iter().map(Some).collect() };
    let mut arms = Vec::with_capacity(category_values.len() * type_values.len());
    for category in &category_values {
        for event_type in &type_values {
            let (index, mut conditions) = match (category, event_type) {
                (Some(_), Some(_)) => ("events_by_category_type", "category = ? AND event_type = ?".to_owned()),
                (Some(_), None) => ("events_by_category", "category = ?".to_owned()),
                (None, Some(_)) => ("events_by_type", "event_type = ?".to_owned()),
                (None, None) => unreachable!("a plan with arms has categories or event types"),
            };
            params.extend(category.iter().chain(event_type.iter()).map(|value| Value::Text((*value).clone())));
            shared(prefix, &mut conditions, &mut params);
            let arm = format!("SELECT {EVENT_COLUMNS} FROM events INDEXED BY {index} WHERE {conditions}");
            arms.push(format!("SELECT * FROM ({arm} ORDER BY position {order} LIMIT {limit})"));
        }
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

pub(crate) use crate::events_table::clamp_i64;

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
    fn category_filters_use_one_limited_arm_per_combination() {
        let plan = FilterPlan::Arms {
            categories: vec!["a".into(), "b".into()],
            event_types: vec!["T".into(), "U".into()],
            prefix: None,
        };
        let (sql, params) = page_query(&plan, Some(10), Direction::Forwards, 50);
        assert_eq!(sql.matches("UNION ALL").count(), 3);
        assert_eq!(sql.matches("LIMIT 50").count(), 5);
        assert_eq!(sql.matches("INDEXED BY events_by_category_type").count(), 4);
        assert_eq!(params.len(), 12);
    }

    #[test]
    fn a_prefix_with_no_upper_bound_finds_every_category_it_starts() {
        use crate::{ExpectedVersion, NewEvent, Store};
        let store = Store::open_in_memory().unwrap();
        for stream in ["\u{10FFFF}", "\u{10FFFF}\u{10FFFF}", "\u{10FFFF}a-1", "z-1"] {
            store.append_to_stream(stream, &[NewEvent::json("T", &1)], ExpectedVersion::Any).unwrap();
        }
        let filter = EventFilter::all().stream_prefix("\u{10FFFF}");
        let events = store.read_all(&ReadAllOptions::forwards().filter(filter.clone())).unwrap().events;
        let streams: Vec<&str> = events.iter().map(|event| event.stream.as_str()).collect();
        assert_eq!(streams, ["\u{10FFFF}", "\u{10FFFF}\u{10FFFF}", "\u{10FFFF}a-1"]);
        assert!(events.iter().all(|event| filter.matches(event)));
    }

    #[test]
    fn filters_over_the_combination_limit_are_refused() {
        let types: Vec<String> = (0..17).map(|n| format!("T{n}")).collect();
        let categories: Vec<String> = (0..16).map(|n| format!("c{n}")).collect();
        let filter = EventFilter { stream_prefix: None, categories: categories.clone(), event_types: types.clone() };
        assert_eq!(filter.validate().unwrap_err().argument, "filter");
        let at_limit =
            EventFilter { categories: categories[..16].to_vec(), event_types: types[..16].to_vec(), ..filter };
        assert!(at_limit.validate().is_ok());
        let many_types = EventFilter::all();
        let many_types = (0..MAX_FILTER_COMBINATIONS).fold(many_types, |f, n| f.event_type(format!("T{n}")));
        assert!(many_types.validate().is_ok());
        assert!(many_types.clone().event_type("extra").validate().is_err());
        assert!(many_types.event_type("T0").validate().is_ok(), "repeats do not count");
    }

    /// The cost of reading after the last match, counted in SQLite VM instructions (deterministic, unlike time).
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    fn caught_up_cost(store: &crate::Store, filter: &EventFilter) -> u64 {
        let last = store.read_all(&ReadAllOptions::backwards().max_count(1).filter(filter.clone())).unwrap().events;
        let cursor = last.first().expect("the filter matches the head block").position;
        store.with_writer(|connection| {
            let steps = crate::vm_steps::VmSteps::start(connection);
            let events = crate::store::read_log_page(
                connection,
                &ReadAllOptions::forwards().after(cursor).filter(filter.clone()),
            )
            .unwrap();
            let steps = steps.stop(connection);
            assert!(events.is_empty(), "{filter:?} is caught up");
            steps
        })
    }

    /// Every filter shape costs the same after its last match whatever the log's size: the same reads over a log
    /// with 2,400 and then 24,000 non-matching events after the matches.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    #[test]
    fn caught_up_filtered_reads_cost_the_same_at_ten_times_the_log() {
        use crate::{ExpectedVersion, NewEvent, Store};
        let shapes = [
            EventFilter::all().category("order").event_type("Placed"),
            EventFilter::all().stream_prefix("orde").event_type("Placed"),
            EventFilter::all().stream_prefix("order-").event_type("Placed"),
            EventFilter::all().stream_prefix("inv"),
            EventFilter::all().stream_prefix("invoice-"),
            EventFilter::all().category("invoice"),
            EventFilter::all().event_type("Issued"),
            EventFilter::all().category("order").category("invoice").event_type("Placed").event_type("Issued"),
        ];
        let store = Store::open_in_memory().unwrap();
        let one = |stream: &str, event_type: &str| {
            store.append_to_stream(stream, &[NewEvent::json(event_type, &1)], ExpectedVersion::Any).unwrap();
        };
        one("order-1", "Placed");
        one("invoice-1", "Issued");
        let grow = |events: usize| {
            for round in 0..events / 600 {
                for (category, event_type) in [("order", "Other"), ("user", "Placed"), ("ordinal", "Other")] {
                    let events: Vec<NewEvent> = (0..200).map(|_| NewEvent::json(event_type, &0)).collect();
                    let stream = format!("{category}-{}", round % 50 + 2);
                    store.append_to_stream(&stream, &events, ExpectedVersion::Any).unwrap();
                }
            }
        };
        grow(2_400);
        let small: Vec<u64> = shapes.iter().map(|filter| caught_up_cost(&store, filter)).collect();
        grow(21_600);
        let large: Vec<u64> = shapes.iter().map(|filter| caught_up_cost(&store, filter)).collect();
        for ((filter, small), large) in shapes.iter().zip(&small).zip(&large) {
            assert!(*large <= small * 3 / 2 + 100, "{filter:?}: {small} VM steps at 2.4k events, {large} at 24k");
        }
    }
}
