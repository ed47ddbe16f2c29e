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

/// A byte count in the largest binary unit that keeps it short: `0`, `512 B`, `4 KiB`, `1.5 MiB`.
/// Exact for the powers of two a heap map's axis uses; otherwise rounded to one decimal.
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
                format!("{:.1} {name}", n as f64 / unit as f64)
            };
        }
    }
    format!("{n} B")
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
        assert_eq!(short(64 << 20), "64 MiB");
        assert_eq!(percent(0.7342), "73.4%");
        assert_eq!(
            (count(1, "block"), count(1000, "block")),
            ("1 block".into(), "1,000 blocks".into())
        );
    }
}
