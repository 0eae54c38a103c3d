//! The live stream's frames (`docs/sync-protocol.md` §3.3): server-sent events announcing the tenant's head.

/// The frame announcing that the tenant's log reaches `position`: `event: head` with `{"position": N}`.
pub fn head_frame(position: u64) -> String {
    format!("event: head\ndata: {{\"position\":{position}}}\n\n")
}

/// The comment frame that keeps an idle live stream open through proxies.
pub const KEEP_ALIVE_FRAME: &str = ":\n\n";

#[cfg(test)]
mod tests {
    #[test]
    fn the_head_frame_is_one_server_sent_event() {
        assert_eq!(super::head_frame(42), "event: head\ndata: {\"position\":42}\n\n");
    }
}
