//! Several API keys of one stock vendor, used in turn.
//!
//! Free stock plans limit requests per key, so people configure a few keys and each request
//! takes the next one (round-robin). A key the vendor rejects (401/403, Pixabay's
//! "Invalid or missing API key") is set aside for the rest of the run and the user is told
//! which one by position, never by value. The ring is shared by every task searching at once.
//! [`refusal`] tells a rejected key from the other ways a vendor says no.

use crate::config::{Secret, StockConfig};
use crate::providers::http::{classify_status, redact};
use crate::providers::{ProviderError, parse_retry_after};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What one request with a key came to.
pub enum Attempt<T> {
    Done(T),
    /// The vendor refused the key itself, with this HTTP status.
    Rejected(u16),
}

pub struct KeyRing {
    provider: String,
    env_var: String,
    keys: Vec<Secret>,
    /// Where the next turn starts; only a hint, so relaxed ordering is enough.
    cursor: AtomicUsize,
    /// Per key: the HTTP status it was rejected with, once set aside.
    rejected: Mutex<Vec<Option<u16>>>,
}

impl KeyRing {
    /// `provider` is the vendor's short name ("pexels"); `env_var` the variable people set the
    /// keys in, named in the error when every key is rejected. Blank keys are dropped.
    pub fn new(provider: &str, env_var: &str, keys: Vec<Secret>) -> KeyRing {
        let keys: Vec<Secret> = keys.into_iter().filter(|k| !k.is_empty()).collect();
        KeyRing {
            provider: provider.to_string(),
            env_var: env_var.to_string(),
            rejected: Mutex::new(vec![None; keys.len()]),
            keys,
            cursor: AtomicUsize::new(0),
        }
    }

    /// The keys of a `[footage.<provider>]` section; `Invalid` when there is none, naming the
    /// variable (`default_env` when the section names none) and the setting.
    pub fn from_config(
        provider: &str,
        vendor: &str,
        config: &StockConfig,
        default_env: &str,
    ) -> Result<KeyRing, ProviderError> {
        let env_var = match config.api_key_env.trim() {
            "" => default_env,
            set => set,
        };
        let ring = KeyRing::new(provider, env_var, config.keys());
        if ring.is_empty() {
            return Err(ProviderError::Invalid {
                provider: provider.into(),
                message: format!(
                    "no {vendor} API key: set {env_var} or [footage.{provider}] api_keys"
                ),
            });
        }
        Ok(ring)
    }

    /// Runs `attempt` with one key after another until one is not rejected. Rejected keys are
    /// set aside; the notes saying so come back with the result. Errors other than a rejection
    /// end the search at once: the caller decides about retrying those.
    pub async fn rotate<'a, T, F, Fut>(
        &'a self,
        mut attempt: F,
    ) -> Result<(T, Vec<String>), ProviderError>
    where
        F: FnMut(usize, &'a Secret) -> Fut,
        Fut: Future<Output = Result<Attempt<T>, ProviderError>>,
    {
        let mut notes = Vec::new();
        // Each rejected key is set aside for good, so this ends after one turn per key at most.
        loop {
            let Some((index, key)) = self.next() else {
                return Err(self.exhausted());
            };
            match attempt(index, key).await? {
                Attempt::Done(value) => return Ok((value, notes)),
                Attempt::Rejected(status) => notes.extend(self.set_aside(index, status)),
            }
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys not set aside.
    pub fn usable(&self) -> usize {
        self.lock().iter().filter(|r| r.is_none()).count()
    }

    /// The next usable key and its index, or `None` when every key is set aside.
    pub fn next(&self) -> Option<(usize, &Secret)> {
        let count = self.keys.len();
        if count == 0 {
            return None;
        }
        let rejected = self.lock();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % count;
        let index = (0..count)
            .map(|step| (start + step) % count)
            .find(|&i| rejected[i].is_none())?;
        // Skipping set-aside keys must not make the one after them take two turns in a row.
        if index != start {
            self.cursor.store(index + 1, Ordering::Relaxed);
        }
        Some((index, &self.keys[index]))
    }

    /// Sets key `index` aside after the vendor rejected it with `status`.
    ///
    /// Returns the note for the user, or `None` when another task already set it aside (the
    /// user is told once).
    pub fn set_aside(&self, index: usize, status: u16) -> Option<String> {
        let mut rejected = self.lock();
        let slot = rejected.get_mut(index)?;
        if slot.is_some() {
            return None;
        }
        *slot = Some(status);
        tracing::warn!(provider = %self.provider, key = index + 1, status, "API key set aside");
        Some(format!(
            "{}: API key {} of {} was rejected (HTTP {status}) and is set aside for this run",
            self.provider,
            index + 1,
            self.keys.len()
        ))
    }

    /// The error once no key is left: names the variable and the setting to check.
    pub fn exhausted(&self) -> ProviderError {
        let rejected = self.lock();
        let status = rejected.iter().rev().find_map(|r| *r).unwrap_or(401);
        let section = format!("[footage.{}] api_keys", self.provider);
        let hint = match self.keys.len() {
            0 => format!("no API key is set; check {} / {section}", self.env_var),
            1 => format!("check {} / {section}", self.env_var),
            n => format!(
                "all {n} API keys were rejected; check {} / {section}",
                self.env_var
            ),
        };
        ProviderError::Auth {
            provider: self.provider.clone(),
            status,
            hint,
        }
    }

    /// `text` with every key of the ring replaced, for anything that might echo a key back.
    pub fn scrub(&self, text: &str) -> String {
        self.keys
            .iter()
            .fold(text.to_string(), |text, key| redact(&text, key.expose()))
    }

    /// `error` with every key scrubbed from its messages: Pixabay takes the key in the URL,
    /// and a lower layer could one day quote it.
    pub fn scrub_error(&self, mut error: ProviderError) -> ProviderError {
        use ProviderError as E;
        match &mut error {
            E::Server { message, .. }
            | E::BadRequest { message, .. }
            | E::BadReply { message, .. }
            | E::Invalid { message, .. }
            | E::Media { message, .. } => *message = self.scrub(message),
            E::Network {
                endpoint, message, ..
            } => {
                *endpoint = self.scrub(endpoint);
                *message = self.scrub(message);
            }
            E::Auth { hint, .. } => *hint = self.scrub(hint),
            E::RateLimited { .. } | E::Timeout { .. } | E::Cancelled => {}
        }
        error
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<u16>>> {
        // The state is a list of flags: a panic elsewhere cannot leave it half-written.
        self.rejected.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a vendor's non-success reply means: the key refused (set it aside, try the next), a
/// rate limit dressed as a Cloudflare HTML page, or an ordinary error for the caller.
///
/// 401/403 reject the key, as does Pixabay's 400 "Invalid or missing API key"; an HTML 403 is
/// a Cloudflare block of the whole client, which no other key would get past.
pub fn refusal<T>(
    provider: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> Result<Attempt<T>, ProviderError> {
    let lower = body.to_ascii_lowercase();
    if lower.contains("error 1015") || lower.contains("you are being rate limited") {
        let retry_after = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok());
        return Err(ProviderError::RateLimited {
            provider: provider.into(),
            retry_after: retry_after.and_then(parse_retry_after),
        });
    }
    let html = lower.trim_start().starts_with('<');
    match status.as_u16() {
        400 if lower.contains("invalid or missing api key") => Ok(Attempt::Rejected(400)),
        code @ (401 | 403) if !html => Ok(Attempt::Rejected(code)),
        403 => Err(ProviderError::BadRequest {
            provider: provider.into(),
            status: 403,
            message: "access denied by the site's Cloudflare protection (not a key problem)".into(),
        }),
        _ => Err(classify_status(provider, status, headers, body, "")),
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("provider", &self.provider)
            .field("keys", &self.keys.len())
            .field("usable", &self.usable())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn ring(n: usize) -> KeyRing {
        let keys = (1..=n).map(|i| Secret::new(format!("key-{i}"))).collect();
        KeyRing::new("pexels", "PEXELS_API_KEY", keys)
    }

    fn turn(ring: &KeyRing) -> Option<usize> {
        ring.next().map(|(i, _)| i)
    }

    #[test]
    fn keys_take_turns_and_blank_ones_are_dropped() {
        let r = KeyRing::new(
            "pexels",
            "PEXELS_API_KEY",
            vec![Secret::new("a"), Secret::new("  "), Secret::new("b")],
        );
        assert_eq!(r.len(), 2);
        let seen: Vec<&str> = (0..4)
            .filter_map(|_| r.next())
            .map(|(_, k)| k.expose())
            .collect();
        assert_eq!(seen, ["a", "b", "a", "b"]);
    }

    #[test]
    fn set_aside_keys_are_skipped_and_noted_once() {
        let r = ring(3);
        let note = r.set_aside(1, 401).expect("first rejection gives a note");
        assert_eq!(
            note,
            "pexels: API key 2 of 3 was rejected (HTTP 401) and is set aside for this run"
        );
        assert!(!note.contains("key-2"));
        assert_eq!(r.set_aside(1, 401), None);
        assert_eq!(r.set_aside(7, 401), None);
        let turns: Vec<_> = (0..4).map(|_| turn(&r)).collect();
        assert_eq!(turns, [Some(0), Some(2), Some(0), Some(2)]);
        assert_eq!(r.usable(), 2);
    }

    #[test]
    fn exhausted_ring_names_the_variable_not_the_keys() {
        let r = ring(2);
        r.set_aside(0, 401);
        r.set_aside(1, 403);
        assert_eq!(r.next().map(|(i, _)| i), None);
        let e = r.exhausted().to_string();
        assert!(e.contains("pexels"), "{e}");
        assert!(e.contains("HTTP 403"), "{e}");
        assert!(
            e.contains("PEXELS_API_KEY / [footage.pexels] api_keys"),
            "{e}"
        );
        assert!(!e.contains("key-1") && !e.contains("key-2"), "{e}");
        assert!(!r.exhausted().is_transient());
        assert_eq!(ring(0).next().map(|(i, _)| i), None);
        assert!(
            ring(0)
                .exhausted()
                .to_string()
                .contains("no API key is set")
        );
    }

    #[tokio::test]
    async fn rotation_moves_past_rejected_keys_within_one_call() {
        let r = ring(3);
        let tried = Mutex::new(Vec::new());
        let attempt = |i: usize, key: &Secret| {
            tried.lock().unwrap().push(key.expose().to_string());
            async move {
                Ok(if i < 2 {
                    Attempt::Rejected(403)
                } else {
                    Attempt::Done(i)
                })
            }
        };
        let (value, notes) = r.rotate(attempt).await.unwrap();
        assert_eq!(value, 2);
        assert_eq!(*tried.lock().unwrap(), ["key-1", "key-2", "key-3"]);
        assert_eq!(notes.len(), 2);
        assert!(notes[1].contains("API key 2 of 3 was rejected (HTTP 403)"));
        // An error that is not about the key ends the call and costs no key.
        let failing = |_, _: &Secret| async { Err::<Attempt<()>, _>(ProviderError::Cancelled) };
        assert!(matches!(
            r.rotate(failing).await,
            Err(ProviderError::Cancelled)
        ));
        assert_eq!(r.usable(), 1);
        let refusing = |_, _: &Secret| async { Ok::<Attempt<()>, _>(Attempt::Rejected(401)) };
        let e = r.rotate(refusing).await.err().unwrap();
        assert!(matches!(e, ProviderError::Auth { status: 401, .. }), "{e}");
    }

    #[test]
    fn from_config_needs_a_key() {
        let mut config = StockConfig {
            api_keys: vec![Secret::new(" ")],
            api_key_env: String::new(),
            base_url: String::new(),
            per_page: 20,
        };
        let e = KeyRing::from_config("pixabay", "Pixabay", &config, "PIXABAY_API_KEY");
        let e = e.err().unwrap().to_string();
        assert_eq!(
            e,
            "pixabay: no Pixabay API key: set PIXABAY_API_KEY or [footage.pixabay] api_keys"
        );
        config.api_keys.push(Secret::new("k"));
        let r = KeyRing::from_config("pixabay", "Pixabay", &config, "PIXABAY_API_KEY");
        assert_eq!(r.map(|r| r.len()).ok(), Some(1));
    }

    #[test]
    fn scrubbing_removes_every_key() {
        let r = ring(2);
        assert_eq!(r.scrub("a key-1 b key-2"), "a <redacted> b <redacted>");
        let e = r.scrub_error(ProviderError::BadRequest {
            provider: "pixabay".into(),
            status: 400,
            message: "bad key key-2".into(),
        });
        assert!(!e.to_string().contains("key-2"), "{e}");
    }

    #[test]
    fn shared_between_threads_every_key_gets_its_share() {
        let r = Arc::new(ring(3));
        let counts = Arc::new(Mutex::new([0usize; 3]));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (r, counts) = (r.clone(), counts.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        if let Some((i, _)) = r.next() {
                            counts.lock().unwrap()[i] += 1;
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counts.lock().unwrap(), [200, 200, 200]);
    }
}
