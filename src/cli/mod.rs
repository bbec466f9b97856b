//! Command-line interface.
pub mod doctor;
