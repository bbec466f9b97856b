//! `p` in the dashboard: play or stop a task's narration through rodio.
//!
//! The output device is opened on the first `play`, not at start-up, so a dashboard used
//! over SSH never touches ALSA unless asked. Opening a device that is not there makes ALSA
//! print several lines to stderr, which would garble the TUI; fd 2 is pointed at
//! `/dev/null` for the duration of the open and restored by a guard.
//!
//! rodio's device sink owns a cpal stream, which is `!Send` on some platforms. It is
//! therefore opened, kept and dropped on a thread of its own; only its `Mixer` (which is
//! `Send`) comes back, so `Player` itself can live wherever the dashboard needs it.

use rodio::Decoder;
use rodio::cpal::traits::{DeviceTrait, HostTrait};
use rodio::mixer::Mixer;
use rodio::{DeviceSinkBuilder, MixerDeviceSink};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// No usable output device (no sound card, or a remote session). `reason` is what the
    /// audio backend said, for the log; the message is what the user needs.
    #[error(
        "no audio device: narration not played (over SSH? play {} on your machine)",
        path.display()
    )]
    NoDevice { path: PathBuf, reason: String },
    #[error("cannot open the narration {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot play the narration {}: {source}", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: rodio::decoder::DecoderError,
    },
    #[error("cannot start the audio thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Plays one file at a time. Dropping it stops playback and closes the device.
#[derive(Default)]
pub struct Player {
    device: Option<Device>,
    current: Option<rodio::Player>,
}

impl Player {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops what is playing, then plays `path`. The file is checked before the device is
    /// opened, so a bad file is reported as such even where there is no device.
    pub fn play(&mut self, path: &Path) -> Result<(), AudioError> {
        self.stop();
        let file = File::open(path).map_err(|source| AudioError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let source = Decoder::try_from(file).map_err(|source| AudioError::Decode {
            path: path.to_path_buf(),
            source,
        })?;
        let mixer = self.mixer(path)?;
        let player = rodio::Player::connect_new(mixer);
        player.append(source);
        self.current = Some(player);
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Some(player) = self.current.take() {
            player.stop();
        }
    }

    /// True while a file is still being played (false once it has ended, been stopped, or
    /// the device went away).
    pub fn is_playing(&self) -> bool {
        let device_ok = self.device.as_ref().is_some_and(|d| !d.lost());
        device_ok && self.current.as_ref().is_some_and(|p| !p.empty())
    }

    /// The open device's mixer, opening it first if needed. A failed open is not
    /// remembered: the next `p` tries again (a device may have been plugged in).
    fn mixer(&mut self, path: &Path) -> Result<&Mixer, AudioError> {
        if self.device.as_ref().is_some_and(Device::lost) {
            self.device = None;
        }
        let device = match self.device.take() {
            Some(device) => device,
            None => Device::open().map_err(|e| match e {
                OpenError::Thread(e) => AudioError::Thread(e),
                OpenError::Device(reason) => AudioError::NoDevice {
                    path: path.to_path_buf(),
                    reason,
                },
            })?,
        };
        Ok(&self.device.insert(device).mixer)
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop();
    }
}

enum OpenError {
    Thread(std::io::Error),
    Device(String),
}

/// An open output device, held by its own thread until this is dropped.
struct Device {
    mixer: Mixer,
    /// Set by the stream's error callback (device unplugged, server gone).
    lost: Arc<AtomicBool>,
    /// Dropping the sender wakes the thread, which then drops the sink.
    release: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Device {
    fn open() -> Result<Device, OpenError> {
        let lost = Arc::new(AtomicBool::new(false));
        let (reply_tx, reply_rx) = mpsc::sync_channel::<Result<Mixer, String>>(1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let thread_lost = lost.clone();
        let thread = std::thread::Builder::new()
            .name("reelforge-audio".into())
            .spawn(move || match open_sink(thread_lost) {
                Ok(mut sink) => {
                    // rodio otherwise prints a note to stderr when the sink is dropped.
                    sink.log_on_drop(false);
                    let _ = reply_tx.send(Ok(sink.mixer().clone()));
                    // Returns once `Device` drops its sender; the sink is dropped here, on
                    // the thread that created it.
                    let _ = release_rx.recv();
                }
                Err(reason) => {
                    let _ = reply_tx.send(Err(reason));
                }
            })
            .map_err(OpenError::Thread)?;
        match reply_rx.recv() {
            Ok(Ok(mixer)) => Ok(Device {
                mixer,
                lost,
                release: Some(release_tx),
                thread: Some(thread),
            }),
            Ok(Err(reason)) => {
                let _ = thread.join();
                Err(OpenError::Device(reason))
            }
            Err(_) => {
                let _ = thread.join();
                Err(OpenError::Device("the audio thread stopped".into()))
            }
        }
    }

    fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Opens the default output device (or, failing that, any other real one, as rodio's
/// `open_default_sink` does) with stderr silenced. The error callback replaces rodio's
/// default, which would print to stderr.
fn open_sink(lost: Arc<AtomicBool>) -> Result<MixerDeviceSink, String> {
    let _quiet = quiet::StderrSilenced::new();
    let on_error = move |error: rodio::CpalError| {
        lost.store(true, Ordering::Relaxed);
        tracing::warn!(%error, "audio output failed");
    };
    let first = DeviceSinkBuilder::from_default_device()
        .map(|b| b.with_error_callback(on_error.clone()))
        .and_then(|b| b.open_sink_or_fallback());
    let first_error = match first {
        Ok(sink) => return Ok(sink),
        Err(e) => e.to_string(),
    };
    let devices = rodio::cpal::default_host()
        .output_devices()
        .map_err(|_| first_error.clone())?;
    devices
        .filter(|device| {
            // ALSA's null device "plays" into nothing: not a fallback a user would want.
            device
                .description()
                .is_ok_and(|d| d.driver().is_some_and(|driver| driver != "null"))
        })
        .find_map(|device| {
            DeviceSinkBuilder::from_device(device)
                .ok()?
                .with_error_callback(on_error.clone())
                .open_sink_or_fallback()
                .ok()
        })
        .ok_or(first_error)
}

#[cfg(unix)]
mod quiet {
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};
    use std::sync::{Mutex, MutexGuard};

    /// fd 2 is process-wide: two overlapping silencers would restore in the wrong order.
    static LOCK: Mutex<()> = Mutex::new(());

    /// Points fd 2 at /dev/null until dropped, then restores the original stderr, also on
    /// early return or unwinding. If anything fails, stderr is simply left alone.
    pub struct StderrSilenced {
        saved: Option<OwnedFd>,
        _lock: MutexGuard<'static, ()>,
    }

    impl StderrSilenced {
        pub fn new() -> Self {
            let lock = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let saved = std::io::stderr().as_fd().try_clone_to_owned().ok();
            let null = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .ok();
            let saved = match (saved, null) {
                (Some(saved), Some(null)) => {
                    // SAFETY: both descriptors are open and owned for the whole call.
                    let done = unsafe { libc::dup2(null.as_raw_fd(), 2) } >= 0;
                    done.then_some(saved)
                }
                _ => None,
            };
            StderrSilenced { saved, _lock: lock }
        }
    }

    impl Drop for StderrSilenced {
        fn drop(&mut self) {
            if let Some(saved) = self.saved.take() {
                // SAFETY: `saved` is an open duplicate of the original stderr; dup2 makes
                // fd 2 refer to it again, and `saved` itself is closed when dropped.
                unsafe { libc::dup2(saved.as_raw_fd(), 2) };
            }
        }
    }
}

#[cfg(not(unix))]
mod quiet {
    /// Elsewhere the audio backends do not print on a failed open.
    pub struct StderrSilenced;

    impl StderrSilenced {
        pub fn new() -> Self {
            StderrSilenced
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn player_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Player>();
    }

    #[test]
    fn stop_and_status_without_a_device() {
        let mut player = Player::new();
        assert!(!player.is_playing());
        player.stop();
        assert!(!player.is_playing());
    }

    #[test]
    fn messages_name_the_file() {
        let path = PathBuf::from("/tmp/t1/voice.wav");
        let no_device = AudioError::NoDevice {
            path: path.clone(),
            reason: "x".into(),
        };
        assert_eq!(
            no_device.to_string(),
            "no audio device: narration not played (over SSH? play /tmp/t1/voice.wav on your machine)"
        );
        let mut player = Player::new();
        let err = player
            .play(Path::new("/nonexistent/voice.wav"))
            .expect_err("a missing file cannot play");
        assert!(err.to_string().contains("/nonexistent/voice.wav"), "{err}");
    }
}
