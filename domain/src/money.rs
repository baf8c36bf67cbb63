//! Money in integer fen (¥0.01), never floats; fee schedules of itemised lines; quotes
//! whose digest ties a customer's acknowledgement to the exact list shown (GB/T 4.2.3,
//! 8.4.1).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// An amount of money in fen. Negative amounts are refunds or discounts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_mul(self, qty: u32) -> Option<Fen> {
        self.0.checked_mul(i64::from(qty)).map(Fen)
    }
}

impl fmt::Display for Fen {
    /// `¥12.50`, `-¥3.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}¥{}.{:02}", abs / 100, abs % 100)
    }
}

/// One priced item of a service's fee schedule (parts, labour, call-out...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeItem {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit_price: Fen,
}

/// One line of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub quantity: u32,
    pub unit_price: Fen,
}

impl QuoteLine {
    pub fn amount(&self) -> Option<Fen> {
        self.unit_price.checked_mul(self.quantity)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("the quote has no lines")]
    Empty,
    #[error("fee item `{0}` is not in the service's fee schedule")]
    UnknownItem(String),
    #[error("quantity of `{0}` must be at least 1")]
    ZeroQuantity(String),
    #[error("the quote total is too large")]
    Overflow,
    #[error("price of `{0}` must not be negative")]
    NegativePrice(String),
}

/// An itemised list of fees for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub lines: Vec<QuoteLine>,
}

impl Quote {
    /// Builds a quote from `(item code, quantity)` picks against a fee schedule, so the
    /// prices charged are the published ones (GB/T 5.3.2).
    pub fn from_schedule(
        schedule: &[FeeItem],
        picks: &[(String, u32)],
    ) -> Result<Quote, QuoteError> {
        if picks.is_empty() {
            return Err(QuoteError::Empty);
        }
        let mut lines = Vec::with_capacity(picks.len());
        for (code, qty) in picks {
            let item = schedule
                .iter()
                .find(|i| &i.code == code)
                .ok_or_else(|| QuoteError::UnknownItem(code.clone()))?;
            if *qty == 0 {
                return Err(QuoteError::ZeroQuantity(code.clone()));
            }
            lines.push(QuoteLine {
                code: item.code.clone(),
                name_zh: item.name_zh.clone(),
                name_en: item.name_en.clone(),
                quantity: *qty,
                unit_price: item.unit_price,
            });
        }
        let quote = Quote { lines };
        quote.total()?;
        Ok(quote)
    }

    /// The sum of all lines, refusing overflow and negative prices.
    pub fn total(&self) -> Result<Fen, QuoteError> {
        if self.lines.is_empty() {
            return Err(QuoteError::Empty);
        }
        self.lines.iter().try_fold(Fen::ZERO, |acc, l| {
            if l.unit_price.0 < 0 {
                return Err(QuoteError::NegativePrice(l.code.clone()));
            }
            if l.quantity == 0 {
                return Err(QuoteError::ZeroQuantity(l.code.clone()));
            }
            l.amount()
                .and_then(|a| acc.checked_add(a))
                .ok_or(QuoteError::Overflow)
        })
    }

    /// A SHA-256 over every line's code, names, quantity and price: the customer
    /// acknowledges this digest, so an acknowledgement never covers a changed list.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for l in &self.lines {
            for field in [l.code.as_str(), l.name_zh.as_str(), l.name_en.as_str()] {
                h.update((field.len() as u64).to_le_bytes());
                h.update(field.as_bytes());
            }
            h.update(l.quantity.to_le_bytes());
            h.update(l.unit_price.0.to_le_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Vec<FeeItem> {
        vec![
            FeeItem {
                code: "labour".into(),
                name_zh: "人工费".into(),
                name_en: "Labour".into(),
                unit_price: Fen(5000),
            },
            FeeItem {
                code: "part".into(),
                name_zh: "配件".into(),
                name_en: "Part".into(),
                unit_price: Fen(1250),
            },
        ]
    }

    #[test]
    fn totals_in_fen() {
        let q =
            Quote::from_schedule(&schedule(), &[("labour".into(), 1), ("part".into(), 3)]).unwrap();
        assert_eq!(q.total().unwrap(), Fen(8750));
        assert_eq!(q.total().unwrap().to_string(), "¥87.50");
        assert_eq!(Fen(-305).to_string(), "-¥3.05");
    }

    #[test]
    fn unknown_items_and_zero_quantities_are_refused() {
        assert_eq!(
            Quote::from_schedule(&schedule(), &[("gold".into(), 1)]),
            Err(QuoteError::UnknownItem("gold".into()))
        );
        assert!(Quote::from_schedule(&schedule(), &[("part".into(), 0)]).is_err());
        assert_eq!(
            Quote::from_schedule(&schedule(), &[]),
            Err(QuoteError::Empty)
        );
    }

    #[test]
    fn digest_changes_with_any_line() {
        // GB/T 4.2.3: the acknowledgement covers exactly the list shown.
        let a = Quote::from_schedule(&schedule(), &[("part".into(), 1)]).unwrap();
        let b = Quote::from_schedule(&schedule(), &[("part".into(), 2)]).unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), a.clone().digest());
    }
}
