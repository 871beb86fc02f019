//! Numbers as a reader wants to see them.
//!
//! Every figure in a report goes through one of these functions, so the same
//! quantity always looks the same: counts with thousands separators (`1,980`),
//! shares as percentages that never round a loss away (`> 99.9 %`, not
//! `100.0 %`, when one request in ten thousand failed), money to the cent, and
//! `n/a` wherever the run could not state a figure honestly (a p99 from fewer
//! than 100 samples, an availability with nothing sent).

use common::Money;

/// What a report prints for a figure the results hold as `null`.
pub const NA: &str = "n/a";

/// `1980` → `1,980`.
pub fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// A share in `[0, 1]` as a percentage with one decimal.
///
/// Exactly 1 prints `100 %` and exactly 0 prints `0 %`; anything in between
/// never prints as either (`> 99.9 %`, `< 0.1 %`): a reader comparing a
/// variant that lost one request in 10,000 with one that lost none must see a
/// difference.
pub fn share(value: f64) -> String {
    if value >= 1.0 {
        return "100 %".to_string();
    }
    if value <= 0.0 {
        return "0 %".to_string();
    }
    let text = format!("{:.1}", value * 100.0);
    match text.as_str() {
        "100.0" => "> 99.9 %".to_string(),
        "0.0" => "< 0.1 %".to_string(),
        _ => format!("{text} %"),
    }
}

/// [`share`], or `n/a` for `None`.
pub fn opt_share(value: Option<f64>) -> String {
    value.map_or_else(|| NA.to_string(), share)
}

/// `ok` of `sent` as a share, with the counts: `99.5 % (1,990 / 2,000)`.
pub fn share_of(ok: u64, sent: u64) -> String {
    if sent == 0 {
        return format!("{NA} (none sent)");
    }
    format!(
        "{} ({} / {})",
        share(ok as f64 / sent as f64),
        count(ok),
        count(sent)
    )
}

/// Milliseconds in a table whose header already says `ms`: two decimals below
/// 1, one below 100, whole numbers with separators above.
pub fn ms(value: Option<f64>) -> String {
    match value {
        None => NA.to_string(),
        Some(v) if v < 1.0 => format!("{v:.2}"),
        Some(v) if v < 100.0 => format!("{v:.1}"),
        Some(v) => count(v.round() as u64),
    }
}

/// A duration in seconds with its unit, for sentences and tables alike.
///
/// A positive duration too short to print with two decimals says so
/// (`< 0.01 s`) rather than printing `0 s`.
pub fn secs(value: Option<f64>) -> String {
    match value {
        None => NA.to_string(),
        Some(v) if v > 0.0 && v < 0.005 => "< 0.01 s".to_string(),
        Some(v) => format!("{} s", number(v)),
    }
}

/// A plain quantity (a rate, a length, a prediction): whole numbers with
/// separators, otherwise up to two significant decimals (`0.8`, `2.5`, `0.05`).
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return NA.to_string();
    }
    let magnitude = value.abs();
    let text = if magnitude >= 100.0 || value.fract() == 0.0 {
        format!("{:.0}", value)
    } else if magnitude >= 1.0 {
        trim_zeros(format!("{value:.1}"))
    } else {
        trim_zeros(format!("{value:.2}"))
    };
    match text.split_once('.') {
        Some((whole, fraction)) => format!("{}.{fraction}", group_signed(whole)),
        None => group_signed(&text),
    }
}

/// Money to the cent with separators: `1,234.50`.
pub fn money(amount: Money) -> String {
    let cents = amount.cents();
    format!("{}.{:02}", count(cents / 100), cents % 100)
}

/// `paid − owed`, signed: `+12.50`, `−3.00`, `0.00`.
pub fn money_difference(paid: Money, owed: Money) -> String {
    match paid.cmp(&owed) {
        std::cmp::Ordering::Equal => "0.00".to_string(),
        std::cmp::Ordering::Greater => {
            format!("+{}", money(Money::from_cents(paid.cents() - owed.cents())))
        }
        std::cmp::Ordering::Less => {
            format!("−{}", money(Money::from_cents(owed.cents() - paid.cents())))
        }
    }
}

/// The value a printed figure shows (`1,599`, `2.9`, `0.1 s`, `27.2 %`), read
/// back from its text: ratios a sentence states are computed from what the
/// reader sees, so "551×" is what 1,599 / 2.9 gives, not the unrounded values.
pub fn printed_value(text: &str) -> Option<f64> {
    let digits: String = text
        .trim_start_matches(['<', '>', '≤', '≥', ' ', '+'])
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, ',' | '.'))
        .filter(|c| *c != ',')
        .collect();
    digits.parse().ok()
}

/// `a / b` of two printed figures, rounded to whole times (one decimal
/// below 10): `None` when either is not a plain positive number.
pub fn printed_ratio(a: &str, b: &str) -> Option<f64> {
    let (a, b) = (printed_value(a)?, printed_value(b)?);
    if b <= 0.0 {
        return None;
    }
    let ratio = a / b;
    Some(if ratio < 10.0 {
        (ratio * 10.0).round() / 10.0
    } else {
        ratio.round()
    })
}

/// The first 12 hex digits of a SHA-256: enough to see two schedules differ.
pub fn short_fingerprint(fingerprint: &str) -> String {
    fingerprint.chars().take(12).collect()
}

/// `one` or `many` by count: `1 bonus`, `2 bonuses`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// `a`, `a and b`, `a, b and c`.
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The first letter in upper case: a sentence that starts with a name.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

fn group_signed(digits: &str) -> String {
    match digits.strip_prefix('-') {
        Some(rest) => format!("−{}", group_thousands(rest)),
        None => group_thousands(digits),
    }
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A share that is not exactly 0 or 1 never prints as either.
    #[test]
    fn shares_never_round_a_difference_away() {
        assert_eq!(share(1.0), "100 %");
        assert_eq!(share(0.9999), "> 99.9 %");
        assert_eq!(share(0.0001), "< 0.1 %");
        assert_eq!(share(0.0), "0 %");
        assert_eq!(share(0.995), "99.5 %");
    }

    /// Counts, numbers, money and milliseconds print as a reader expects.
    #[test]
    fn numbers_and_money_read_naturally() {
        assert_eq!(count(1980), "1,980");
        assert_eq!(count(100), "100");
        assert_eq!(number(0.8), "0.8");
        assert_eq!(number(2004.0), "2,004");
        assert_eq!(number(-1234.0), "−1,234");
        assert_eq!(number(0.05), "0.05");
        assert_eq!(money(Money::from_cents(123_450)), "1,234.50");
        assert_eq!(
            money_difference(Money::from_cents(100), Money::from_cents(250)),
            "−1.50"
        );
        assert_eq!(ms(Some(1234.4)), "1,234");
        assert_eq!(ms(None), "n/a");
    }
}
