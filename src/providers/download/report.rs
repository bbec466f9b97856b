//! Progress reports of one fetch: every update carries the request's label and source, and
//! `Downloading` updates are throttled so a fast transfer does not flood the dashboard.

use super::{DownloadRequest, DownloadState, DownloadUpdate};
use std::time::{Duration, Instant};

/// At most this often a `Downloading` update; people cannot read faster, and each update
/// travels through the event bus.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

pub(super) struct Reporter<'a> {
    request: &'a DownloadRequest,
    sink: &'a (dyn Fn(DownloadUpdate) + Send + Sync),
    /// When the transfer started (the first request was sent): speeds average from here.
    started: Option<Instant>,
    /// When the transfer ended; validation time does not count against the speed.
    finished: Option<Instant>,
    last_progress: Option<Instant>,
    /// Bytes received over the network by this fetch, all attempts together.
    pub network: u64,
    /// The latest progress, repeated by `Retrying` and `Rejected` updates.
    done: u64,
    total: Option<u64>,
}

impl<'a> Reporter<'a> {
    pub fn new(
        request: &'a DownloadRequest,
        sink: &'a (dyn Fn(DownloadUpdate) + Send + Sync),
    ) -> Self {
        Reporter {
            request,
            sink,
            started: None,
            finished: None,
            last_progress: None,
            network: 0,
            done: 0,
            total: None,
        }
    }

    pub fn start_clock(&mut self) {
        self.started.get_or_insert_with(Instant::now);
    }

    pub fn stop_clock(&mut self) {
        self.finished.get_or_insert_with(Instant::now);
    }

    fn elapsed(&self) -> Duration {
        let end = self.finished.unwrap_or_else(Instant::now);
        self.started
            .map_or(Duration::ZERO, |s| end.saturating_duration_since(s))
    }

    /// Milliseconds the transfer took (so far).
    pub fn elapsed_ms(&self) -> u64 {
        self.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
    }

    /// Average network speed since the transfer started.
    pub fn bytes_per_sec(&self) -> u64 {
        let secs = self.elapsed().as_secs_f64();
        if secs <= 0.0 {
            return 0;
        }
        (self.network as f64 / secs) as u64
    }

    pub fn queued(&self) {
        self.send(DownloadState::Queued, 0, None, None, None);
    }

    pub fn cached(&self, size: u64) {
        self.send(DownloadState::Cached, size, Some(size), None, None);
    }

    /// Sends a `Downloading` update unless one went out less than [`PROGRESS_EVERY`] ago;
    /// `force` is for the first one of an attempt, so the state change shows at once.
    pub fn progress(&mut self, done: u64, total: Option<u64>, force: bool) {
        self.done = done;
        self.total = total;
        let now = Instant::now();
        if !force
            && self
                .last_progress
                .is_some_and(|last| now.duration_since(last) < PROGRESS_EVERY)
        {
            return;
        }
        self.last_progress = Some(now);
        self.send(DownloadState::Downloading, done, total, None, None);
    }

    pub fn retrying(&self, reason: &str, retry_in: Duration) {
        let detail = Some(reason.to_string());
        let (done, total) = (self.done, self.total);
        self.send(DownloadState::Retrying, done, total, detail, Some(retry_in));
    }

    pub fn rejected(&self, reason: &str) {
        let (done, total) = (self.done, self.total);
        self.send(
            DownloadState::Rejected,
            done,
            total,
            Some(reason.into()),
            None,
        );
    }

    pub fn done(&self, size: u64) {
        self.send(DownloadState::Done, size, Some(size), None, None);
    }

    fn send(
        &self,
        state: DownloadState,
        done_bytes: u64,
        total_bytes: Option<u64>,
        detail: Option<String>,
        retry_in: Option<Duration>,
    ) {
        (self.sink)(DownloadUpdate {
            label: self.request.label.clone(),
            source: self.request.source.clone(),
            state,
            done_bytes,
            total_bytes,
            bytes_per_sec: self.bytes_per_sec(),
            detail,
            retry_in,
        });
    }
}
