//! Live sync: follow the server's `GET /v1/live` notifications and sync whenever its head moves.

use std::time::Duration;

use eventlite::sync::{LiveFeed, SyncReport};
use futures_util::StreamExt;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use tokio::sync::watch;

use crate::ClientError;
use crate::sync_client::{SyncClient, describe, failure, random_seed};

/// Rounds a head notice may take to succeed before the connection is dropped and made again.
const ROUND_ATTEMPTS: usize = 5;

impl SyncClient {
    /// Follows the server's live notifications until `stop` turns true: syncs at once on connecting and whenever
    /// the server's head moves, and calls `on_sync` after each sync. Reconnects with core's backoff and jitter
    /// ([`LiveFeed::on_lost`]) and resumes from the stored cursor, so stopping and starting again loses nothing.
    pub async fn run_live(&self, mut stop: watch::Receiver<bool>, on_sync: impl Fn(&SyncReport) + Send + Sync) {
        let mut feed = LiveFeed::new(random_seed());
        while !*stop.borrow() {
            let error = tokio::select! {
                error = self.follow(&on_sync, &mut feed) => error,
                _ = stop.wait_for(|stop| *stop) => return,
            };
            if error.is_retryable() {
                tracing::debug!(%error, "live connection ended");
            } else {
                tracing::warn!(%error, "live sync failed; retrying later");
            }
            if let Some(handler) = &self.on_live_error {
                handler(&error);
            }
            let delay = feed.on_lost(&error);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// One live connection, until it fails (it never ends well: the server keeps it open).
    async fn follow(&self, on_sync: &(impl Fn(&SyncReport) + Send + Sync), feed: &mut LiveFeed) -> ClientError {
        let connect = self
            .http
            .get(format!("{}/v1/live", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(ACCEPT, "text/event-stream");
        let response = match tokio::time::timeout(self.request_timeout, connect.send()).await {
            Err(_) => return ClientError::Transport("the live endpoint did not answer in time".into()),
            Ok(Err(error)) => return failure("GET /v1/live", &error),
            Ok(Ok(response)) => response,
        };
        if response.status().as_u16() != 200 {
            let status = response.status().as_u16();
            let body = tokio::time::timeout(Duration::from_secs(5), response.bytes()).await;
            let body = body.ok().and_then(Result::ok).unwrap_or_default();
            return ClientError::from_http(status, &body);
        }
        feed.on_connect();
        let mut body = response.bytes_stream();
        loop {
            // Keep-alives arrive every 15 s: a longer silence means a dead connection (no FIN ever came).
            let chunk = match tokio::time::timeout(self.live_gap, body.next()).await {
                Err(_) => {
                    let silence = self.live_gap.as_secs_f64();
                    return ClientError::Transport(format!("the live stream was silent for {silence} s"));
                }
                Ok(None) => return ClientError::Transport("the live stream ended".into()),
                Ok(Some(Err(error))) => {
                    return ClientError::Transport(format!("the live stream failed: {}", describe(&error)));
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            match feed.on_bytes(&chunk) {
                Err(error) => return error,
                Ok(false) => {}
                Ok(true) => match self.sync_with_retry(ROUND_ATTEMPTS).await {
                    Ok(report) => {
                        feed.on_synced();
                        on_sync(&report);
                    }
                    Err(error) => return error,
                },
            }
        }
    }
}
