//! `eventlite tail`: follows new events live, from a local store (a subscription, which also sees other processes'
//! commits) or from a sync server (its pull endpoint by cursor: nothing but the cursor is kept, so memory stays one
//! page whatever the tenant's log). Ctrl-C (SIGINT) or SIGTERM stops it cleanly, exit 0, whatever it is doing.

use std::time::Duration;

use clap::Args;
use eventlite::sync::{Backoff, ServerEvent, WireData};
use eventlite::{EventFilter, RecordedEvent, StartFrom, Store, SubscriptionOptions};
use eventlite_client::{ClientError, SyncClient};
use tokio::sync::watch;

use crate::cli::exit::CliError;
use crate::cli::output::Format;
use crate::cli::read::{FilterArgs, Printer};
use crate::cli::target::StoreArgs;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  eventlite tail --store app.db                       new events as they are committed
  eventlite tail --store app.db --category order --json
  eventlite tail --store app.db --from-start          the whole log, then new events
  eventlite tail --server http://127.0.0.1:8080 --token demo-token --type Placed

With --server, positions are the server's; the server is pulled every 0.5 s once caught up (errors are reported on
stderr and retried; a refused token, exit 1).")]
pub struct Tail {
    #[command(flatten)]
    pub target: StoreArgs,
    /// Follow a sync server's log instead of a local store.
    #[arg(long, value_name = "URL", conflicts_with_all = ["store", "data_dir", "tenant"], requires = "token")]
    pub server: Option<String>,
    /// The server's bearer token.
    #[arg(long, env = "EVENTLITE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the log from its start first (default: only events committed from now on).
    #[arg(long, conflicts_with = "after")]
    pub from_start: bool,
    /// Print events after this position first (local store only).
    #[arg(long, value_name = "POSITION", conflicts_with = "server")]
    pub after: Option<u64>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// JSON Lines, also the default when stdout is not a terminal.
    #[arg(long)]
    pub json: bool,
}

/// How long `tail --server` waits between pulls once it has caught up with the server's head.
const POLL: Duration = Duration::from_millis(500);

pub fn run(args: Tail) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|error| CliError::io("the async runtime", &error))?;
    // First of all: from here on SIGINT and SIGTERM stop the command cleanly (exit 0), never kill it.
    let stop = stop_on_signal(&runtime)?;
    let format = Format::choose(args.json);
    let start = match (args.from_start, args.after) {
        (true, _) => StartFrom::Start,
        (false, Some(position)) => StartFrom::After(position),
        (false, None) => StartFrom::End,
    };
    match (&args.server, args.target.given()) {
        (Some(server), _) => {
            let token = args.token.clone().unwrap_or_default();
            let from_start = start == StartFrom::Start;
            runtime.block_on(follow_server(server, &token, from_start, &args.filter.filter(), format, stop))
        }
        (None, true) => {
            let store = args.target.open_read_only()?;
            let options = SubscriptionOptions::from(start).filter(args.filter.filter());
            let subscription = store.subscribe_to_all(options)?;
            let path = args.target.path()?;
            eprintln!(
                "eventlite: following {} after position {} (Ctrl-C stops)",
                path.display(),
                subscription.position()
            );
            follow(subscription, format, &stop)
        }
        (None, false) => Err(CliError::usage("give --store FILE, --data-dir DIR --tenant NAME, or --server URL")),
    }
}

/// Prints what the subscription delivers until `stop` turns true.
fn follow(
    mut subscription: eventlite::Subscription,
    format: Format,
    stop: &watch::Receiver<bool>,
) -> Result<(), CliError> {
    let mut printer = Printer::new(format);
    while !*stop.borrow() {
        let events = subscription.wait(Duration::from_millis(200))?;
        printer.page(&events)?;
    }
    Ok(())
}

/// Follows a server's log by pull cursor until `stop` turns true: catches up to the head (printing only with
/// `from_start`), says so on stderr, then pulls again every [`POLL`]. Only the cursor is kept; filters apply here.
/// A failure that retrying can fix (the server is down, busy, ...) is reported on stderr and retried with backoff; one
/// it cannot (a refused or expired token, ...) ends the command with its code (exit 1). A reset log (`LOG_RESET`)
/// is followed again from its new head.
async fn follow_server(
    server: &str,
    token: &str,
    from_start: bool,
    filter: &EventFilter,
    format: Format,
    mut stop: watch::Receiver<bool>,
) -> Result<(), CliError> {
    // The client's store is never written: pages are printed, not applied.
    let client = SyncClient::new(server, token, Store::open_in_memory()?);
    let mut printer = Printer::new(format);
    let mut cursor: Option<String> = None;
    let mut printing = from_start;
    let mut following = false;
    let mut head = 0u64;
    let mut failing = false;
    let mut backoff = Backoff::new(eventlite::Uuid::new_v4().as_u64_pair().0);
    loop {
        let pulled = tokio::select! {
            pulled = client.get_pull(cursor.as_deref()) => pulled,
            _ = stop.wait_for(|stop| *stop) => return Ok(()),
        };
        let delay = match pulled {
            Ok(page) => {
                if failing {
                    eprintln!("eventlite: {server} answers again");
                    failing = false;
                }
                backoff.reset();
                if printing {
                    let events: Vec<RecordedEvent> = page.events.iter().map(recorded).collect::<Result<_, _>>()?;
                    let matching: Vec<RecordedEvent> = events.into_iter().filter(|e| filter.matches(e)).collect();
                    printer.page(&matching)?;
                }
                head = page.events.last().map_or(head, |event| event.position);
                cursor = Some(page.cursor);
                if page.more {
                    continue;
                }
                if !following {
                    eprintln!("eventlite: following {server} after position {head} (Ctrl-C stops)");
                    following = true;
                }
                printing = true;
                POLL
            }
            Err(error) if error.code() == ClientError::LOG_RESET => {
                eprintln!("eventlite: error[{}]: {error}: following the new log from its head", error.code());
                (cursor, printing, head) = (None, false, 0);
                backoff.after_failure(true)
            }
            Err(error) if error.is_retryable() => {
                eprintln!("eventlite: error[{}]: {error} (retrying)", error.code());
                failing = true;
                backoff.after_failure(true)
            }
            Err(error) => return Err(error.into()),
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stop| *stop) => return Ok(()),
        }
    }
}

/// A server's event as the printer shows it: its position is the server's.
fn recorded(event: &ServerEvent) -> Result<RecordedEvent, CliError> {
    let wire = WireData {
        data: event.data.clone(),
        data_base64: event.data_base64.clone(),
        content_type: event.content_type.clone(),
    };
    let data = wire.to_event_data(0).map_err(|error| {
        CliError::new(
            crate::cli::exit::FAILURE,
            "SYNC_PROTOCOL",
            format!("the server sent an unreadable event: {error}"),
        )
    })?;
    Ok(RecordedEvent {
        position: event.position,
        event_id: event.event_id,
        stream: event.stream.clone(),
        version: event.version,
        event_type: event.event_type.clone(),
        data,
        metadata: event.metadata.as_ref().map(|raw| raw.get().to_owned()),
        recorded_at: event.recorded_at,
    })
}

/// Installs the SIGINT and SIGTERM handlers now (before anything is printed, so a signal can never kill the process)
/// and turns the returned flag true when one arrives.
fn stop_on_signal(runtime: &tokio::runtime::Runtime) -> Result<watch::Receiver<bool>, CliError> {
    let (send, receive) = watch::channel(false);
    let _context = runtime.enter();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // `signal` registers the handler when called, not when first polled.
        let mut interrupt = signal(SignalKind::interrupt()).map_err(|error| CliError::io("SIGINT", &error))?;
        let mut terminate = signal(SignalKind::terminate()).map_err(|error| CliError::io("SIGTERM", &error))?;
        runtime.spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            send.send_replace(true);
        });
    }
    #[cfg(not(unix))]
    runtime.spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        send.send_replace(true);
    });
    Ok(receive)
}
