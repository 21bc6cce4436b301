//! Docker's go-units: human-readable sizes (`HumanSizeWithPrecision`, `BytesSize`), ages
//! (`HumanDuration`) and size parsing (`FromHumanSize`, `RAMInBytes`), with Go's `%.Ng`
//! number formatting.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ParseError;

const DECIMAL_UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// The size column of `docker images` and `docker history`:
/// `units.HumanSizeWithPrecision(size, 3)`. `0` -> `0B`, `1000` -> `1kB`,
/// `1234567` -> `1.23MB`, `187654321` -> `188MB`, `999999` -> `1e+03kB` (as Go prints it).
#[must_use]
pub fn human_size(size: f64) -> String {
    human_size_with_precision(size, 3)
}

/// `units.HumanSizeWithPrecision`: decimal units (`B`, `kB`, `MB`, ...) and `%.{precision}g`.
/// `units.HumanSize` (used by `docker system df` and the `SharedSize` column) is precision 4.
#[must_use]
pub fn human_size_with_precision(size: f64, precision: usize) -> String {
    let (scaled, unit) = scale(size, 1000.0, &DECIMAL_UNITS);
    format!("{}{unit}", format_g(scaled, precision))
}

/// `units.BytesSize`: binary units (`KiB`, `MiB`, ...) with 4 significant digits, e.g.
/// `1536` -> `1.5KiB`.
#[must_use]
pub fn bytes_size(size: f64) -> String {
    let (scaled, unit) = scale(size, 1024.0, &BINARY_UNITS);
    format!("{}{unit}", format_g(scaled, 4))
}

fn scale(mut size: f64, base: f64, units: &[&'static str; 9]) -> (f64, &'static str) {
    let mut index = 0;
    while size >= base && index < units.len() - 1 {
        size /= base;
        index += 1;
    }
    (size, units[index])
}

/// Go's `fmt.Sprintf("%.*g", precision, value)`: `precision` significant digits (rounded half
/// to even on the exact binary value, like strconv), trailing zeros dropped, exponent form
/// (`1e+03`) when the exponent is below -4 or at least the precision.
#[must_use]
pub fn format_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let precision = precision.max(1);
    let sign = if value.is_sign_negative() { "-" } else { "" };
    // Rust's `{:.N e}` rounds the exact value half to even, as strconv does.
    let scientific = format!("{:.*e}", precision - 1, value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    // strconv's decimal form: digits d1 d2 ... with the point after `point` digits.
    let point: i32 = if digits.is_empty() { 0 } else { exponent + 1 };
    let count = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let precision = i32::try_from(precision).unwrap_or(i32::MAX);

    let mut exponent_limit = precision;
    if exponent_limit > count && count >= point {
        exponent_limit = count;
    }
    let decimal_exponent = point - 1;
    let digit = |index: i32| -> char {
        usize::try_from(index)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or('0', |d| char::from(*d))
    };

    let mut out = String::from(sign);
    if decimal_exponent < -4 || decimal_exponent >= exponent_limit {
        let shown = precision.min(count).max(1);
        out.push(digit(0));
        if shown > 1 {
            out.push('.');
            for index in 1..shown {
                out.push(digit(index));
            }
        }
        let shown_exponent = if digits.is_empty() {
            0
        } else {
            decimal_exponent
        };
        out.push('e');
        out.push(if shown_exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", shown_exponent.abs()));
    } else {
        let fraction_digits = if precision > point {
            (count - point).max(0)
        } else {
            (precision - point).max(0)
        };
        if point > 0 {
            for index in 0..point {
                out.push(digit(index));
            }
        } else {
            out.push('0');
        }
        if fraction_digits > 0 {
            out.push('.');
            for index in 0..fraction_digits {
                out.push(digit(point + index));
            }
        }
    }
    out
}

/// go-units `HumanDuration`: `Less than a second`, `1 second`, `N seconds`, `About a minute`,
/// `N minutes`, `About an hour`, `N hours` (below 48), `N days` (below 2 weeks), `N weeks`
/// (below 2 months), `N months` (below 2 years), `N years`.
#[must_use]
pub fn human_duration(duration: Duration) -> String {
    const NANOS_PER_SECOND: u128 = 1_000_000_000;
    const NANOS_PER_MINUTE: u128 = 60 * NANOS_PER_SECOND;
    const NANOS_PER_HOUR: u128 = 60 * NANOS_PER_MINUTE;
    let nanos = duration.as_nanos();
    let seconds = nanos / NANOS_PER_SECOND;
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = nanos / NANOS_PER_MINUTE;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go rounds to the nearest hour here (halfway rounds up).
    let hours = (nanos + NANOS_PER_HOUR / 2) / NANOS_PER_HOUR;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    // The years count uses the unrounded hours, as go-units does.
    format!("{} years", nanos / NANOS_PER_HOUR / 24 / 365)
}

/// Docker's `CreatedSince` column: `human_duration(now - created) + " ago"`. A creation time
/// in the future reads `Less than a second ago`, as in Docker.
#[must_use]
pub fn created_since(created: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let age = (now - created).to_std().unwrap_or(Duration::ZERO);
    format!("{} ago", human_duration(age))
}

/// go-units `FromHumanSize`: `"10MB"`, `"1.5 kb"`, `"32"` in bytes with decimal multipliers
/// (k = 1000). Suffixes are case-insensitive and may end in `b` or `ib` (`KiB` is still 1000).
///
/// # Errors
///
/// [`ParseError::InvalidSize`] and [`ParseError::InvalidSizeSuffix`], as go-units reports them.
pub fn parse_size(text: &str) -> Result<i64, ParseError> {
    parse_size_with(text, 1000)
}

/// go-units `RAMInBytes`: like [`parse_size`] with binary multipliers (k = 1024), as
/// `--memory` and `--shm-size` use.
///
/// # Errors
///
/// As [`parse_size`].
pub fn parse_ram_size(text: &str) -> Result<i64, ParseError> {
    parse_size_with(text, 1024)
}

fn parse_size_with(text: &str, base: u64) -> Result<i64, ParseError> {
    let invalid = || ParseError::InvalidSize {
        input: text.to_string(),
    };
    let split = text
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(invalid)?;
    let (number, suffix) = if text[split..].starts_with(' ') {
        (&text[..split], &text[split + 1..])
    } else {
        (&text[..=split], &text[split + 1..])
    };
    let mut size: f64 = number.parse().map_err(|_| invalid())?;
    if size < 0.0 {
        return Err(invalid());
    }
    if suffix.is_empty() {
        return Ok(size as i64);
    }
    let suffix = suffix.to_lowercase();
    let bad_suffix = || ParseError::InvalidSizeSuffix {
        suffix: suffix.clone(),
    };
    if suffix.len() > 3 {
        return Err(bad_suffix());
    }
    let mut chars = suffix.chars();
    let multiplier_exponent = match chars.next() {
        Some('b') if suffix.len() == 1 => return Ok(size as i64),
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        _ => return Err(bad_suffix()),
    };
    match chars.as_str() {
        "" | "b" | "ib" => {}
        _ => return Err(bad_suffix()),
    }
    size *= (base as f64).powi(multiplier_exponent);
    Ok(size as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn human_size_matches_docker() {
        let cases: [(f64, &str); 16] = [
            (0.0, "0B"),
            (1.0, "1B"),
            (999.0, "999B"),
            (1000.0, "1kB"),
            (1024.0, "1.02kB"),
            (1_234_567.0, "1.23MB"),
            (72_800_000.0, "72.8MB"),
            (187_654_321.0, "188MB"),
            (7_797_760.0, "7.8MB"),
            (8_830_000.0, "8.83MB"),
            (999_999.0, "1e+03kB"),
            (100_500.0, "100kB"),
            (101_500.0, "102kB"),
            (1e12, "1TB"),
            (1.5e27, "1.5e+03YB"),
            (-5.0, "-5B"),
        ];
        for (size, expected) in cases {
            assert_eq!(human_size(size), expected, "{size}");
        }
    }

    #[test]
    fn human_size_precision_four_and_bytes_size() {
        assert_eq!(human_size_with_precision(1_234_567.0, 4), "1.235MB");
        assert_eq!(human_size_with_precision(12_345.0, 4), "12.35kB");
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(bytes_size(1_048_576.0), "1MiB");
        assert_eq!(bytes_size(1_073_741_824.0 * 3.25), "3.25GiB");
    }

    #[test]
    fn format_g_matches_go() {
        let cases: [(f64, usize, &str); 10] = [
            (0.0, 3, "0"),
            (123_456.0, 3, "1.23e+05"),
            (0.0001234, 3, "0.000123"),
            (0.00001234, 3, "1.23e-05"),
            (100.0, 3, "100"),
            (1000.0, 3, "1e+03"),
            (2.5, 1, "2"),
            (3.5, 1, "4"),
            (1.05, 2, "1.1"),
            (12.0, 0, "1e+01"),
        ];
        for (value, precision, expected) in cases {
            assert_eq!(format_g(value, precision), expected, "{value} {precision}");
        }
    }

    fn secs(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    #[test]
    fn human_duration_thresholds() {
        let hour = 3600;
        let day = 24 * hour;
        let cases = [
            (Duration::from_millis(999), "Less than a second"),
            (secs(1), "1 second"),
            (Duration::from_millis(1999), "1 second"),
            (secs(2), "2 seconds"),
            (secs(59), "59 seconds"),
            (secs(60), "About a minute"),
            (secs(119), "About a minute"),
            (secs(120), "2 minutes"),
            (secs(59 * 60 + 59), "59 minutes"),
            (secs(hour), "About an hour"),
            (secs(hour + 29 * 60 + 59), "About an hour"),
            (secs(hour + 30 * 60), "2 hours"),
            (secs(47 * hour + 29 * 60), "47 hours"),
            (secs(47 * hour + 30 * 60), "2 days"),
            (secs(13 * day + 23 * hour), "13 days"),
            (secs(14 * day), "2 weeks"),
            (secs(59 * day), "8 weeks"),
            (secs(60 * day), "2 months"),
            (secs(729 * day), "24 months"),
            (secs(730 * day), "2 years"),
            (secs(3 * 365 * day + 100 * day), "3 years"),
        ];
        for (duration, expected) in cases {
            assert_eq!(human_duration(duration), expected, "{duration:?}");
        }
    }

    #[test]
    fn created_since_reads_ago() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let created = Utc.with_ymd_and_hms(2024, 4, 1, 12, 0, 0).unwrap();
        assert_eq!(created_since(created, now), "4 weeks ago");
        assert_eq!(created_since(now, created), "Less than a second ago");
    }

    #[test]
    fn size_parsing_matches_go_units() {
        assert_eq!(parse_size("32"), Ok(32));
        assert_eq!(parse_size("32b"), Ok(32));
        assert_eq!(parse_size("32 KB"), Ok(32_000));
        assert_eq!(parse_size("32kib"), Ok(32_000));
        assert_eq!(parse_size("1.5m"), Ok(1_500_000));
        assert_eq!(parse_ram_size("1.5m"), Ok(1_572_864));
        assert_eq!(parse_ram_size("2GiB"), Ok(2_147_483_648));
        assert_eq!(
            parse_size("32kbb"),
            Err(ParseError::InvalidSizeSuffix {
                suffix: "kbb".into()
            })
        );
        assert_eq!(
            parse_size("32x"),
            Err(ParseError::InvalidSizeSuffix { suffix: "x".into() })
        );
        assert_eq!(
            parse_size("x"),
            Err(ParseError::InvalidSize { input: "x".into() })
        );
        assert_eq!(
            parse_size("-1"),
            Err(ParseError::InvalidSize { input: "-1".into() })
        );
        assert_eq!(
            parse_size("").map_err(|e| e.to_string()),
            Err("invalid size: ''".into())
        );
    }
}
