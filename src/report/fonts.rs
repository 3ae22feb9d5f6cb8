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

/// The bundled font at `size` pixels, bold or not.
pub(crate) fn font(size: f64, bold: bool) -> plotters::style::FontDesc<'static> {
    use plotters::style::{FontDesc, FontFamily, FontStyle};
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    FontDesc::new(FontFamily::Name(FAMILY), size, style)
}

/// A text style in the bundled font, with its colour and anchor.
pub(crate) fn style(
    size: f64,
    bold: bool,
    color: plotters::style::RGBColor,
    h: plotters::style::text_anchor::HPos,
    v: plotters::style::text_anchor::VPos,
) -> plotters::style::TextStyle<'static> {
    use plotters::style::text_anchor::Pos;
    font(size, bold).color(&color).pos(Pos::new(h, v))
}
