//! Numbers for people: thousands separators, binary units, percentages.

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count exactly, with separators: `7,040 B`.
pub(crate) fn bytes(n: usize) -> String {
    format!("{} B", thousands(n as u64))
}

/// A byte count in the largest binary unit that keeps it short: `0`, `512 B`, `4 KiB`, `1.25 MiB`.
/// Exact for the powers of two a heap map's axis uses and their halves and quarters; otherwise rounded to
/// two decimals, trailing zeros dropped.
pub(crate) fn short(n: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    if n == 0 {
        return "0".into();
    }
    for (unit, name) in UNITS {
        if n >= unit {
            return if n % unit == 0 {
                format!("{} {name}", n / unit)
            } else {
                let text = format!("{:.2}", n as f64 / unit as f64);
                format!("{} {name}", text.trim_end_matches('0').trim_end_matches('.'))
            };
        }
    }
    format!("{n} B")
}

/// `text` safe to echo to a terminal: control characters (NUL, escape, ...) and other non-printable
/// characters as `\x00` or `\u{..}`, so that input quoted in a message cannot garble the terminal.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c == '\u{fffd}' {
            if (c as u32) < 0x80 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `n` and the noun, singular or plural: `1 block`, `2 blocks`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", thousands(n as u64))
}

/// A fraction from 0 to 1 as a percentage with one decimal: `73.4%`.
pub(crate) fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(bytes(7040), "7,040 B");
        assert_eq!(short(0), "0");
        assert_eq!(short(512), "512 B");
        assert_eq!(short(4096), "4 KiB");
        assert_eq!(short(3 << 19), "1.5 MiB");
        assert_eq!(short(5 << 18), "1.25 MiB");
        assert_eq!(short(1_300_000), "1.24 MiB");
        assert_eq!(printable("a\0b\x1b[31m\u{85}"), "a\\x00b\\x1b[31m\\u{85}");
        assert_eq!(short(64 << 20), "64 MiB");
        assert_eq!(percent(0.7342), "73.4%");
        assert_eq!(
            (count(1, "block"), count(1000, "block")),
            ("1 block".into(), "1,000 blocks".into())
        );
    }
}
