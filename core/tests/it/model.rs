//! The store against a simple in-memory model: random appends (every expectation kind, retries, reused ids), reads
//! and reopenings. Checked after every step: dense versions per stream, strictly increasing and never reused
//! positions, reads in commit order, and the model and the store agreeing on every result.

use eventlite::{
    AppendError, AppendResult, Direction, EventFilter, ExpectedVersion, NewEvent, ReadAllOptions, ReadStreamOptions,
    Store, Uuid,
};
use proptest::prelude::*;

const STREAMS: [&str; 3] = ["a-1", "a-2", "b-1"];

#[derive(Debug, Clone)]
enum Expect {
    Any,
    NoStream,
    StreamExists,
    ExactCurrent,
    ExactWrong(u64),
}

#[derive(Debug, Clone)]
enum Op {
    Append { stream: usize, count: usize, expect: Expect },
    Retry { pick: usize },
    ReuseId { pick: usize },
    ReadStream { stream: usize, from: Option<u64>, backwards: bool, max: usize },
    ReadAll { after: Option<u64>, backwards: bool, max: usize, category: Option<usize> },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let expect = prop_oneof![
        Just(Expect::Any),
        Just(Expect::NoStream),
        Just(Expect::StreamExists),
        Just(Expect::ExactCurrent),
        (0..3u64).prop_map(Expect::ExactWrong),
    ];
    prop_oneof![
        6 => (0..3usize, 0..4usize, expect).prop_map(|(stream, count, expect)| Op::Append { stream, count, expect }),
        2 => any::<usize>().prop_map(|pick| Op::Retry { pick }),
        1 => any::<usize>().prop_map(|pick| Op::ReuseId { pick }),
        2 => (0..3usize, proptest::option::of(0..8u64), any::<bool>(), 1..5usize)
            .prop_map(|(stream, from, backwards, max)| Op::ReadStream { stream, from, backwards, max }),
        2 => (proptest::option::of(0..30u64), any::<bool>(), 1..8usize, proptest::option::of(0..2usize))
            .prop_map(|(after, backwards, max, category)| Op::ReadAll { after, backwards, max, category }),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Clone)]
struct ModelEvent {
    id: Uuid,
    stream: String,
    version: u64,
    position: u64,
}

#[derive(Default)]
struct Model {
    log: Vec<ModelEvent>,
    batches: Vec<(String, Vec<NewEvent>, AppendResult)>,
    next_id: u128,
}

impl Model {
    fn version(&self, stream: &str) -> u64 {
        self.log.iter().filter(|e| e.stream == stream).count() as u64
    }

    fn head(&self) -> u64 {
        self.log.last().map_or(0, |e| e.position)
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.db");
    let mut store = Store::open(&path).unwrap();
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Append { stream, count, expect } => {
                let stream = STREAMS[stream];
                let current = model.version(stream);
                let expected = match expect {
                    Expect::Any => ExpectedVersion::Any,
                    Expect::NoStream => ExpectedVersion::NoStream,
                    Expect::StreamExists => ExpectedVersion::StreamExists,
                    Expect::ExactCurrent => ExpectedVersion::Exact(current),
                    Expect::ExactWrong(offset) => ExpectedVersion::Exact(current + 1 + offset),
                };
                let events: Vec<NewEvent> = (0..count)
                    .map(|n| {
                        model.next_id += 1;
                        NewEvent::json(format!("T{n}"), &model.next_id).with_id(Uuid::from_u128(model.next_id))
                    })
                    .collect();
                let result = store.append_to_stream(stream, &events, expected);
                if expected.is_satisfied_by(current) {
                    let result = result.map_err(|e| TestCaseError::fail(format!("append failed: {e}")))?;
                    prop_assert_eq!(result.stream_version, current + count as u64);
                    prop_assert!(!result.already_appended);
                    let mut previous = model.head();
                    for (index, (event, position)) in events.iter().zip(&result.positions).enumerate() {
                        prop_assert!(*position > previous, "positions strictly increase and are never reused");
                        previous = *position;
                        model.log.push(ModelEvent {
                            id: event.event_id.unwrap(),
                            stream: stream.to_owned(),
                            version: current + index as u64 + 1,
                            position: *position,
                        });
                    }
                    if count > 0 {
                        model.batches.push((stream.to_owned(), events, result));
                    }
                } else {
                    prop_assert_eq!(
                        result,
                        Err(AppendError::WrongExpectedVersion { stream: stream.to_owned(), expected, actual: current })
                    );
                }
            }
            Op::Retry { pick } => {
                if model.batches.is_empty() {
                    continue;
                }
                let (stream, events, original) = &model.batches[pick % model.batches.len()];
                let retry = store.append_to_stream(stream, events, ExpectedVersion::NoStream);
                let retry = retry.map_err(|e| TestCaseError::fail(format!("retry failed: {e}")))?;
                prop_assert!(retry.already_appended);
                prop_assert_eq!(&retry.positions, &original.positions);
                prop_assert_eq!(retry.stream_version, original.stream_version);
            }
            Op::ReuseId { pick } => {
                if model.batches.is_empty() {
                    continue;
                }
                let (stream, events, _) = &model.batches[pick % model.batches.len()];
                let mut changed = events[0].clone();
                changed.event_type = "Changed".into();
                let error = store.append_to_stream(stream, &[changed], ExpectedVersion::Any).unwrap_err();
                prop_assert_eq!(error.code().as_str(), "IDEMPOTENCY_CONFLICT");
            }
            Op::ReadStream { stream, from, backwards, max } => {
                let stream = STREAMS[stream];
                let mut options =
                    if backwards { ReadStreamOptions::backwards() } else { ReadStreamOptions::forwards() };
                options = options.max_count(max);
                if let Some(from) = from {
                    options = options.from_version(from);
                }
                let slice = store.read_stream(stream, options).unwrap();
                let mut expected: Vec<&ModelEvent> = model
                    .log
                    .iter()
                    .filter(|e| e.stream == stream)
                    .filter(|e| match (from, backwards) {
                        (None, _) => true,
                        (Some(from), false) => e.version >= from,
                        (Some(from), true) => e.version <= from,
                    })
                    .collect();
                if backwards {
                    expected.reverse();
                }
                expected.truncate(max);
                prop_assert_eq!(slice.stream_version, model.version(stream));
                let got: Vec<(Uuid, u64, u64)> =
                    slice.events.iter().map(|e| (e.event_id, e.version, e.position)).collect();
                let want: Vec<(Uuid, u64, u64)> = expected.iter().map(|e| (e.id, e.version, e.position)).collect();
                prop_assert_eq!(got, want);
            }
            Op::ReadAll { after, backwards, max, category } => {
                let mut options = if backwards { ReadAllOptions::backwards() } else { ReadAllOptions::forwards() };
                options = options.max_count(max);
                if let Some(after) = after {
                    options = options.after(after);
                }
                let category = category.map(|c| ["a", "b"][c]);
                if let Some(category) = category {
                    options = options.filter(EventFilter::all().category(category));
                }
                let slice = store.read_all(&options).unwrap();
                let mut expected: Vec<&ModelEvent> = model
                    .log
                    .iter()
                    .filter(|e| category.is_none_or(|c| e.stream.starts_with(&format!("{c}-"))))
                    .filter(|e| match (after, options.direction) {
                        (None, _) => true,
                        (Some(after), Direction::Forwards) => e.position > after,
                        (Some(after), Direction::Backwards) => e.position < after,
                    })
                    .collect();
                if backwards {
                    expected.reverse();
                }
                expected.truncate(max);
                prop_assert_eq!(slice.head_position, model.head());
                let got: Vec<(Uuid, u64)> = slice.events.iter().map(|e| (e.event_id, e.position)).collect();
                let want: Vec<(Uuid, u64)> = expected.iter().map(|e| (e.id, e.position)).collect();
                prop_assert_eq!(got, want);
            }
            Op::Reopen => {
                drop(store);
                store = Store::open(&path).unwrap();
            }
        }
        prop_assert_eq!(store.head_position().unwrap(), model.head());
        for stream in STREAMS {
            prop_assert_eq!(store.stream_version(stream).unwrap(), model.version(stream));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops)?;
    }
}
