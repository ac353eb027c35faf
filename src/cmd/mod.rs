//! Subcommands of the `embargo` binary. Each parses its flags, calls the library and prints
//! a short report; errors carry what went wrong and what to do.

pub mod keygen;
pub mod serve;
pub mod submit;
pub mod verify;

use anyhow::{bail, Context};
use std::time::Duration;

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Parses durations such as `100ms`, `2s`, `5m`, `12h`, `365d`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .with_context(|| format!("{s:?} is not a duration: use e.g. 100ms, 2s, 5m, 12h or 365d"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("{s:?} has an unknown unit {unit:?}: use ms, s, m, h or d"),
    };
    let ms = n
        .checked_mul(unit_ms)
        .with_context(|| format!("{s:?} is too long"))?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(
            parse_duration("365d").unwrap(),
            Duration::from_secs(365 * 86400)
        );
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("5 weeks").is_err());
    }
}
