//! Heap maps for people: the cells of `mem3_pool::map` drawn as text for the terminal and as SVG.
//!
//! Each cell is one slice of the pool, in address order, in rows of fixed width like a memory map. A cell
//! shows its majority: free, pinned, or used (by object kind when the pool holds VM objects); a cell
//! that is only partly used is drawn lighter (SVG) or as `:` (text). At large scale (cells of 1 KiB or
//! more) the SVG shades each cell by its occupancy on a continuous scale (32 steps) rather than in eighths,
//! and outlines the largest free blocks, so a 64 MiB pool still shows where its holes are.

use std::fmt::Write as _;

use mem3_pool::Pool;
use mem3_pool::map::{self, Cell, Figures};
use mem3_vm::ObjectHeap;
use mem3_vm::mem3_object::ObjectKind;

use crate::units::{bytes, count, percent, short, thousands};

/// The most cells an SVG map has: 64 rows of 64.
pub(crate) const SVG_CELLS: usize = 4096;
/// The cells a terminal map has at most: 4 rows of 64.
pub(crate) const TEXT_CELLS: usize = 256;
/// Cells per row in the SVG.
const SVG_COLUMNS: usize = 64;

/// What a cell is drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Free,
    Used,
    Pinned,
    Int,
    Float,
    Str,
}

impl Category {
    /// The object kind of a tag from [`kind_tag`].
    fn of_tag(tag: u8) -> Category {
        match tag {
            t if t == ObjectKind::Int as u8 => Category::Int,
            t if t == ObjectKind::Float as u8 => Category::Float,
            t if t == ObjectKind::Str as u8 => Category::Str,
            _ => Category::Used,
        }
    }

    fn symbol(self) -> char {
        match self {
            Category::Free => '.',
            Category::Used => '#',
            Category::Pinned => 'P',
            Category::Int => 'i',
            Category::Float => 'f',
            Category::Str => 's',
        }
    }

    fn name(self) -> &'static str {
        match self {
            Category::Free => "free",
            Category::Used => "used",
            Category::Pinned => "pinned",
            Category::Int => "int",
            Category::Float => "float",
            Category::Str => "string",
        }
    }

    /// The terminal colour (an SGR code).
    fn ansi(self) -> &'static str {
        match self {
            Category::Free => "2",
            Category::Used => "36",
            Category::Pinned => "1;31",
            Category::Int => "34",
            Category::Float => "33",
            Category::Str => "32",
        }
    }

    /// The SVG colour, as RGB.
    fn rgb(self) -> [u8; 3] {
        match self {
            Category::Free => [0xe4, 0xe6, 0xea],
            Category::Used => [0x3b, 0x6e, 0xa8],
            Category::Pinned => [0xc0, 0x39, 0x2b],
            Category::Int => [0x3b, 0x6e, 0xa8],
            Category::Float => [0xe0, 0x8e, 0x1b],
            Category::Str => [0x2e, 0x9b, 0x5f],
        }
    }
}

/// The kind tag of a VM object for `mem3_pool::map`: its `ObjectKind` discriminant.
fn kind_tag(kind: ObjectKind) -> u8 {
    kind as u8
}

/// The fill levels a cell is drawn in: eighths.
const LEVELS: u8 = 8;

/// The fill levels of a large-scale SVG map's cells: a near-continuous scale.
const FINE_LEVELS: u8 = 32;
/// Cells of at least this many bytes are drawn on the fine scale.
const FINE_CELL_BYTES: usize = 1024;
/// How many of the largest free blocks a map outlines.
const HOLES: usize = 3;

/// How a cell is drawn: its category and how full it is, in [`LEVELS`] (1 to 8; 0 for a free cell).
fn shade(cell: &Cell) -> (Category, u8) {
    shade_in(cell, LEVELS)
}

/// [`shade`] in `levels` steps.
fn shade_in(cell: &Cell, levels: u8) -> (Category, u8) {
    let occupied = cell.occupied();
    if occupied == 0 || cell.len == 0 {
        return (Category::Free, 0);
    }
    let category = if 2 * cell.pinned >= occupied {
        Category::Pinned
    } else {
        cell.majority_kind().map_or(Category::Used, Category::of_tag)
    };
    // 1..=LEVELS: any used byte shows, and only a full cell is drawn at full strength.
    let level = (occupied * usize::from(levels)).div_ceil(cell.len).clamp(1, usize::from(levels));
    (category, level as u8)
}

/// A pool's map, taken at one moment.
#[derive(Debug, Clone)]
pub(crate) struct HeapMap {
    cells: Vec<Cell>,
    figures: Figures,
    /// Whether the blocks hold VM objects whose kinds were told apart.
    kinds: bool,
    /// The largest free blocks, largest first: `(start, size)`.
    holes: Vec<(usize, usize)>,
}

impl HeapMap {
    /// The map of a bare pool (a trace replay): used, free and pinned only.
    pub(crate) fn of_pool(pool: &Pool<'_>, max_cells: usize) -> HeapMap {
        Self::build(pool, max_cells, false, |_| None)
    }

    /// The map of an object heap, with object kinds told apart.
    pub(crate) fn of_heap(heap: &ObjectHeap<'_>, max_cells: usize) -> HeapMap {
        Self::build(heap.pool(), max_cells, true, |block| heap.kind_of_block(block).map(kind_tag))
    }

    fn build(
        pool: &Pool<'_>,
        max_cells: usize,
        kinds: bool,
        classify: impl FnMut(mem3_pool::Block) -> Option<u8>,
    ) -> HeapMap {
        let cell_bytes = map::cell_bytes_for(pool.capacity(), max_cells);
        let mut cells = vec![Cell::default(); pool.capacity().div_ceil(cell_bytes).min(max_cells)];
        let figures = map::fill(pool, cell_bytes, &mut cells, classify);
        cells.truncate(figures.cells);
        let mut holes: Vec<(usize, usize)> = Vec::with_capacity(HOLES + 1);
        for b in pool.blocks().filter(|b| b.state == mem3_pool::BlockState::Free) {
            if holes.len() < HOLES || b.size > holes[HOLES - 1].1 {
                let at = holes.partition_point(|h| h.1 >= b.size);
                holes.insert(at, (b.start, b.size));
                holes.truncate(HOLES);
            }
        }
        HeapMap { cells, figures, kinds, holes }
    }

    /// The categories a legend lists: those of the map's cells, in a fixed order, plus free.
    fn categories(&self) -> Vec<Category> {
        let seen: Vec<Category> = self.cells.iter().map(|c| shade(c).0).collect();
        let order =
            [Category::Str, Category::Int, Category::Float, Category::Used, Category::Pinned];
        let mut list: Vec<Category> = order
            .into_iter()
            .filter(|&c| seen.contains(&c) || (!self.kinds && c == Category::Used))
            .collect();
        list.push(Category::Free);
        list
    }

    /// The figures in one line: free bytes, largest free block, fragmentation.
    pub(crate) fn figures_line(&self) -> String {
        let f = &self.figures;
        format!(
            "free {} in {}, largest free block {}, fragmentation {}",
            bytes(f.free_bytes),
            count(f.free_blocks, "block"),
            bytes(f.largest_free),
            percent(f.fragmentation()),
        )
    }

    /// The map for the terminal (`--map -`): 64 cells a row, the legend and the figures.
    pub(crate) fn text_block(&self, colour: bool) -> String {
        format!(
            "{}  {}\n  {}\n",
            self.text(64, "  ", colour),
            self.text_legend(colour),
            self.figures_line()
        )
    }

    /// The map as text: `columns` cells a row, each row led by its offset, indented by `indent`.
    pub(crate) fn text(&self, columns: usize, indent: &str, colour: bool) -> String {
        let columns = columns.max(1);
        let row_bytes = columns * self.figures.cell_bytes;
        let rows = self.cells.len().div_ceil(columns);
        let label_width = (0..rows).map(|r| short(r * row_bytes).len()).max().unwrap_or(1);
        let mut out = String::new();
        for (r, row) in self.cells.chunks(columns).enumerate() {
            let _ = write!(out, "{indent}{:>label_width$} |", short(r * row_bytes));
            let mut current: Option<Category> = None;
            for cell in row {
                let (category, level) = shade(cell);
                let symbol = if category != Category::Free && level <= LEVELS / 2 {
                    ':'
                } else {
                    category.symbol()
                };
                if colour && current != Some(category) {
                    let _ = write!(out, "\x1b[0;{}m", category.ansi());
                    current = Some(category);
                }
                out.push(symbol);
            }
            if colour {
                out.push_str("\x1b[0m");
            }
            out.push_str("|\n");
        }
        out
    }

    /// The legend of [`text`](HeapMap::text).
    pub(crate) fn text_legend(&self, colour: bool) -> String {
        let mut items: Vec<String> = Vec::new();
        for c in self.categories() {
            if c == Category::Free {
                items.push(": partly used".into());
            }
            let symbol = if colour {
                format!("\x1b[{}m{}\x1b[0m", c.ansi(), c.symbol())
            } else {
                c.symbol().to_string()
            };
            items.push(format!("{symbol} {}", c.name()));
        }
        format!("1 cell = {} B   {}", self.figures.cell_bytes, items.join("  "))
    }

    /// Draws the map as one panel of an SVG picture from `top` down: a heading, offsets within a row on
    /// top, cells in address order 64 a row with each row's offset on the left, a legend and the figures as
    /// a caption. Runs of equal cells are one rectangle, so a panel stays small (a few hundred KB at most)
    /// whatever the pool's size. Returns the panel's height.
    fn svg_panel(
        &self,
        out: &mut String,
        palette: &mut Palette,
        heading: &str,
        top: usize,
    ) -> usize {
        let f = &self.figures;
        let rows = self.cells.len().div_ceil(SVG_COLUMNS).max(1);
        let columns = self.cells.len().clamp(1, SVG_COLUMNS);
        let row_bytes = SVG_COLUMNS * f.cell_bytes;
        let grid_top = top + 44;
        let legend_y = grid_top + rows * PITCH + 22;

        let _ = writeln!(out, r#"<g class="panel">"#);
        // A heading too long for the picture (about 8 pixels a character) is squeezed to fit.
        let room = SVG_COLUMNS * CW + 30;
        let fit = if heading.chars().count() * 8 > room {
            format!(r#" textLength="{room}" lengthAdjust="spacingAndGlyphs""#)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            r#"<text class="heading" x="{LEFT}" y="{}" font-size="13" font-weight="bold"{fit}>{}</text>"#,
            top + 14,
            escape(heading)
        );
        // Offsets within a row, on top.
        let _ = writeln!(out, r##"<g class="axis" fill="#333">"##);
        for c in (0..=SVG_COLUMNS).step_by(16).filter(|&c| c <= columns) {
            let x = LEFT + c * CW;
            let _ = writeln!(
                out,
                r##"<text x="{x}" y="{}" text-anchor="middle">+{}</text><path d="M{x} {}v5" stroke="#555"/>"##,
                grid_top - 10,
                short(c * f.cell_bytes),
                grid_top - 7
            );
        }
        // The offset of each row's first byte, on the left.
        let step = if rows > 40 { 2 } else { 1 };
        for r in (0..rows).step_by(step) {
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                LEFT - 6,
                grid_top + r * PITCH + CH - 2,
                short(r * row_bytes)
            );
        }
        let _ = writeln!(out, "</g>");

        // Rows: a free background, then one rectangle per run of equal non-free cells.
        let _ = writeln!(out, r#"<g class="cells" shape-rendering="crispEdges">"#);
        let free = palette.class(blend(Category::Free, 0, LEVELS));
        let levels = if f.cell_bytes >= FINE_CELL_BYTES { FINE_LEVELS } else { LEVELS };
        for (r, row) in self.cells.chunks(SVG_COLUMNS).enumerate() {
            let y = grid_top + r * PITCH;
            let _ = writeln!(
                out,
                r#"<rect class="{free}" x="{LEFT}" y="{y}" width="{}" height="{CH}"/>"#,
                row.len() * CW
            );
            let mut i = 0;
            while i < row.len() {
                let s = shade_in(&row[i], levels);
                let mut j = i + 1;
                while j < row.len() && shade_in(&row[j], levels) == s {
                    j += 1;
                }
                if s.0 != Category::Free {
                    let class = palette.class(blend(s.0, s.1, levels));
                    let _ = writeln!(
                        out,
                        r#"<rect class="{class}" x="{}" y="{y}" width="{}" height="{CH}"/>"#,
                        LEFT + i * CW,
                        (j - i) * CW
                    );
                }
                i = j;
            }
        }
        // Block boundaries, when blocks are few enough to tell apart.
        let blocks = f.free_blocks + f.used_blocks + f.pinned_blocks;
        // Not at large scale, where a cell holds parts of many blocks.
        if blocks * 2 <= self.cells.len() && f.cell_bytes < FINE_CELL_BYTES {
            let mut d = String::new();
            for (k, cell) in self.cells.iter().enumerate() {
                let (r, c) = (k / SVG_COLUMNS, k % SVG_COLUMNS);
                if cell.starts > 0 && c > 0 {
                    let _ = write!(d, "M{} {}v{CH}", LEFT + c * CW, grid_top + r * PITCH);
                }
            }
            if !d.is_empty() {
                let _ = writeln!(
                    out,
                    r##"<path class="boundaries" d="{d}" stroke="#ffffff" stroke-width="1.5" fill="none"/>"##
                );
            }
        }
        // The largest free blocks, outlined over the cells they cover (one rectangle per row they touch).
        let mut d = String::new();
        for &(start, size) in self.holes.iter().filter(|h| h.1 >= f.cell_bytes) {
            let first = start / f.cell_bytes;
            let last = ((start + size).div_ceil(f.cell_bytes)).min(self.cells.len());
            let mut k = first;
            while k < last {
                let (r, c) = (k / SVG_COLUMNS, k % SVG_COLUMNS);
                let n = (last - k).min(SVG_COLUMNS - c);
                let _ = write!(
                    d,
                    "M{} {}h{}v{CH}h-{}z",
                    LEFT + c * CW,
                    grid_top + r * PITCH,
                    n * CW,
                    n * CW
                );
                k += n;
            }
        }
        if !d.is_empty() {
            let _ = writeln!(
                out,
                r##"<path class="holes" d="{d}" stroke="#d1342f" stroke-width="1.5" fill="none"/>"##
            );
        }
        let _ = writeln!(out, "</g>");

        // Legend: the categories at full strength, then partly used cells.
        let _ = writeln!(out, r#"<g class="legend">"#);
        let mut x = LEFT;
        let swatch = |out: &mut String, x: &mut usize, class: String, label: &str| {
            let _ = writeln!(
                out,
                r##"<rect class="{class}" x="{x}" y="{}" width="12" height="12" stroke="#888" stroke-width="0.5"/><text x="{}" y="{legend_y}">{label}</text>"##,
                legend_y - 10,
                *x + 16,
            );
            *x += 16 + 7 * label.len() + 14;
        };
        let categories = self.categories();
        for &c in &categories {
            swatch(out, &mut x, palette.class(blend(c, LEVELS, LEVELS)), c.name());
        }
        let partly = categories.first().copied().unwrap_or(Category::Used);
        x += 10;
        let _ = writeln!(out, r##"<text x="{x}" y="{legend_y}" fill="#555">partly used:</text>"##);
        x += 78;
        for level in [LEVELS / 4, LEVELS / 2, LEVELS * 3 / 4] {
            let label = format!("{}%", u32::from(level) * 100 / u32::from(LEVELS));
            swatch(out, &mut x, palette.class(blend(partly, level, LEVELS)), &label);
        }
        if !self.holes.is_empty() {
            x += 10;
            let _ = writeln!(
                out,
                r##"<path d="M{x} {}h12v12h-12z" stroke="#d1342f" stroke-width="1.5" fill="none"/><text x="{}" y="{legend_y}">largest free blocks</text>"##,
                legend_y - 10,
                x + 16
            );
        }
        let _ = writeln!(out, "</g>");

        let caption1 = format!(
            "free {} in {} · largest free block {} · fragmentation {}",
            bytes(f.free_bytes),
            count(f.free_blocks, "block"),
            bytes(f.largest_free),
            percent(f.fragmentation())
        );
        let pinned = if f.pinned_blocks > 0 {
            format!(" ({} pinned)", thousands(f.pinned_blocks as u64))
        } else {
            String::new()
        };
        let caption2 = format!(
            "used {} in {}{pinned} · pool {} · 1 cell = {} · 1 row = {}",
            bytes(f.used_bytes + f.pinned_bytes),
            count(f.used_blocks + f.pinned_blocks, "block"),
            bytes(f.capacity),
            short(f.cell_bytes),
            short(row_bytes)
        );
        let _ = writeln!(
            out,
            r#"<text class="caption" x="{LEFT}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
            legend_y + 26,
            escape(&caption1)
        );
        let _ = writeln!(
            out,
            r##"<text class="caption" x="{LEFT}" y="{}" font-size="12" fill="#333">{}</text>"##,
            legend_y + 44,
            escape(&caption2)
        );
        let holes: Vec<String> = self
            .holes
            .iter()
            .map(|&(start, size)| format!("{} at {}", short(size), short(start)))
            .collect();
        if !holes.is_empty() {
            let _ = writeln!(
                out,
                r##"<text class="holes-caption" x="{LEFT}" y="{}" font-size="12" fill="#d1342f">{}</text>"##,
                legend_y + 62,
                escape(&format!("largest free blocks (outlined): {}", holes.join(" · ")))
            );
        }
        let _ = writeln!(out, "</g>");
        legend_y + 62 + 16 - top
    }
}

/// Cell width, height, gap between rows and row pitch in an SVG map, in pixels.
const CW: usize = 14;
const CH: usize = 12;
const PITCH: usize = CH + 3;
/// Room on the left for the rows' offsets.
const LEFT: usize = 78;

/// An SVG picture of one or more heap maps, one panel each (with its heading) under the `title`.
pub(crate) fn svg(title: &str, panels: &[(&str, &HeapMap)]) -> String {
    let mut palette = Palette::default();
    let mut body = String::new();
    let mut y = 40;
    for (heading, map) in panels {
        y += map.svg_panel(&mut body, &mut palette, heading, y) + 16;
    }
    let width = LEFT + SVG_COLUMNS * CW + 40;
    let height = y;
    let mut svg = String::with_capacity(body.len() + 1024);
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, "<title>{}</title>", escape(title));
    let _ = writeln!(svg, "<style>");
    for (k, colour) in palette.colours.iter().enumerate() {
        let _ = writeln!(svg, ".c{k}{{fill:{colour}}}");
    }
    let _ = writeln!(svg, "</style>");
    let _ = writeln!(svg, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        svg,
        r#"<text class="title" x="{LEFT}" y="26" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    svg.push_str(&body);
    svg.push_str("</svg>\n");
    svg
}

/// The colour of a cell of `category` filled to `level` of `levels`: the category's colour blended into
/// the free colour.
fn blend(category: Category, level: u8, levels: u8) -> String {
    let (free, full) = (Category::Free.rgb(), category.rgb());
    let t = f64::from(level.min(levels)) / f64::from(levels.max(1));
    let mix =
        |k: usize| (f64::from(free[k]) + (f64::from(full[k]) - f64::from(free[k])) * t).round();
    format!("#{:02x}{:02x}{:02x}", mix(0) as u8, mix(1) as u8, mix(2) as u8)
}

/// The colours a picture uses, each a CSS class `c0`, `c1`, ...
#[derive(Debug, Default)]
struct Palette {
    colours: Vec<String>,
}

impl Palette {
    fn class(&mut self, colour: String) -> String {
        let k = match self.colours.iter().position(|c| *c == colour) {
            Some(k) => k,
            None => {
                self.colours.push(colour);
                self.colours.len() - 1
            }
        };
        format!("c{k}")
    }
}

/// `text` with XML's special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(len: usize, used: usize, pinned: usize) -> Cell {
        Cell { len, used, pinned, free: len - used - pinned, ..Cell::default() }
    }

    #[test]
    fn shades_follow_the_majority_and_the_fill() {
        assert_eq!(shade(&cell(64, 0, 0)), (Category::Free, 0));
        assert_eq!(shade(&cell(64, 64, 0)), (Category::Used, 8));
        assert_eq!(shade(&cell(64, 1, 0)), (Category::Used, 1));
        assert_eq!(shade(&cell(64, 32, 0)), (Category::Used, 4));
        assert_eq!(shade(&cell(64, 48, 0)), (Category::Used, 6));
        assert_eq!(shade(&cell(64, 16, 16)), (Category::Pinned, 4));
        let mut s = cell(64, 64, 0);
        s.kinds[ObjectKind::Str as usize] = 64;
        assert_eq!(shade(&s), (Category::Str, 8));
        // The fine scale tells 40% from 45%, which eighths do not.
        assert_eq!(shade_in(&cell(1000, 400, 0), FINE_LEVELS).1, 13);
        assert_eq!(shade_in(&cell(1000, 450, 0), FINE_LEVELS).1, 15);
        assert_eq!(shade(&cell(1000, 400, 0)).1, shade(&cell(1000, 450, 0)).1);
    }

    /// A map of `n` cells of 16 bytes, alternating full strings and free cells.
    fn striped(n: usize) -> HeapMap {
        let cells: Vec<Cell> = (0..n)
            .map(|k| {
                let mut c = if k % 2 == 0 { cell(16, 16, 0) } else { cell(16, 0, 0) };
                c.start = k * 16;
                c.starts = 1;
                c.kinds[ObjectKind::Str as usize] = c.used;
                c
            })
            .collect();
        let figures = Figures {
            capacity: n * 16,
            cell_bytes: 16,
            cells: n,
            free_bytes: n / 2 * 16,
            used_bytes: n.div_ceil(2) * 16,
            largest_free: 16,
            free_blocks: n / 2,
            used_blocks: n.div_ceil(2),
            ..Figures::default()
        };
        HeapMap { cells, figures, kinds: true, holes: vec![(16, 16)] }
    }

    #[test]
    fn text_rows_carry_their_offsets() {
        let map = striped(130);
        let text = map.text(64, "  ", false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], format!("      0 |{}|", "s.".repeat(32)));
        assert_eq!(lines[1], format!("  1 KiB |{}|", "s.".repeat(32)));
        assert_eq!(lines[2], "  2 KiB |s.|");
        assert!(map.text_legend(false).contains("s string  : partly used  . free"));
        assert_eq!(
            map.figures_line(),
            "free 1,040 B in 65 blocks, largest free block 16 B, fragmentation 98.5%"
        );
    }

    #[test]
    fn the_worst_svg_stays_small_and_well_formed() {
        // Every cell differs from its neighbour, so no run merges.
        let svg = svg("stripes & <more>", &[("one", &striped(SVG_CELLS)), ("two", &striped(5))]);
        assert!(svg.len() < 600 << 10, "{} bytes", svg.len());
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let rects = doc.descendants().filter(|n| n.has_tag_name("rect")).count();
        // A background per row, a rect per used cell, legend swatches, the page.
        assert!(rects > SVG_CELLS / 2 && rects < SVG_CELLS / 2 + 200, "{rects}");
        let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
        assert_eq!(title.text(), Some("stripes & <more>"));
    }

    #[test]
    fn blends_run_from_free_to_full() {
        assert_eq!(blend(Category::Used, 0, LEVELS), "#e4e6ea");
        assert_eq!(blend(Category::Used, LEVELS, LEVELS), "#3b6ea8");
        assert_eq!(blend(Category::Used, FINE_LEVELS, FINE_LEVELS), "#3b6ea8");
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }
}
