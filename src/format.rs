//! Numbers as people read them.

/// `1_118_459_512` → "1.12 GB" (SI units, as the hub lists file sizes).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.2} {}", UNITS[unit]) }
}

/// `5400.0` → "1 h 30 min", `95.0` → "1 min 35 s", `12.3` → "12 s".
pub fn duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    match (seconds / 3600, seconds % 3600 / 60, seconds % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_people_write_them() {
        assert_eq!(bytes(1_118_459_512), "1.12 GB");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(duration(5400.0), "1 h 30 min");
        assert_eq!(duration(95.0), "1 min 35 s");
        assert_eq!(duration(12.3), "12 s");
    }
}
