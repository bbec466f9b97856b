//! The dashboard: a second view of the pipeline's event stream. `state` holds what is
//! shown, `reduce` is the one place it changes (pipeline events, keys, ticks, samples),
//! `view` draws it as a pure function, and `app` wires the terminal, the pipeline handle
//! and the samplers to them. Nothing here decides how a stage runs.

pub mod analysis;
pub mod app;
pub mod audio;
pub mod cuts;
pub mod form;
pub mod keys;
pub mod logring;
pub mod reduce;
pub mod state;
pub mod system;
pub mod theme;
pub mod view;
