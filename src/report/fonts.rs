//! The chart font, embedded so that charts draw the same on every machine with no system font
//! libraries installed: DejaVu Sans 2.37 (Bitstream Vera license, see `fonts/LICENSE`).

use plotters::style::{register_font, FontStyle};
use std::sync::Once;

/// The family name the charts ask for; registered under plotters' own name for sans-serif.
pub(crate) const FAMILY: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Registers the embedded fonts with plotters, once per process, before anything is drawn.
pub(crate) fn ensure_registered() {
    REGISTER.call_once(|| {
        // The bytes are a known-good font compiled into the binary: failing to parse is a bug.
        let normal = include_bytes!("fonts/DejaVuSans.ttf");
        let bold = include_bytes!("fonts/DejaVuSans-Bold.ttf");
        if register_font(FAMILY, FontStyle::Normal, normal).is_err()
            || register_font(FAMILY, FontStyle::Bold, bold).is_err()
        {
            panic!("the embedded DejaVu Sans font does not parse");
        }
    });
}
