//! reelforge: turns a subject into a finished short video.
//!
//! Layers: `pipeline` (supervisor, events, stage actors), `providers` (LLM, voice, footage
//! engines behind one trait per kind), `media` (ffmpeg, probing, subtitle formats),
//! `store` (sled task store and content-addressed cache), `config`, and `cli` on top.
//! Nothing below `cli` touches a terminal.

pub mod batch;
pub mod cli;
pub mod config;
pub mod fsutil;
pub mod logging;
pub mod media;
pub mod pipeline;
pub mod procstat;
pub mod providers;
pub mod report;
pub mod retry;
pub mod store;
pub mod tui;
