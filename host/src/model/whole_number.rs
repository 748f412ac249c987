//! Whole numbers as JSON has them. JSON (and JSON Schema) has one number
//! type: `15.0` is the integer 15, and clients in languages without an
//! integer type send it so. serde's `u64` refuses it; these accept any
//! number without a fractional part that fits.

use serde::{Deserialize, Deserializer};

/// An optional `u64` that also accepts a whole float such as `15.0`.
pub fn optional_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(whole) = number.as_u64() {
        return Ok(Some(whole));
    }
    match number.as_f64() {
        // 2^64 is the first float past u64::MAX.
        Some(float)
            if float.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&float) =>
        {
            Ok(Some(float as u64))
        }
        _ => Err(serde::de::Error::custom(format!(
            "invalid value: {number}, expected a whole number from 0 to {}",
            u64::MAX
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Seconds {
        #[serde(default, deserialize_with = "super::optional_u64")]
        seconds: Option<u64>,
    }

    fn parse(json: &str) -> Result<Option<u64>, String> {
        serde_json::from_str::<Seconds>(json)
            .map(|s| s.seconds)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_floats_are_whole_numbers() {
        assert_eq!(parse(r#"{"seconds": 15}"#), Ok(Some(15)));
        assert_eq!(parse(r#"{"seconds": 15.0}"#), Ok(Some(15)));
        assert_eq!(parse(r#"{"seconds": 1e3}"#), Ok(Some(1000)));
        assert_eq!(parse(r#"{"seconds": null}"#), Ok(None));
        assert_eq!(parse(r#"{}"#), Ok(None));
    }

    #[test]
    fn fractions_negatives_and_overflow_are_refused() {
        for bad in ["1.5", "-1", "-1.0", "1e20", "\"3\""] {
            let error = parse(&format!(r#"{{"seconds": {bad}}}"#)).expect_err(bad);
            assert!(!error.is_empty());
        }
    }
}
