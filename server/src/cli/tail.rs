//! `eventlite tail`: follows new events live, from a local store (a subscription, which also sees other processes'
//! commits) or from a sync server (pulled into a memory replica as the server's live notifications arrive). Ctrl-C
//! (SIGINT) or SIGTERM stops it cleanly, exit 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use eventlite::{StartFrom, Store, SubscriptionOptions};
use eventlite_client::SyncClient;

use crate::cli::exit::CliError;
use crate::cli::output::Format;
use crate::cli::read::{FilterArgs, Printer};
use crate::cli::target::StoreArgs;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  eventlite tail --store app.db                       new events as they are committed
  eventlite tail --store app.db --category order --json
  eventlite tail --store app.db --from-start          the whole log, then new events
  eventlite tail --server http://127.0.0.1:8080 --token demo-token --type Placed")]
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

pub fn run(args: Tail) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|error| CliError::io("the async runtime", &error))?;
    let stop = Arc::new(AtomicBool::new(false));
    runtime.spawn(stop_on_signal(Arc::clone(&stop)));
    let format = Format::choose(args.json);
    let start = match (args.from_start, args.after) {
        (true, _) => StartFrom::Start,
        (false, Some(position)) => StartFrom::After(position),
        (false, None) => StartFrom::End,
    };
    match (&args.server, args.target.given()) {
        (Some(server), _) => {
            let token = args.token.clone().unwrap_or_default();
            let store = Store::open_in_memory()?;
            let client = SyncClient::new(server, &token, store.clone());
            // What the server holds now, so "from now on" starts at its head.
            runtime.block_on(client.sync_with_retry(3))?;
            let options = SubscriptionOptions::from(start).filter(args.filter.filter());
            let subscription = store.subscribe_to_all(options)?;
            eprintln!("eventlite: following {server} after position {} (Ctrl-C stops)", subscription.position());
            let (stop_live, stopped) = tokio::sync::watch::channel(false);
            let live = runtime.spawn(async move { client.run_live(stopped, |_| {}).await });
            let result = follow(subscription, format, &stop);
            stop_live.send_replace(true);
            let _ = runtime.block_on(live);
            result
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

/// Prints what the subscription delivers until `stop` is set.
fn follow(mut subscription: eventlite::Subscription, format: Format, stop: &AtomicBool) -> Result<(), CliError> {
    let mut printer = Printer::new(format);
    while !stop.load(Ordering::Relaxed) {
        let events = subscription.wait(Duration::from_millis(200))?;
        printer.page(&events)?;
    }
    Ok(())
}

async fn stop_on_signal(stop: Arc<AtomicBool>) {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                stop.store(true, Ordering::Relaxed);
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    stop.store(true, Ordering::Relaxed);
}
