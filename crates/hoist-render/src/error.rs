//! Error types: [`RenderError`] for producing output, [`ParseError`] for reading user values
//! (durations, timestamps, sizes). Messages reproduce the Docker CLI's wording where it has one.

/// A failure while rendering output.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The `--format` template does not parse. Displays like Docker:
    /// `template parsing error: template: :1: unclosed action`.
    #[error("template parsing error: template: :{line}: {message}")]
    TemplateParse {
        /// The template text as given (after Docker's `\t`/`\n` substitution).
        template: String,
        /// 1-based line of the error in the template.
        line: usize,
        /// What is wrong, in Go's wording where the engine matches it.
        message: String,
    },
    /// The template parsed but failed on the data. Docker reports these with the same
    /// `template parsing error` prefix.
    #[error("template parsing error: template: {message}")]
    TemplateExec {
        /// The template text as given.
        template: String,
        /// What went wrong while executing it.
        message: String,
    },
    /// An item could not be turned into template data (serialisation failed).
    #[error("cannot use {what} as template data: {message}")]
    Data {
        /// Which value failed, e.g. `item 3`.
        what: String,
        /// The serialiser's message.
        message: String,
    },
    /// Writing to the output failed.
    #[error("writing output: {0}")]
    Io(#[from] std::io::Error),
}

/// A user-supplied value (duration, timestamp, size) that does not parse. Messages follow Go's
/// `time` package and go-units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not a Go duration at all (also used for overflow, as Go does).
    #[error("time: invalid duration \"{input}\"")]
    InvalidDuration {
        /// The whole input.
        input: String,
    },
    /// A number without a unit, e.g. `1` inside `1h1`.
    #[error("time: missing unit in duration \"{input}\"")]
    MissingDurationUnit {
        /// The whole input.
        input: String,
    },
    /// A unit Go does not know, e.g. `d`.
    #[error("time: unknown unit \"{unit}\" in duration \"{input}\"")]
    UnknownDurationUnit {
        /// The offending unit.
        unit: String,
        /// The whole input.
        input: String,
    },
    /// Looked like a date (it has a `-`) but does not match the layout Docker chose for it.
    #[error("parsing time \"{input}\" as \"{layout}\": cannot parse \"{rest}\" as \"{element}\"")]
    TimeLayout {
        /// The whole input.
        input: String,
        /// The Go layout Docker picked for the input.
        layout: String,
        /// The unparsed rest of the input.
        rest: String,
        /// The layout element that did not match.
        element: String,
    },
    /// A date or time field is out of range, e.g. month 13.
    #[error("parsing time \"{input}\": {field} out of range")]
    TimeRange {
        /// The whole input.
        input: String,
        /// Which field: `month`, `day`, `hour`, `minute`, `second`, `time zone offset hour`, ...
        field: &'static str,
    },
    /// Text left over after a complete date.
    #[error("parsing time \"{input}\": extra text: \"{extra}\"")]
    TimeExtraText {
        /// The whole input.
        input: String,
        /// What was left.
        extra: String,
    },
    /// Neither a duration, a date nor a Unix timestamp.
    #[error("failed to parse value as time or duration: \"{input}\"")]
    Timestamp {
        /// The whole input.
        input: String,
    },
    /// The time is outside what fits in `i64` nanoseconds since 1970 (years 1677 to 2262).
    #[error("time {input:?} is out of the representable range")]
    TimeOverflow {
        /// The whole input.
        input: String,
    },
    /// Not a size (no digits, bad number or negative).
    #[error("invalid size: '{input}'")]
    InvalidSize {
        /// The whole input.
        input: String,
    },
    /// A size with a suffix go-units does not accept.
    #[error("invalid suffix: '{suffix}'")]
    InvalidSizeSuffix {
        /// The lower-cased suffix as go-units reports it.
        suffix: String,
    },
}
