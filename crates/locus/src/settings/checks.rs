//! Checks that several declarations share.

use std::time::Duration;

use super::setting::joined;

/// `value` if it is at least 1.
pub fn at_least_one(value: u32) -> Result<u32, String> {
    if value == 0 {
        return Err("must be at least 1, got 0".to_owned());
    }
    Ok(value)
}

/// `secs` seconds (at least 1) as a [`Duration`].
pub fn seconds(secs: u32) -> Result<Duration, String> {
    at_least_one(secs).map(|secs| Duration::from_secs(secs.into()))
}

/// `secs` seconds (at least 1) in milliseconds.
pub fn milliseconds(secs: u32) -> Result<u64, String> {
    at_least_one(secs).map(|secs| u64::from(secs) * 1000)
}

/// The value of the word `text` among `words`, compared in any case when
/// `any_case`; the error lists the words and quotes `text`.
pub fn pick<T: Copy>(text: &str, words: &[(&str, T)], any_case: bool) -> Result<T, String> {
    let found = words.iter().find(|(word, _)| {
        if any_case {
            word.eq_ignore_ascii_case(text)
        } else {
            *word == text
        }
    });
    match found {
        Some((_, value)) => Ok(*value),
        None => {
            let names: Vec<&str> = words.iter().map(|(word, _)| *word).collect();
            Err(format!("must be {}, got '{text}'", joined(&names, "or")))
        }
    }
}
