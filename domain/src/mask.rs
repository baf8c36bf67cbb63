//! Masking of personal data before it reaches paper or a screen (GB/T 5.4.1–5.4.2):
//! `13812345678` → `138****5678`. Never returns the input unmasked when it is long
//! enough to identify someone.

/// Masks a phone number: keeps the first three and last four digits of an 11-digit
/// mobile number, otherwise the last four characters at most.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    match chars.len() {
        0 => String::new(),
        n if n >= 11 => {
            let head: String = chars[..3].iter().collect();
            let tail: String = chars[n - 4..].iter().collect();
            format!("{head}****{tail}")
        }
        n if n > 4 => {
            let tail: String = chars[n - 4..].iter().collect();
            format!("{}{tail}", "*".repeat(n - 4))
        }
        n => "*".repeat(n),
    }
}

/// Masks a name: the family name (first character) stays, the rest becomes `*`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// Masks an address: the first part (city and district, up to six characters) stays,
/// the street and number become `****`.
pub fn mask_address(address: &str) -> String {
    let a = address.trim();
    let n = a.chars().count();
    if n == 0 {
        return String::new();
    }
    let keep = (n / 3).clamp(1, 6);
    let head: String = a.chars().take(keep).collect();
    format!("{head}****")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_only_what_identifies_the_line_to_its_owner() {
        // GB/T 5.4.2
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("138 1234 5678"), "138****5678");
        assert_eq!(mask_phone("021-5555 0100"), "021****0100");
        assert_eq!(mask_phone("5555 0100"), "****0100");
        assert_eq!(mask_phone("1234"), "****");
        assert_eq!(mask_phone(""), "");
    }

    #[test]
    fn names_keep_the_family_name() {
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("Li"), "L*");
        assert_eq!(mask_name("王"), "王*");
    }

    #[test]
    fn addresses_keep_only_the_district() {
        // GB/T 5.4.2
        assert_eq!(
            mask_address("上海市浦东新区张江路 88 弄 5 号 1201 室"),
            "上海市浦东新****"
        );
        assert_eq!(mask_address("1 Main St"), "1 M****");
        assert_eq!(mask_address(""), "");
    }
}
