//! One way to write a phone number, so that consent, opt-out and rate limits all find
//! the same customer however the number was typed (GB/T 5.4): `138 1234-5678`,
//! `+86 13812345678` and `008613812345678` are all `13812345678`.

/// The canonical form of `raw`: digits only, Chinese country code removed from a mobile
/// number, a leading `+` kept for other international numbers. `None` when it is not a
/// phone number (5 to 20 digits after removing spaces, dashes, dots and brackets).
pub fn normalise_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let plus = trimmed.starts_with('+');
    let mut digits = String::with_capacity(trimmed.len());
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => {}
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let international = if plus {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("00")
    };
    let canonical = match international {
        Some(rest) => match rest.strip_prefix("86") {
            // A Chinese number: written the way it is dialled at home.
            Some(national) if national.len() == 11 && national.starts_with('1') => {
                national.to_owned()
            }
            Some(national) if national.len() >= 9 => format!("0{national}"),
            _ => format!("+{rest}"),
        },
        // `86` followed by an 11-digit mobile number, without a `+`.
        None if digits.len() == 13 && digits.starts_with("861") => digits[2..].to_owned(),
        None => digits,
    };
    let count = canonical.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&count).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_number_however_it_was_written() {
        // GB/T 5.4: an opt-out given as +86... covers the number typed at the kiosk.
        for raw in [
            "13812345678",
            "138 1234 5678",
            "138-1234-5678",
            "+8613812345678",
            "+86 138 1234 5678",
            "008613812345678",
            "8613812345678",
        ] {
            assert_eq!(
                normalise_phone(raw).as_deref(),
                Some("13812345678"),
                "{raw}"
            );
        }
        assert_eq!(
            normalise_phone("+86 21 5555 0100").as_deref(),
            Some("02155550100")
        );
        assert_eq!(
            normalise_phone("021-5555 0100").as_deref(),
            Some("02155550100")
        );
        assert_eq!(
            normalise_phone("+44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(normalise_phone("10086").as_deref(), Some("10086"));
        for bad in [
            "",
            "1234",
            "abc",
            "138x1234",
            "1+3812345678",
            "123456789012345678901",
        ] {
            assert_eq!(normalise_phone(bad), None, "{bad}");
        }
    }
}
