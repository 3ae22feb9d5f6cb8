//! The chart fonts, embedded so that charts draw the same on every machine with no system font
//! libraries installed: DejaVu Sans 2.37 (Bitstream Vera license, see `fonts/LICENSE`), and for
//! the CJK characters it lacks a subset of WenQuanYi Micro Hei (Apache-2.0, see
//! `fonts/LICENSE-WenQuanYi`; the 3,755 common hanzi of GB 2312 level 1 and CJK punctuation,
//! made by `fonts/subset-cjk.py`).
//!
//! PNG text is drawn here, not by plotters: [`Glyphs`] wraps a bitmap backend and lays each
//! glyph out at its own advance and side bearing (plotters 0.3.7 drops the left side bearing
//! and rounds each advance, which spaced small text as `1 0.96.0.1 0:53`), taking each
//! character from DejaVu Sans, else from the CJK subset. SVG text stays `<text>` in the
//! viewer's fonts; both measure text with the same layout, so a chart's layout is the same in
//! both.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters::style::{register_font, FontStyle};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};
use std::sync::{Once, OnceLock};

/// The family name the charts ask for; registered under plotters' own name for sans-serif.
pub(crate) const FAMILY: &str = "sans-serif";

const NORMAL: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const BOLD: &[u8] = include_bytes!("fonts/DejaVuSans-Bold.ttf");
const CJK: &[u8] = include_bytes!("fonts/WenQuanYiMicroHei-CJK-subset.ttf");

static REGISTER: Once = Once::new();

/// Registers the embedded fonts with plotters, once per process, before anything is drawn.
pub(crate) fn ensure_registered() {
    REGISTER.call_once(|| {
        // The bytes are a known-good font compiled into the binary: failing to parse is a bug.
        if register_font(FAMILY, FontStyle::Normal, NORMAL).is_err()
            || register_font(FAMILY, FontStyle::Bold, BOLD).is_err()
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

struct Faces {
    normal: FontRef<'static>,
    bold: FontRef<'static>,
    cjk: FontRef<'static>,
}

fn faces() -> &'static Faces {
    static FACES: OnceLock<Faces> = OnceLock::new();
    FACES.get_or_init(|| {
        let parse =
            |b: &'static [u8]| FontRef::try_from_slice(b).expect("the embedded chart fonts parse");
        Faces {
            normal: parse(NORMAL),
            bold: parse(BOLD),
            cjk: parse(CJK),
        }
    })
}

/// One glyph placed on the line: its font, id and pen position (pixels from the start).
struct Placed {
    font: &'static FontRef<'static>,
    id: GlyphId,
    x: f32,
}

/// `text` laid out at `size` pixels: each character from DejaVu Sans (bold or not), else from
/// the CJK subset, else DejaVu's missing-glyph box; kerned within one font. The glyphs and the
/// line's width.
fn layout(text: &str, size: f64, bold: bool) -> (Vec<Placed>, f32) {
    let f = faces();
    let latin = if bold { &f.bold } else { &f.normal };
    let scale = PxScale::from(size as f32);
    let mut placed = Vec::with_capacity(text.len());
    let mut x = 0f32;
    let mut prev: Option<(&'static FontRef<'static>, GlyphId)> = None;
    for c in text.chars() {
        let mut font = latin;
        let mut id = latin.glyph_id(c);
        if id.0 == 0 {
            let alt = f.cjk.glyph_id(c);
            if alt.0 != 0 {
                font = &f.cjk;
                id = alt;
            }
        }
        let scaled = font.as_scaled(scale);
        if let Some((pf, pid)) = prev {
            if std::ptr::eq(pf, font) {
                x += scaled.kern(pid, id);
            }
        }
        placed.push(Placed { font, id, x });
        x += scaled.h_advance(id);
        prev = Some((font, id));
    }
    (placed, x)
}

/// The box plotters gives a line of text (width, and its height `size / 1.24`), so that
/// charts laid out with plotters' own measure keep their layout.
fn text_box(width: f32, size: f64) -> (i32, i32) {
    (width.ceil() as i32, (size / 1.24) as i32)
}

/// Whether the family is the charts' own (anything else is left to the wrapped backend).
fn ours<S: BackendTextStyle>(style: &S) -> bool {
    style.family().as_str() == FAMILY
}

fn is_bold<S: BackendTextStyle>(style: &S) -> bool {
    matches!(style.style(), plotters_backend::FontStyle::Bold)
}

/// A drawing backend whose text is laid out by [`layout`]: drawn glyph by glyph when `raster`
/// (PNG), measured only otherwise (SVG, whose `<text>` the viewer draws).
pub(crate) struct Glyphs<B> {
    inner: B,
    raster: bool,
}

impl<B: DrawingBackend> Glyphs<B> {
    /// For a bitmap backend: text drawn here.
    pub(crate) fn raster(inner: B) -> Self {
        Glyphs {
            inner,
            raster: true,
        }
    }

    /// For a vector backend: text measured here, drawn by the backend.
    pub(crate) fn vector(inner: B) -> Self {
        Glyphs {
            inner,
            raster: false,
        }
    }
}

type Res<B> = Result<(), DrawingErrorKind<<B as DrawingBackend>::ErrorType>>;

impl<B: DrawingBackend> DrawingBackend for Glyphs<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Res<B> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Res<B> {
        self.inner.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Res<B> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Res<B> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Res<B> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Res<B> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Res<B> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Res<B> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Res<B> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        if !ours(style) {
            return self.inner.estimate_text_size(text, style);
        }
        let (_, width) = layout(text, style.size(), is_bold(style));
        let (w, h) = text_box(width, style.size());
        Ok((w as u32, h as u32))
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Res<B> {
        if !self.raster || !ours(style) {
            return self.inner.draw_text(text, style, pos);
        }
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size();
        let (glyphs, width) = layout(text, size, is_bold(style));
        let (w, h) = text_box(width, size);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let trans = style.transform();
        let (cw, ch) = self.inner.get_size();
        // The baseline sits `size / 2` below the box's top, as plotters places it.
        let baseline = (size / 2.0) as f32;
        let scale = PxScale::from(size as f32);
        for g in glyphs {
            let glyph =
                g.id.with_scale_and_position(scale, ab_glyph::point(g.x, baseline));
            let Some(outline) = g.font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|x, y, c| pixels.push((x, y, c)));
            for (x, y, c) in pixels {
                let c = c.clamp(0.0, 1.0) as f64;
                if c <= 0.0 {
                    continue;
                }
                let (x, y) = trans.transform(
                    bounds.min.x as i32 + x as i32 + dx,
                    bounds.min.y as i32 + y as i32 + dy,
                );
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && y >= 0 && x < cw as i32 && y < ch as i32 {
                    let px = BackendColor {
                        alpha: color.alpha * c,
                        rgb: color.rgb,
                    };
                    self.inner.draw_pixel((x, y), px)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_comes_from_the_cjk_subset_and_latin_from_dejavu() {
        let (g, w) = layout("pod 滚动更新", 14.0, false);
        let f = faces();
        assert!(std::ptr::eq(g[0].font, &f.normal));
        for p in &g[4..] {
            assert!(std::ptr::eq(p.font, &f.cjk), "a hanzi from the subset");
            assert_ne!(p.id.0, 0, "not the missing-glyph box");
        }
        // A hanzi is about one em wide (not the missing-glyph box's 0.6 em).
        let (_, latin) = layout("pod ", 14.0, false);
        assert!(w - latin > 4.0 * 10.0, "{w} {latin}");
    }

    #[test]
    fn the_common_hanzi_are_all_in_the_subset() {
        // A sample across GB 2312 level 1 (its first, middle and last rows) and the words
        // kubesim's lesson uses.
        let f = faces();
        for c in "啊阿埃挨哎唉哀皑癌蔼矮艾碍爱隘鞍氨安俺按暗岸胺案肮昂盎凹敖熬翱袄傲奥懊澳坐座做作佐柞节点服务滚动更新请求延迟负载队列事件驱逐调度就绪、。，：（）"
            .chars()
        {
            assert_ne!(f.cjk.glyph_id(c).0, 0, "{c} missing");
        }
    }

    #[test]
    fn small_text_keeps_each_glyph_at_its_advance() {
        // `10.96.0.10:53` at 11 px: the gap before each `.` and after each `1` is the font's,
        // so the pen positions grow by the advances alone, never by a rounded box.
        let (g, _) = layout("10.96.0.10:53", 11.0, false);
        let f = faces().normal.as_scaled(PxScale::from(11.0));
        for pair in g.windows(2) {
            let step = pair[1].x - pair[0].x;
            let adv = f.h_advance(pair[0].id) + f.kern(pair[0].id, pair[1].id);
            assert!((step - adv).abs() < 1e-4, "{step} against {adv}");
        }
        // And a drawn `1` starts at its side bearing, not at the pen: drawn into a bitmap,
        // the first column holding ink is a pixel or more right of the anchor.
        let mut buf = vec![255u8; 60 * 20 * 3];
        {
            let bm = plotters::backend::BitMapBackend::with_buffer(&mut buf, (60, 20));
            let mut g = Glyphs::raster(bm);
            let style = crate::report::fonts::style(
                11.0,
                false,
                plotters::style::RGBColor(0, 0, 0),
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Top,
            );
            ensure_registered();
            g.draw_text("1", &style, (10, 2)).unwrap();
        }
        let first_ink = (0..60)
            .find(|&x| (0..20).any(|y| buf[(y * 60 + x) * 3] < 200))
            .expect("the 1 is drawn");
        assert!(first_ink >= 11, "ink from column {first_ink}");
    }
}
