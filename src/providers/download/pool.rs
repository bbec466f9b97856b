//! The download pool's limits: a global cap on transfers, a cap per `host:port`, and one lock
//! per URL so that two tasks asking for the same clip share one transfer.
//!
//! Every wait is cancellable; permits are RAII guards, so a failed, cancelled or dropped fetch
//! always frees its slot.

use super::DownloadError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Held while a transfer runs: one global slot and one slot of its host.
pub(super) struct Slot {
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

pub(super) struct Pool {
    global: Arc<Semaphore>,
    per_host: usize,
    /// Hosts are few (a handful of vendors and their CDNs): entries are kept for good.
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Weak so that finished URLs do not accumulate; dead entries are swept on insert.
    urls: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl Pool {
    pub fn new(max_downloads: usize, per_host: usize) -> Self {
        Pool {
            global: Arc::new(Semaphore::new(max_downloads.max(1))),
            per_host: per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
            urls: Mutex::new(HashMap::new()),
        }
    }

    /// Locks `url` for this fetch; `on_wait` runs once if another fetch of it is under way.
    pub async fn lock_url(
        &self,
        url: &str,
        on_wait: impl FnOnce(),
        cancel: &CancellationToken,
    ) -> Result<OwnedMutexGuard<()>, DownloadError> {
        let lock = {
            let mut urls = self.urls.lock().expect("url lock map poisoned");
            match urls.get(url).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    urls.retain(|_, weak| weak.strong_count() > 0);
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    urls.insert(url.to_string(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        if let Ok(guard) = lock.clone().try_lock_owned() {
            return Ok(guard);
        }
        on_wait();
        tokio::select! {
            _ = cancel.cancelled() => Err(DownloadError::Cancelled),
            guard = lock.lock_owned() => Ok(guard),
        }
    }

    /// Takes a slot of `host` and then a global one, so that a fetch waiting for a busy host
    /// does not sit on a global slot another host could use. `on_wait` runs once if either
    /// is not free at once.
    pub async fn slot(
        &self,
        host: &str,
        on_wait: impl FnOnce(),
        cancel: &CancellationToken,
    ) -> Result<Slot, DownloadError> {
        let host = self.host(host);
        let mut on_wait = Some(on_wait);
        let mut waiting = || {
            if let Some(f) = on_wait.take() {
                f();
            }
        };
        let host = acquire(host, &mut waiting, cancel).await?;
        let global = acquire(self.global.clone(), &mut waiting, cancel).await?;
        Ok(Slot {
            _host: host,
            _global: global,
        })
    }

    fn host(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().expect("host map poisoned");
        hosts
            .entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }
}

async fn acquire(
    semaphore: Arc<Semaphore>,
    waiting: &mut impl FnMut(),
    cancel: &CancellationToken,
) -> Result<OwnedSemaphorePermit, DownloadError> {
    if let Ok(permit) = semaphore.clone().try_acquire_owned() {
        return Ok(permit);
    }
    waiting();
    tokio::select! {
        _ = cancel.cancelled() => Err(DownloadError::Cancelled),
        // The semaphores are never closed, so acquiring only fails if that invariant breaks.
        permit = semaphore.acquire_owned() => Ok(permit.expect("download semaphores are never closed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn per_host_limit_queues_and_cancel_frees_the_waiter() {
        let pool = Pool::new(4, 1);
        let cancel = CancellationToken::new();
        let waits = AtomicUsize::new(0);
        let first = pool.slot("a:80", || panic!("free"), &cancel).await.unwrap();
        // Another host is not held up by host a.
        let _other = pool.slot("b:80", || panic!("free"), &cancel).await.unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        let second = pool
            .slot("a:80", || _ = waits.fetch_add(1, Ordering::SeqCst), &stop)
            .await;
        assert!(matches!(second, Err(DownloadError::Cancelled)));
        assert_eq!(waits.load(Ordering::SeqCst), 1);
        drop(first);
        assert!(pool.slot("a:80", || panic!("free"), &cancel).await.is_ok());
    }

    #[tokio::test]
    async fn url_locks_are_shared_then_forgotten() {
        let pool = Pool::new(1, 1);
        let cancel = CancellationToken::new();
        let guard = pool
            .lock_url("u", || panic!("free"), &cancel)
            .await
            .unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        let waited = AtomicUsize::new(0);
        let again = pool
            .lock_url("u", || _ = waited.fetch_add(1, Ordering::SeqCst), &stop)
            .await;
        assert!(matches!(again, Err(DownloadError::Cancelled)));
        assert_eq!(waited.load(Ordering::SeqCst), 1);
        drop(guard);
        let _guard = pool
            .lock_url("v", || panic!("free"), &cancel)
            .await
            .unwrap();
        assert_eq!(
            pool.urls.lock().unwrap().len(),
            1,
            "the dead entry was swept"
        );
    }
}
