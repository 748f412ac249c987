//! `strtod` for QuickJS's JSON parser.
//!
//! QuickJS converts each number of a JSON text with the C library's
//! `strtod`, after validating it. wasi-libc's `strtod` (musl's) takes its
//! arbitrary-precision path for most numbers with a fraction: in a command
//! that parses a 2.9 KB catalogue it was 6% of the run. Rust's parser is
//! correctly rounded too, and several times faster. Defining the symbol here
//! keeps the C library's out of the link; nothing else in the engine calls it.
//!
//! The accepted syntax is C89's: optional leading white space and sign, then
//! a decimal mantissa with an optional exponent, or `inf`, `infinity` or
//! `nan` (any case, `nan` optionally followed by `(chars)`). C99's
//! hexadecimal floats are not read: `0x1p3` converts its leading `0`.

/// Where the number starts and ends in a text, byte offsets from its start.
#[derive(Debug, PartialEq)]
struct Extent {
    /// After the leading white space: the sign, or the first digit.
    start: usize,
    /// One past the last byte that is part of the number.
    end: usize,
    /// A `nan` with `(chars)` after it: only `start..nan_end` is the value.
    nan_end: Option<usize>,
}

/// The extent of the number at the start of a text whose byte `i` is
/// `byte(i)`; a NUL ends the text. `None` when there is no number.
fn scan(byte: impl Fn(usize) -> u8) -> Option<Extent> {
    let mut at = 0;
    while matches!(byte(at), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        at += 1;
    }
    let start = at;
    if matches!(byte(at), b'+' | b'-') {
        at += 1;
    }
    let word = |from: usize, word: &[u8]| {
        word.iter()
            .enumerate()
            .all(|(i, expected)| byte(from + i).eq_ignore_ascii_case(expected))
    };
    if word(at, b"infinity") {
        return Some(Extent {
            start,
            end: at + 8,
            nan_end: None,
        });
    }
    if word(at, b"inf") {
        return Some(Extent {
            start,
            end: at + 3,
            nan_end: None,
        });
    }
    if word(at, b"nan") {
        let value_end = at + 3;
        let mut after = value_end;
        if byte(after) == b'(' {
            after += 1;
            while byte(after).is_ascii_alphanumeric() || byte(after) == b'_' {
                after += 1;
            }
            if byte(after) == b')' {
                return Some(Extent {
                    start,
                    end: after + 1,
                    nan_end: Some(value_end),
                });
            }
        }
        return Some(Extent {
            start,
            end: value_end,
            nan_end: None,
        });
    }
    let mut digits = 0;
    while byte(at).is_ascii_digit() {
        at += 1;
        digits += 1;
    }
    if byte(at) == b'.' {
        at += 1;
        while byte(at).is_ascii_digit() {
            at += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(byte(at), b'e' | b'E') {
        let mut exponent = at + 1;
        if matches!(byte(exponent), b'+' | b'-') {
            exponent += 1;
        }
        if byte(exponent).is_ascii_digit() {
            while byte(exponent).is_ascii_digit() {
                exponent += 1;
            }
            at = exponent;
        }
    }
    Some(Extent {
        start,
        end: at,
        nan_end: None,
    })
}

/// The value of the number `extent` found in `text`.
fn value(text: &[u8], extent: &Extent) -> f64 {
    let number = &text[extent.start..extent.nan_end.unwrap_or(extent.end)];
    // Only ASCII bytes in the grammar above; Rust's syntax accepts all of it.
    std::str::from_utf8(number)
        .ok()
        .and_then(|number| number.parse().ok())
        .unwrap_or(0.0)
}

/// C's `strtod`, for the engine's C code (see the module documentation).
///
/// # Safety
/// `text` is a NUL-terminated string; `end` is null or writable.
#[cfg(target_family = "wasm")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strtod(
    text: *const core::ffi::c_char,
    end: *mut *mut core::ffi::c_char,
) -> f64 {
    // SAFETY: the scan reads bytes in order and stops at the first NUL at
    // the latest (no branch of the grammar accepts one).
    let extent = scan(|i| unsafe { *text.add(i) } as u8);
    let (number, taken) = match extent {
        Some(extent) => {
            // SAFETY: the scan read `..extent.end` above.
            let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), extent.end) };
            (value(bytes, &extent), extent.end)
        }
        None => (0.0, 0),
    };
    if !end.is_null() {
        // SAFETY: `end` is writable (caller's contract); `text + taken` is
        // within the string.
        unsafe { *end = text.add(taken).cast_mut() };
    }
    number
}

#[cfg(test)]
mod tests {
    use super::{scan, value};

    /// The number at the start of `text` (which ends at its first NUL, if any)
    /// and the bytes it took, white space included; `None` when there is none.
    fn parse_prefix(text: &[u8]) -> Option<(f64, usize)> {
        let extent = scan(|i| text.get(i).copied().unwrap_or(0))?;
        Some((value(text, &extent), extent.end))
    }

    unsafe extern "C" {
        /// The C library's, to compare with.
        #[link_name = "strtod"]
        fn c_strtod(text: *const core::ffi::c_char, end: *mut *mut core::ffi::c_char) -> f64;
    }

    /// The C library's result for `text`: the value and the bytes taken.
    fn libc(text: &str) -> (f64, usize) {
        let owned = std::ffi::CString::new(text).expect("no NUL");
        let mut end = std::ptr::null_mut();
        let number = unsafe { c_strtod(owned.as_ptr(), &mut end) };
        (number, end as usize - owned.as_ptr() as usize)
    }

    fn same(text: &str) {
        let ours = parse_prefix(text.as_bytes()).unwrap_or((0.0, 0));
        let theirs = libc(text);
        assert_eq!(ours.1, theirs.1, "bytes taken from {text:?}");
        if theirs.0.is_nan() {
            assert!(ours.0.is_nan(), "{text:?} is NaN");
        } else {
            assert_eq!(ours.0.to_bits(), theirs.0.to_bits(), "value of {text:?}");
        }
    }

    #[test]
    fn json_numbers_convert_exactly_as_the_c_library_does() {
        for text in [
            "0",
            "-0",
            "1",
            "3.99",
            "0.1",
            "123456789012345678901234567890",
            "1e308",
            "1.7976931348623157e308",
            "2.2250738585072014e-308",
            "4.9e-324",
            "2e-324",
            "1e-400",
            "1e400",
            "-1.5E+10",
            "0.30000000000000004",
            "9007199254740993",
            "1.00000000000000011102230246251565404236316680908203125",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
        ] {
            same(text);
            same(&format!("{text},\"next\":1}}"));
        }
    }

    #[test]
    fn the_rest_of_c89_syntax_converts_as_the_c_library_does() {
        for text in [
            "  \t\n42",
            "+7",
            "-.5",
            "5.",
            ".",
            "-",
            "+",
            "",
            "abc",
            "1e",
            "1e+",
            "1e-x",
            "2E3x",
            "1.5.5",
            "inf",
            "-Infinity",
            "INFINITE",
            "nan",
            "NaN(abc_1)",
            "nan(",
            "nan(x y)",
            "in",
            "na",
        ] {
            same(text);
        }
    }

    #[test]
    fn many_random_decimals_round_like_the_c_library() {
        // A fixed xorshift sequence: reproducible, and across magnitudes.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mantissa = next() % 10_000_000_000_000_000_000;
            let point = (next() % 21) as usize;
            let exponent = (next() % 700) as i64 - 350;
            let digits = mantissa.to_string();
            let point = point.min(digits.len());
            same(&format!(
                "{}.{}e{exponent}",
                &digits[..point],
                &digits[point..]
            ));
        }
    }

    #[test]
    fn hexadecimal_floats_are_not_read() {
        assert_eq!(parse_prefix(b"0x1p3"), Some((0.0, 1)));
    }
}
