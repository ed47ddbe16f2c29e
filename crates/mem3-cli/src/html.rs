//! The heap explorer (`--html`): one self-contained HTML page, with its script and style inline, that
//! draws a [`Timeline`] on a canvas: the pool zoomable to single blocks, a slider over the snapshots, the
//! figures plotted over the run with its events marked.
//!
//! The snapshots' segments are written compactly: LEB128 varints in base64, per segment its size in
//! granules, a code (kind in bits 0..2, bit 2 for a folded run, which adds its block count and used
//! granules), and its tag. `explorer.js` decodes them.

use std::fmt::Write as _;

use mem3_trace::{EventKind, SegmentKind, Timeline};
use mem3_vm::mem3_object::ObjectKind;
use serde::Serialize;

/// The script of the page.
const SCRIPT: &str = include_str!("explorer.js");

/// What a used block's tag means in a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagMeaning {
    /// The trace line of the request that allocated the block.
    TraceLine,
    /// The block's [`ObjectKind`] discriminant.
    ObjectKind,
}

/// What a page shows.
#[derive(Debug)]
pub(crate) struct Explorer<'a> {
    pub(crate) title: &'a str,
    /// What a moment is: `request` or `allocation`.
    pub(crate) moment: &'a str,
    pub(crate) tag_meaning: TagMeaning,
    pub(crate) timeline: &'a Timeline,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    title: &'a str,
    capacity: usize,
    moment: &'a str,
    tag_meaning: &'static str,
    kinds: std::collections::BTreeMap<u32, &'static str>,
    end: usize,
    peak: Option<usize>,
    /// `[at, used, free, largest free, fragmentation in 1/10,000]`.
    samples: Vec<[u64; 5]>,
    snapshots: Vec<Snap>,
    events: Vec<EventData>,
    events_dropped: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Snap {
    at: usize,
    line: usize,
    used: usize,
    free: usize,
    largest: usize,
    frag: f64,
    used_blocks: usize,
    free_blocks: usize,
    exact: bool,
    seg: String,
}

#[derive(Serialize)]
struct EventData {
    kind: &'static str,
    at: usize,
    line: usize,
    before: Option<usize>,
    after: Option<usize>,
}

/// The page for `explorer`.
pub(crate) fn page(explorer: &Explorer<'_>) -> String {
    let t = explorer.timeline;
    let kinds = match explorer.tag_meaning {
        TagMeaning::TraceLine => Default::default(),
        TagMeaning::ObjectKind => [
            (ObjectKind::Int as u32, "int"),
            (ObjectKind::Float as u32, "float"),
            (ObjectKind::Str as u32, "string"),
        ]
        .into_iter()
        .collect(),
    };
    let data = Data {
        title: explorer.title,
        capacity: t.snapshots.first().map_or(0, |s| s.capacity),
        moment: explorer.moment,
        tag_meaning: match explorer.tag_meaning {
            TagMeaning::TraceLine => "line",
            TagMeaning::ObjectKind => "kind",
        },
        kinds,
        end: t.end,
        peak: t.peak,
        samples: t
            .samples
            .iter()
            .map(|s| {
                let f = &s.figures;
                [
                    s.at as u64,
                    f.used_bytes as u64,
                    f.free_bytes as u64,
                    f.largest_free as u64,
                    (f.fragmentation * 10_000.0).round() as u64,
                ]
            })
            .collect(),
        snapshots: t
            .snapshots
            .iter()
            .map(|s| Snap {
                at: s.at,
                line: s.line,
                used: s.figures.used_bytes,
                free: s.figures.free_bytes,
                largest: s.figures.largest_free,
                frag: s.figures.fragmentation,
                used_blocks: s.figures.used_blocks,
                free_blocks: s.figures.free_blocks,
                exact: s.exact,
                seg: encode(&s.segments),
            })
            .collect(),
        events: t
            .events
            .iter()
            .map(|e| EventData {
                kind: match e.kind {
                    EventKind::Failure => "failure",
                    EventKind::Collection => "collection",
                    _ => "compaction",
                },
                at: e.at,
                line: e.line,
                before: e.before,
                after: e.after,
            })
            .collect(),
        events_dropped: t.events_dropped,
    };
    // `</` cannot end the script element early once escaped; `\/` is valid JSON.
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into()).replace("</", "<\\/");
    let mut out = String::with_capacity(json.len() + SCRIPT.len() + 4096);
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>
body {{ font: 13px "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 16px; color: #222; max-width: 1060px; }}
h1 {{ font-size: 16px; }}
canvas {{ display: block; border: 1px solid #ccc; width: 1024px; margin: 6px 0; }}
#map {{ cursor: crosshair; }}
#figures b {{ margin-right: 12px; }}
#slider {{ width: 640px; vertical-align: middle; }}
#tip {{ position: absolute; display: none; background: #222; color: #fff; padding: 4px 7px; border-radius: 3px;
       font-size: 12px; max-width: 420px; pointer-events: none; }}
.sw {{ display: inline-block; width: 11px; height: 11px; border: 1px solid #888; margin: 0 3px 0 8px; vertical-align: -1px; }}
.sw.hole {{ border: 2px solid #d1342f; background: #e4e6ea; }}
#events div {{ margin: 2px 0; }}
#selftest {{ display: none; }}
</style></head>
<body>
<h1 id="title">{title}</h1>
<div id="figures"><b id="f-at"></b> used <b id="f-used"></b> free <b id="f-free"></b> largest free block
<b id="f-largest"></b> fragmentation <b id="f-frag"></b> blocks <b id="f-blocks"></b></div>
<div id="controls"><button id="prev" title="previous snapshot">&#9664;</button>
<input type="range" id="slider" min="0" max="0" value="0" aria-label="snapshot">
<button id="next" title="next snapshot">&#9654;</button> <button id="peak">peak</button> <span id="snap-label"></span></div>
<canvas id="plot" width="1024" height="150"></canvas>
<div><button id="zoom-in">zoom in</button> <button id="zoom-out">zoom out</button> <button id="zoom-all">whole pool</button>
<span id="view"></span></div>
<canvas id="map" width="1024" height="512"></canvas>
<div id="legend"></div>
<p>Wheel or double-click to zoom, drag to pan, hover a block for its offset, size and state; click the plot
to jump to the nearest snapshot.</p>
<div id="events"></div>
<div id="tip"></div>
<pre id="selftest"></pre>
<script id="data" type="application/json">{json}</script>
<script>
{SCRIPT}</script>
</body></html>
"#,
        title = escape(explorer.title),
    );
    out
}

/// The segments as base64 LEB128 varints (see the module docs).
fn encode(segments: &[mem3_trace::Segment]) -> String {
    let mut bytes = Vec::with_capacity(segments.len() * 4);
    let varint = |mut n: u64, bytes: &mut Vec<u8>| loop {
        let low = (n & 127) as u8;
        n >>= 7;
        if n == 0 {
            bytes.push(low);
            break;
        }
        bytes.push(low | 128);
    };
    for s in segments {
        let kind = match s.kind {
            SegmentKind::Free => 0,
            SegmentKind::Used => 1,
            SegmentKind::Pinned => 2,
            SegmentKind::Mixed => 3,
        };
        let folded = s.blocks > 1;
        varint((s.size / mem3_pool::GRANULE) as u64, &mut bytes);
        varint(kind | if folded { 4 } else { 0 }, &mut bytes);
        if folded {
            varint(s.blocks as u64, &mut bytes);
            varint((s.used / mem3_pool::GRANULE) as u64, &mut bytes);
        }
        varint(u64::from(s.tag), &mut bytes);
    }
    base64(&bytes)
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `text` with HTML's special characters escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn segments_encode_as_varints() {
        let seg = |size, kind, blocks, used, tag| mem3_trace::Segment {
            start: 0,
            size,
            kind,
            blocks,
            used,
            tag,
        };
        // 16 B used tag 300: [2, 1, 0xac 0x02]; 2 KiB folded of 3 blocks, 1 KiB used: [0x80 0x02, 7, 3,
        // 0x80 0x01, 0].
        let text = encode(&[
            seg(16, SegmentKind::Used, 1, 16, 300),
            seg(2048, SegmentKind::Mixed, 3, 1024, 0),
        ]);
        assert_eq!(text, base64(&[2, 1, 0xac, 0x02, 0x80, 0x02, 7, 3, 0x80, 0x01, 0]));
    }
}
