//! The [`Downloader`]: cache first, then one transfer per URL through the pool, retried with
//! backoff, validated, and only then renamed to its final name.

use super::pool::Pool;
use super::report::Reporter;
use super::stored::{self, ClipRecord, Records};
use super::transfer::{self, Attempt, Failure};
use super::validate::{self, Invalid};
use super::{DownloadError, DownloadRequest, DownloadSettings, DownloadUpdate, Downloaded};
use crate::fsutil::PartGuard;
use crate::media::probe::MediaInfo;
use crate::providers::footage::MediaKind;
use crate::providers::http::client_via;
use crate::retry::RetryPolicy;
use crate::store::Cache;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

/// The shared parallel downloader; cheap to clone (all clones share one pool and one client).
#[derive(Clone)]
pub struct Downloader {
    inner: Arc<Inner>,
}

struct Inner {
    clips_dir: PathBuf,
    settings: DownloadSettings,
    client: reqwest::Client,
    records: Records,
    pool: Pool,
    network: AtomicU64,
}

impl Downloader {
    /// `clips_dir`: where validated clips live (`<clips_dir>/<hash[..2]>/<hash>.<ext>`, hash =
    /// blake3 of the URL). `cache`: remembers each stored clip's size and probe results.
    pub fn new(
        clips_dir: PathBuf,
        settings: DownloadSettings,
        cache: Option<Cache>,
    ) -> Result<Downloader, DownloadError> {
        let storage = |message: String| DownloadError::Storage {
            path: clips_dir.clone(),
            message,
        };
        std::fs::create_dir_all(&clips_dir).map_err(|e| storage(e.to_string()))?;
        // reqwest's read timeout is the stall timeout: it bounds the wait for headers and for
        // every body read, never the whole transfer.
        let client = client_via(
            settings.stall_timeout,
            settings.connect_timeout,
            settings.proxy.as_ref(),
        )
        .map_err(|e| DownloadError::Setup(e.to_string()))?;
        let pool = Pool::new(settings.max_downloads, settings.per_host);
        Ok(Downloader {
            inner: Arc::new(Inner {
                clips_dir,
                settings,
                client,
                records: Records::new(cache),
                pool,
                network: AtomicU64::new(0),
            }),
        })
    }

    /// Total bytes received over the network by this downloader since it was made.
    pub fn network_bytes(&self) -> u64 {
        self.inner.network.load(Ordering::Relaxed)
    }

    /// Where `url` is (or would be) stored.
    pub fn stored_path(&self, url: &str, kind: MediaKind) -> PathBuf {
        stored::stored_path(&self.inner.clips_dir, url, kind)
    }

    /// Returns the validated clip of `request.url`, downloading it only if it is not stored.
    pub async fn fetch(
        &self,
        request: DownloadRequest,
        updates: &(dyn Fn(DownloadUpdate) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<Downloaded, DownloadError> {
        if cancel.is_cancelled() {
            return Err(DownloadError::Cancelled);
        }
        let inner = &self.inner;
        let mut report = Reporter::new(&request, updates);
        let path = self.stored_path(&request.url, request.kind);
        if let Some(hit) = self.lookup(&request, &path, &report, cancel).await? {
            return Ok(hit);
        }
        // A second fetch of a URL being downloaded waits here, then finds the file stored.
        let _url = inner
            .pool
            .lock_url(&request.url, || report.queued(), cancel)
            .await?;
        if let Some(hit) = self.lookup(&request, &path, &report, cancel).await? {
            return Ok(hit);
        }
        let max = inner.settings.max_bytes;
        if request.expected_bytes.is_some_and(|bytes| bytes > max) {
            let reason = format!("larger than the {} cap", super::megabytes(max));
            return Err(reject(&request, &report, reason));
        }
        let Some(host) = host_of(&request.url) else {
            return Err(reject(&request, &report, "not a usable http(s) URL".into()));
        };
        let _slot = inner.pool.slot(&host, || report.queued(), cancel).await?;
        self.download(&request, &path, &mut report, cancel).await
    }

    /// The stored clip, if there is one that can be trusted.
    async fn lookup(
        &self,
        request: &DownloadRequest,
        path: &Path,
        report: &Reporter<'_>,
        cancel: &CancellationToken,
    ) -> Result<Option<Downloaded>, DownloadError> {
        let size = match tokio::fs::metadata(path).await {
            Ok(meta) if meta.is_file() => meta.len(),
            _ => return Ok(None),
        };
        let records = &self.inner.records;
        let record = match records.get(&request.url) {
            Some(record) if record.size == size => record,
            Some(_) => {
                // Changed since it was recorded: it cannot be trusted, so fetch it again.
                records.remove(&request.url);
                remove_stored(path).await?;
                return Ok(None);
            }
            None => {
                // Stored but not remembered (cache cleared): a probe is cheaper than a download.
                let info = if self.inner.settings.validate_media {
                    match validate::probe_stored(path, cancel).await {
                        Ok(info) => Some(info),
                        Err(Invalid::Rejected(_)) => {
                            remove_stored(path).await?;
                            return Ok(None);
                        }
                        Err(other) => return Err(invalid_error(other, path)),
                    }
                } else {
                    None
                };
                let record = ClipRecord::new(path, size, info.as_ref(), 0);
                records.put(&request.url, &record);
                record
            }
        };
        report.cached(size);
        Ok(Some(Downloaded {
            path: path.to_path_buf(),
            network_bytes: 0,
            size,
            from_cache: true,
            download_ms: record.download_ms,
            width: record.width,
            height: record.height,
            duration: record.duration,
        }))
    }

    /// Transfers (with retries), validates and stores the clip; the part file is removed on
    /// every way out except success, including this future being dropped.
    async fn download(
        &self,
        request: &DownloadRequest,
        path: &Path,
        report: &mut Reporter<'_>,
        cancel: &CancellationToken,
    ) -> Result<Downloaded, DownloadError> {
        let inner = &self.inner;
        let settings = &inner.settings;
        let part = PartGuard::for_final(path);
        let storage = |message: String| DownloadError::Storage {
            path: path.to_path_buf(),
            message,
        };
        let attempt = Attempt {
            client: &inner.client,
            url: &request.url,
            part: part.path(),
            settings,
            expected: request.expected_bytes,
            counter: &inner.network,
        };
        let max_attempts = settings.max_attempts.max(1);
        let policy = RetryPolicy {
            max_attempts,
            base: settings.backoff_base,
            max: settings.backoff_max,
        };
        let mut failures = 0;
        let size = loop {
            let reason = match transfer::attempt(&attempt, report, cancel).await {
                Ok(size) => break size,
                Err(Failure::Transient {
                    reason,
                    retry_after,
                }) => {
                    failures += 1;
                    let delay = (failures < max_attempts)
                        .then(|| policy.delay(failures, retry_after))
                        .flatten();
                    match delay {
                        Some(delay) => {
                            tracing::debug!("{}: retry in {delay:?}: {reason}", request.label);
                            report.retrying(&reason, delay);
                            tokio::select! {
                                _ = cancel.cancelled() => return Err(DownloadError::Cancelled),
                                _ = tokio::time::sleep(delay) => continue,
                            }
                        }
                        None if failures < max_attempts => {
                            format!("gave up: the server asks to wait too long ({reason})")
                        }
                        None => format!("gave up after {failures} tries: {reason}"),
                    }
                }
                Err(Failure::Rejected(reason)) => reason,
                Err(Failure::Storage(message)) => return Err(storage(message)),
                Err(Failure::Cancelled) => return Err(DownloadError::Cancelled),
            };
            return Err(reject(request, report, reason));
        };
        report.stop_clock();
        let download_ms = report.elapsed_ms();

        let info: Option<MediaInfo> = if settings.validate_media {
            match validate::validate(part.path(), request.kind, cancel).await {
                Ok(info) => Some(info),
                Err(Invalid::Rejected(reason)) => return Err(reject(request, report, reason)),
                Err(other) => return Err(invalid_error(other, path)),
            }
        } else {
            None
        };
        let final_path = path.to_path_buf();
        // fsync of a large file blocks; keep it off the async workers.
        tokio::task::spawn_blocking(move || part.commit(&final_path))
            .await
            .map_err(|e| storage(format!("storing the clip failed: {e}")))?
            .map_err(|e| storage(e.to_string()))?;

        let record = ClipRecord::new(path, size, info.as_ref(), download_ms);
        inner.records.put(&request.url, &record);
        report.done(size);
        Ok(Downloaded {
            path: path.to_path_buf(),
            network_bytes: report.network,
            size,
            from_cache: false,
            download_ms,
            width: record.width,
            height: record.height,
            duration: record.duration,
        })
    }
}

/// `host:port` of `url`, the key of the per-host limit.
fn host_of(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

fn reject(request: &DownloadRequest, report: &Reporter<'_>, reason: String) -> DownloadError {
    // The reason is built from statuses and causes, never from the URL, so no key leaks;
    // redacting again costs nothing and guards against a cause that quotes one.
    let reason = super::redact_urls(&reason);
    tracing::info!("{}: {} rejected: {reason}", request.source, request.label);
    report.rejected(&reason);
    DownloadError::Rejected {
        source_name: request.source.clone(),
        label: request.label.clone(),
        reason,
    }
}

fn invalid_error(invalid: Invalid, path: &Path) -> DownloadError {
    match invalid {
        Invalid::Cancelled => DownloadError::Cancelled,
        Invalid::Local(message) | Invalid::Rejected(message) => DownloadError::Storage {
            path: path.to_path_buf(),
            message,
        },
    }
}

async fn remove_stored(path: &Path) -> Result<(), DownloadError> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DownloadError::Storage {
            path: path.to_path_buf(),
            message: format!("cannot remove a stale clip: {e}"),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tasks spawn fetches on the multi-threaded runtime, so the future must be `Send`.
    #[allow(dead_code)]
    fn fetch_is_send(dl: &Downloader, request: DownloadRequest, cancel: &CancellationToken) {
        fn send<T: Send>(_: T) {}
        send(dl.fetch(request, &|_| {}, cancel));
    }

    #[test]
    fn host_key_includes_the_default_port() {
        assert_eq!(
            host_of("https://cdn.example/v.mp4?key=1").as_deref(),
            Some("cdn.example:443")
        );
        assert_eq!(
            host_of("http://127.0.0.1:8080/a").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(host_of("file:///tmp/a.mp4"), None);
        assert_eq!(host_of("not a url"), None);
    }
}
