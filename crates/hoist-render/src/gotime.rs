//! Go's time formats and parsers as Docker uses them: `time.Time.String()` (the `CreatedAt`
//! column), `time.RFC3339`/`RFC3339Nano` (inspect's `Created`, `history --human=false`),
//! `time.ParseDuration`, and `GetTimestamp` from docker/api `types/time`, the rules for
//! `--filter until=` values.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset, TimeZone, Timelike};

use crate::ParseError;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Go's `time.Time.String()` (layout `2006-01-02 15:04:05.999999999 -0700 MST`), which
/// Docker prints in `CreatedAt` columns: `2024-05-01 12:00:00 +0200 +0200`.
///
/// Pass the time in the zone to show (`Local` for the CLI). Go prints the zone's
/// abbreviation, which chrono does not know: a zero offset prints `+0000 UTC`, any other
/// offset prints the numeric offset again, as Go does for zones without an abbreviation.
#[must_use]
pub fn go_time_format<Tz: TimeZone>(time: &DateTime<Tz>) -> String {
    let offset = time.offset().fix().local_minus_utc();
    let numeric = numeric_offset(offset, false);
    let zone = if offset == 0 {
        "UTC".to_string()
    } else {
        numeric.clone()
    };
    format!(
        "{}{} {numeric} {zone}",
        time.naive_local().format("%Y-%m-%d %H:%M:%S"),
        trimmed_fraction(time.nanosecond())
    )
}

/// Go's `time.RFC3339`: `2024-05-01T10:00:00Z`, or `+02:00` style offsets.
#[must_use]
pub fn rfc3339<Tz: TimeZone>(time: &DateTime<Tz>) -> String {
    format!(
        "{}{}",
        time.naive_local().format("%Y-%m-%dT%H:%M:%S"),
        rfc3339_zone(time)
    )
}

/// Go's `time.RFC3339Nano`: like [`rfc3339`] with the fraction of a second, trailing zeros
/// trimmed and no dot when it is zero (`2024-05-01T10:00:00.5Z`).
#[must_use]
pub fn rfc3339_nano<Tz: TimeZone>(time: &DateTime<Tz>) -> String {
    format!(
        "{}{}{}",
        time.naive_local().format("%Y-%m-%dT%H:%M:%S"),
        trimmed_fraction(time.nanosecond()),
        rfc3339_zone(time)
    )
}

fn rfc3339_zone<Tz: TimeZone>(time: &DateTime<Tz>) -> String {
    match time.offset().fix().local_minus_utc() {
        0 => "Z".to_string(),
        offset => numeric_offset(offset, true),
    }
}

/// `.123` for 123 ms; empty for a whole second. Leap-second nanos (chrono's >= 1e9) fold back.
fn trimmed_fraction(nanos: u32) -> String {
    let nanos = nanos % 1_000_000_000;
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", digits.trim_end_matches('0'))
}

fn numeric_offset(offset_seconds: i32, colon: bool) -> String {
    let sign = if offset_seconds < 0 { '-' } else { '+' };
    let minutes = offset_seconds.unsigned_abs() / 60;
    let separator = if colon { ":" } else { "" };
    format!("{sign}{:02}{separator}{:02}", minutes / 60, minutes % 60)
}

/// Go's `time.ParseDuration`, in nanoseconds: `300ms`, `-1.5h`, `1h30m`, `2h45m10.5s`; units
/// `ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m`, `h`; a bare `0` is allowed.
///
/// # Errors
///
/// [`ParseError::InvalidDuration`] (also on overflow), [`ParseError::MissingDurationUnit`],
/// [`ParseError::UnknownDurationUnit`], with Go's messages.
pub fn parse_go_duration(input: &str) -> Result<i64, ParseError> {
    const LIMIT: u64 = 1 << 63;
    let invalid = || ParseError::InvalidDuration {
        input: input.to_string(),
    };
    let mut rest = input;
    let mut negative = false;
    if let Some(stripped) = rest.strip_prefix('-') {
        negative = true;
        rest = stripped;
    } else if let Some(stripped) = rest.strip_prefix('+') {
        rest = stripped;
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !rest.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let before = rest.len();
        let (whole, after_whole) = leading_int(rest).ok_or_else(invalid)?;
        rest = after_whole;
        let had_whole = before != rest.len();

        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut had_fraction = false;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (value, value_scale, after_fraction) = leading_fraction(after_dot);
            had_fraction = after_fraction.len() != after_dot.len();
            fraction = value;
            scale = value_scale;
            rest = after_fraction;
        }
        if !had_whole && !had_fraction {
            return Err(invalid());
        }

        let unit_end = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_end == 0 {
            return Err(ParseError::MissingDurationUnit {
                input: input.to_string(),
            });
        }
        let unit_name = &rest[..unit_end];
        rest = &rest[unit_end..];
        let unit: u64 = match unit_name {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(ParseError::UnknownDurationUnit {
                    unit: unit_name.to_string(),
                    input: input.to_string(),
                });
            }
        };
        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            // Go computes the fractional part in float64, truncating.
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        total += value;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        // total <= 2^63, so the negation fits (2^63 itself is i64::MIN).
        return Ok(0_i64.wrapping_sub_unsigned(total));
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// Go's `leadingInt`: the leading digits, or `None` past 2^63.
fn leading_int(text: &str) -> Option<(u64, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let mut value: u64 = 0;
    for digit in text[..end].bytes() {
        if value > (1 << 63) / 10 {
            return None;
        }
        value = value * 10 + u64::from(digit - b'0');
        if value > 1 << 63 {
            return None;
        }
    }
    Some((value, &text[end..]))
}

/// Go's `leadingFraction`: digits after the dot, accumulated until they would overflow.
fn leading_fraction(text: &str) -> (u64, f64, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let mut value: u64 = 0;
    let mut scale = 1.0;
    let mut overflow = false;
    for digit in text[..end].bytes() {
        if overflow {
            continue;
        }
        if value > ((1 << 63) - 1) / 10 {
            overflow = true;
            continue;
        }
        let next = value * 10 + u64::from(digit - b'0');
        if next > 1 << 63 {
            overflow = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale, &text[end..])
}

/// The instant a `--filter until=<value>` (or `since=`) means, in nanoseconds since 1970,
/// following Docker's `GetTimestamp` then `ParseTimestamps`:
///
/// - a Go duration (`24h`, `1h30m`, `10m`; not the bare `0`) counts back from `now`, to
///   whole seconds;
/// - `2006-01-02`, `2006-01-02T15`, `2006-01-02T15:04`, `2006-01-02T15:04:05` and the same
///   with a fraction are read in `now`'s UTC offset, unless the value carries a zone
///   (`Z`, `+hh:mm`, or a fourth `-`): then RFC 3339 rules apply (`2006-01-02Z07:00` too);
/// - otherwise Unix seconds with an optional fraction: `1690000000`, `1690000000.123`.
///
/// # Errors
///
/// [`ParseError::TimeLayout`], [`ParseError::TimeRange`] or [`ParseError::TimeExtraText`]
/// when a value with a `-` is not a valid date; [`ParseError::Timestamp`] when nothing
/// matches; [`ParseError::TimeOverflow`] outside years 1677 to 2262.
pub fn parse_until_timestamp(input: &str, now: DateTime<FixedOffset>) -> Result<i64, ParseError> {
    let overflow = || ParseError::TimeOverflow {
        input: input.to_string(),
    };
    if input != "0"
        && let Ok(duration) = parse_go_duration(input)
    {
        let now_nanos = now.timestamp_nanos_opt().ok_or_else(overflow)?;
        let then = now_nanos.checked_sub(duration).ok_or_else(overflow)?;
        return then
            .div_euclid(NANOS_PER_SECOND)
            .checked_mul(NANOS_PER_SECOND)
            .ok_or_else(overflow);
    }

    let in_location = !input.contains(['z', 'Z', '+']) && input.matches('-').count() != 3;
    let layout = choose_layout(input, in_location);
    match parse_layout(input, layout) {
        Ok(fields) => {
            let offset = match fields.offset_seconds {
                Some(offset) => offset,
                None => now.offset().local_minus_utc(),
            };
            fields.unix_nanos(offset).ok_or_else(overflow)
        }
        Err(error) if input.contains('-') => Err(error),
        Err(_) => parse_unix_timestamp(input).ok_or_else(|| ParseError::Timestamp {
            input: input.to_string(),
        }),
    }
}

/// Docker's choice of Go layout for a time value.
fn choose_layout(input: &str, in_location: bool) -> &'static [Element] {
    use Element::{Colon, Dash, Day, Fraction, Hour, Minute, Month, Second, T, Year, Zone};
    const DATE: [Element; 5] = [Year, Dash, Month, Dash, Day];
    const LOCAL_DATE: &[Element] = &DATE;
    const ZONED_DATE: &[Element] = &[Year, Dash, Month, Dash, Day, Zone];
    const HOUR: &[Element] = &[Year, Dash, Month, Dash, Day, T, Hour];
    const HOUR_ZONE: &[Element] = &[Year, Dash, Month, Dash, Day, T, Hour, Zone];
    const MINUTE: &[Element] = &[Year, Dash, Month, Dash, Day, T, Hour, Colon, Minute];
    const MINUTE_ZONE: &[Element] = &[Year, Dash, Month, Dash, Day, T, Hour, Colon, Minute, Zone];
    const SECOND: &[Element] = &[
        Year, Dash, Month, Dash, Day, T, Hour, Colon, Minute, Colon, Second,
    ];
    const SECOND_ZONE: &[Element] = &[
        Year, Dash, Month, Dash, Day, T, Hour, Colon, Minute, Colon, Second, Zone,
    ];
    const NANO: &[Element] = &[
        Year, Dash, Month, Dash, Day, T, Hour, Colon, Minute, Colon, Second, Fraction,
    ];
    const NANO_ZONE: &[Element] = &[
        Year, Dash, Month, Dash, Day, T, Hour, Colon, Minute, Colon, Second, Fraction, Zone,
    ];

    if input.contains('.') {
        return if in_location { NANO } else { NANO_ZONE };
    }
    if input.contains('T') {
        let mut colons = input.matches(':').count();
        // A numeric zone offset brings a colon of its own.
        if !in_location && !input.contains(['z', 'Z']) && colons > 0 {
            colons -= 1;
        }
        return match (in_location, colons) {
            (true, 0) => HOUR,
            (true, 1) => MINUTE,
            (true, _) => SECOND,
            (false, 0) => HOUR_ZONE,
            (false, 1) => MINUTE_ZONE,
            (false, _) => SECOND_ZONE,
        };
    }
    if in_location { LOCAL_DATE } else { ZONED_DATE }
}

/// One element of a Go layout, as `time.Parse` handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    Year,
    Dash,
    Month,
    Day,
    T,
    Hour,
    Colon,
    Minute,
    Second,
    Fraction,
    Zone,
}

impl Element {
    fn layout_text(self) -> &'static str {
        match self {
            Element::Year => "2006",
            Element::Dash => "-",
            Element::Month => "01",
            Element::Day => "02",
            Element::T => "T",
            Element::Hour => "15",
            Element::Colon => ":",
            Element::Minute => "04",
            Element::Second => "05",
            Element::Fraction => ".999999999",
            Element::Zone => "Z07:00",
        }
    }
}

#[derive(Debug, Default)]
struct TimeFields {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    offset_seconds: Option<i32>,
}

impl TimeFields {
    fn unix_nanos(&self, offset_seconds: i32) -> Option<i64> {
        let local = NaiveDate::from_ymd_opt(self.year, self.month, self.day)?.and_hms_nano_opt(
            self.hour,
            self.minute,
            self.second,
            self.nanos,
        )?;
        let local_nanos = local.and_utc().timestamp_nanos_opt()?;
        local_nanos.checked_sub(i64::from(offset_seconds).checked_mul(NANOS_PER_SECOND)?)
    }
}

/// Go's `time.Parse` restricted to the elements Docker's layouts use.
fn parse_layout(input: &str, layout: &[Element]) -> Result<TimeFields, ParseError> {
    let layout_text: String = layout.iter().map(|e| e.layout_text()).collect();
    let mut fields = TimeFields {
        month: 1,
        day: 1,
        ..TimeFields::default()
    };
    let mut rest = input;
    for (index, element) in layout.iter().enumerate() {
        let cannot_parse = |rest: &str| ParseError::TimeLayout {
            input: input.to_string(),
            layout: layout_text.clone(),
            rest: rest.to_string(),
            element: element.layout_text().to_string(),
        };
        let out_of_range = |field: &'static str| ParseError::TimeRange {
            input: input.to_string(),
            field,
        };
        match element {
            Element::Dash | Element::T | Element::Colon => {
                let literal = element.layout_text();
                rest = rest
                    .strip_prefix(literal)
                    .ok_or_else(|| cannot_parse(rest))?;
            }
            Element::Year => {
                let digits = rest
                    .get(..4)
                    .filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
                let digits = digits.ok_or_else(|| cannot_parse(rest))?;
                fields.year = digits.parse().map_err(|_| cannot_parse(rest))?;
                rest = &rest[4..];
            }
            Element::Month => {
                let (value, after) = number(rest, true).ok_or_else(|| cannot_parse(rest))?;
                if !(1..=12).contains(&value) {
                    return Err(out_of_range("month"));
                }
                fields.month = value;
                rest = after;
            }
            Element::Day => {
                let (value, after) = number(rest, true).ok_or_else(|| cannot_parse(rest))?;
                fields.day = value;
                rest = after;
            }
            Element::Hour => {
                let (value, after) = number(rest, false).ok_or_else(|| cannot_parse(rest))?;
                if value >= 24 {
                    return Err(out_of_range("hour"));
                }
                fields.hour = value;
                rest = after;
            }
            Element::Minute => {
                let (value, after) = number(rest, true).ok_or_else(|| cannot_parse(rest))?;
                if value >= 60 {
                    return Err(out_of_range("minute"));
                }
                fields.minute = value;
                rest = after;
            }
            Element::Second => {
                let (value, after) = number(rest, true).ok_or_else(|| cannot_parse(rest))?;
                if value >= 60 {
                    return Err(out_of_range("second"));
                }
                fields.second = value;
                rest = after;
                // Go reads a fraction after the seconds even when the layout has none.
                if layout.get(index + 1) != Some(&Element::Fraction)
                    && let Some((nanos, after)) = fraction(rest)
                {
                    fields.nanos = nanos;
                    rest = after;
                }
            }
            Element::Fraction => {
                if let Some((nanos, after)) = fraction(rest) {
                    fields.nanos = nanos;
                    rest = after;
                }
            }
            Element::Zone => {
                if let Some(after) = rest.strip_prefix('Z') {
                    fields.offset_seconds = Some(0);
                    rest = after;
                } else {
                    let (offset, after) = zone_offset(rest).ok_or_else(|| cannot_parse(rest))?;
                    if offset.hours > 24 {
                        return Err(out_of_range("time zone offset hour"));
                    }
                    if offset.minutes > 60 {
                        return Err(out_of_range("time zone offset minute"));
                    }
                    // Both parts are two digits, so this cannot overflow.
                    let seconds = (offset.hours * 3600 + offset.minutes * 60) as i32;
                    fields.offset_seconds = Some(offset.sign * seconds);
                    rest = after;
                }
            }
        }
    }
    if !rest.is_empty() {
        return Err(ParseError::TimeExtraText {
            input: input.to_string(),
            extra: rest.to_string(),
        });
    }
    let days_in_month = NaiveDate::from_ymd_opt(fields.year, fields.month, 1)
        .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
        .and_then(|next| next.pred_opt())
        .map_or(31, |last| last.day());
    if fields.day < 1 || fields.day > days_in_month {
        return Err(ParseError::TimeRange {
            input: input.to_string(),
            field: "day",
        });
    }
    Ok(fields)
}

/// Go's `getnum`: two digits, or one when `fixed` is false and no second digit follows.
fn number(text: &str, fixed: bool) -> Option<(u32, &str)> {
    let bytes = text.as_bytes();
    let first = *bytes.first().filter(|b| b.is_ascii_digit())?;
    match bytes.get(1).filter(|b| b.is_ascii_digit()) {
        Some(second) => Some((
            u32::from(first - b'0') * 10 + u32::from(second - b'0'),
            &text[2..],
        )),
        None if fixed => None,
        None => Some((u32::from(first - b'0'), &text[1..])),
    }
}

/// A `.123` or `,123` fraction of a second: digits beyond nanoseconds are dropped.
fn fraction(text: &str) -> Option<(u32, &str)> {
    let after_separator = text.strip_prefix(['.', ','])?;
    let end = after_separator
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after_separator.len());
    if end == 0 {
        return None;
    }
    let digits = &after_separator[..end.min(9)];
    let mut nanos: u32 = digits.parse().ok()?;
    for _ in digits.len()..9 {
        nanos *= 10;
    }
    Some((nanos, &after_separator[end..]))
}

/// `+hh:mm` or `-hh:mm`, in seconds east of UTC.
fn zone_offset(text: &str) -> Option<(ZoneOffset, &str)> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if text.as_bytes().get(3) != Some(&b':') {
        return None;
    }
    let (hours, _) = number(text.get(1..3)?, true)?;
    let (minutes, _) = number(text.get(4..6)?, true)?;
    Some((
        ZoneOffset {
            sign,
            hours,
            minutes,
        },
        text.get(6..)?,
    ))
}

/// A numeric zone offset as written, before Go's range checks.
#[derive(Debug, Clone, Copy)]
struct ZoneOffset {
    sign: i32,
    hours: u32,
    minutes: u32,
}

/// Docker's `parseTimestamp`: `seconds[.fraction]`, the fraction scaled to nanoseconds.
fn parse_unix_timestamp(text: &str) -> Option<i64> {
    let (seconds_text, fraction_text) = match text.split_once('.') {
        Some((seconds, fraction)) => (seconds, Some(fraction)),
        None => (text, None),
    };
    let seconds: i64 = seconds_text.parse().ok()?;
    let nanos = match fraction_text {
        None => 0,
        Some(fraction) => {
            let value: i64 = fraction.parse().ok()?;
            let exponent = 9 - i32::try_from(fraction.len()).ok()?;
            (value as f64 * 10f64.powi(exponent)) as i64
        }
    };
    seconds.checked_mul(NANOS_PER_SECOND)?.checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn offset(hours: i32) -> FixedOffset {
        FixedOffset::east_opt(hours * 3600).unwrap()
    }

    #[test]
    fn time_string_like_go() {
        let utc = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        assert_eq!(go_time_format(&utc), "2024-05-01 10:00:00 +0000 UTC");
        let shanghai = utc.with_timezone(&offset(8));
        assert_eq!(go_time_format(&shanghai), "2024-05-01 18:00:00 +0800 +0800");
        let west = utc.with_timezone(&FixedOffset::west_opt(3 * 3600 + 1800).unwrap());
        assert_eq!(go_time_format(&west), "2024-05-01 06:30:00 -0330 -0330");
        let fractional = Utc.timestamp_opt(1_714_557_600, 120_000_000).unwrap();
        assert_eq!(
            go_time_format(&fractional),
            "2024-05-01 10:00:00.12 +0000 UTC"
        );
    }

    #[test]
    fn rfc3339_forms() {
        let time = Utc.timestamp_opt(1_714_557_600, 0).unwrap();
        assert_eq!(rfc3339(&time), "2024-05-01T10:00:00Z");
        assert_eq!(rfc3339_nano(&time), "2024-05-01T10:00:00Z");
        let precise = Utc.timestamp_opt(1_714_557_600, 123_450_000).unwrap();
        assert_eq!(rfc3339_nano(&precise), "2024-05-01T10:00:00.12345Z");
        assert_eq!(rfc3339(&precise), "2024-05-01T10:00:00Z");
        let zoned = precise.with_timezone(&offset(2));
        assert_eq!(rfc3339_nano(&zoned), "2024-05-01T12:00:00.12345+02:00");
        let one_nano = Utc.timestamp_opt(0, 1).unwrap();
        assert_eq!(rfc3339_nano(&one_nano), "1970-01-01T00:00:00.000000001Z");
    }

    #[test]
    fn durations_like_go() {
        let ok = [
            ("0", 0),
            ("-0", 0),
            ("300ms", 300_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("-1.5h", -5_400_000_000_000),
            ("+10m", 600_000_000_000),
            ("168h", 604_800_000_000_000),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            ("2\u{b5}s", 2_000),
            ("2\u{3bc}s", 2_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("0.3333333333333333333h", 1_200_000_000_000),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ];
        for (input, expected) in ok {
            assert_eq!(parse_go_duration(input), Ok(expected), "{input}");
        }
        let invalid = |input: &str| ParseError::InvalidDuration {
            input: input.into(),
        };
        assert_eq!(parse_go_duration(""), Err(invalid("")));
        assert_eq!(parse_go_duration("-"), Err(invalid("-")));
        assert_eq!(parse_go_duration(".s"), Err(invalid(".s")));
        assert_eq!(
            parse_go_duration("9223372036854775808ns"),
            Err(invalid("9223372036854775808ns"))
        );
        assert_eq!(parse_go_duration("3000000h"), Err(invalid("3000000h")));
        assert_eq!(
            parse_go_duration("1").map_err(|e| e.to_string()),
            Err("time: missing unit in duration \"1\"".into())
        );
        assert_eq!(
            parse_go_duration("1d").map_err(|e| e.to_string()),
            Err("time: unknown unit \"d\" in duration \"1d\"".into())
        );
    }

    fn now() -> DateTime<FixedOffset> {
        // 2024-05-01T10:00:00.7Z seen from UTC+2.
        Utc.timestamp_opt(1_714_557_600, 700_000_000)
            .unwrap()
            .with_timezone(&offset(2))
    }

    const SECOND: i64 = NANOS_PER_SECOND;
    const NOW: i64 = 1_714_557_600 * SECOND;

    #[test]
    fn until_durations_count_back_to_whole_seconds() {
        assert_eq!(
            parse_until_timestamp("24h", now()),
            Ok(NOW - 86_400 * SECOND)
        );
        assert_eq!(parse_until_timestamp("10m", now()), Ok(NOW - 600 * SECOND));
        assert_eq!(
            parse_until_timestamp("1h30m", now()),
            Ok(NOW - 5_400 * SECOND)
        );
        assert_eq!(parse_until_timestamp("0s", now()), Ok(NOW));
        assert_eq!(parse_until_timestamp("800ms", now()), Ok(NOW - SECOND));
    }

    #[test]
    fn until_unix_timestamps() {
        assert_eq!(parse_until_timestamp("0", now()), Ok(0));
        assert_eq!(
            parse_until_timestamp("1690000000", now()),
            Ok(1_690_000_000 * SECOND)
        );
        assert_eq!(
            parse_until_timestamp("1690000000.123", now()),
            Ok(1_690_000_000 * SECOND + 123_000_000)
        );
        assert_eq!(
            parse_until_timestamp("1690000000.1234567891", now()),
            Ok(1_690_000_000 * SECOND + 123_456_789)
        );
        assert_eq!(
            parse_until_timestamp("yesterday", now()),
            Err(ParseError::Timestamp {
                input: "yesterday".into()
            })
        );
    }

    #[test]
    fn until_dates_use_the_local_offset_unless_zoned() {
        let date = 1_672_531_200 * SECOND; // 2023-01-01T00:00:00Z
        let two_hours = 7_200 * SECOND;
        assert_eq!(
            parse_until_timestamp("2023-01-01", now()),
            Ok(date - two_hours)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T10", now()),
            Ok(date + 8 * 3600 * SECOND)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T10:00", now()),
            Ok(date + 8 * 3600 * SECOND)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T10:00:00", now()),
            Ok(date + 8 * 3600 * SECOND)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T10:00:00.5", now()),
            Ok(date + 8 * 3600 * SECOND + 500_000_000)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T10:00:00Z", now()),
            Ok(date + 10 * 3600 * SECOND)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T10:00:00.25+01:00", now()),
            Ok(date + 9 * 3600 * SECOND + 250_000_000)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T10:00+01:00", now()),
            Ok(date + 9 * 3600 * SECOND)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T10Z", now()),
            Ok(date + 10 * 3600 * SECOND)
        );
        assert_eq!(parse_until_timestamp("2023-01-01Z", now()), Ok(date));
        assert_eq!(
            parse_until_timestamp("2023-01-01-05:00", now()),
            Ok(date + 5 * 3600 * SECOND)
        );
        assert_eq!(
            parse_until_timestamp("2023-01-01T1", now()),
            Ok(date - 3600 * SECOND)
        );
        // A fraction after the seconds is accepted even when the layout has none (comma form).
        assert_eq!(
            parse_until_timestamp("2023-01-01T10:00:00,5", now()),
            Ok(date + 8 * 3600 * SECOND + 500_000_000)
        );
    }

    #[test]
    fn until_bad_dates_report_go_errors() {
        let message = |input: &str| parse_until_timestamp(input, now()).unwrap_err().to_string();
        assert_eq!(
            message("2023-13-01"),
            "parsing time \"2023-13-01\": month out of range"
        );
        assert_eq!(
            message("2023-02-30"),
            "parsing time \"2023-02-30\": day out of range"
        );
        assert_eq!(
            message("2023-01-01T24:00"),
            "parsing time \"2023-01-01T24:00\": hour out of range"
        );
        assert_eq!(
            message("2023-1-01"),
            "parsing time \"2023-1-01\" as \"2006-01-02\": cannot parse \"1-01\" as \"01\""
        );
        assert_eq!(
            message("2023-01-01 10:00"),
            "parsing time \"2023-01-01 10:00\": extra text: \" 10:00\""
        );
        assert_eq!(
            message("2023-01-01T10:00:00x"),
            "parsing time \"2023-01-01T10:00:00x\": extra text: \"x\""
        );
        assert_eq!(
            message("2023-02-29"),
            "parsing time \"2023-02-29\": day out of range"
        );
        assert!(parse_until_timestamp("2024-02-29", now()).is_ok());
        assert_eq!(
            message("2023-01-01T10:00+01:0\u{e9}"),
            "parsing time \"2023-01-01T10:00+01:0\u{e9}\" as \"2006-01-02T15:04Z07:00\": cannot parse \"+01:0\u{e9}\" as \"Z07:00\""
        );
        assert_eq!(
            message("2023-01-01T10:00-01:61"),
            "parsing time \"2023-01-01T10:00-01:61\": time zone offset minute out of range"
        );
        assert_eq!(
            message("2023-01-01T10:00+25:00"),
            "parsing time \"2023-01-01T10:00+25:00\": time zone offset hour out of range"
        );
    }
}
