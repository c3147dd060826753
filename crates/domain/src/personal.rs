//! Masking of personal data for lists and logs.

/// Keeps the first `keep_start` and last `keep_end` characters, masking the rest with `*`.
pub fn mask_middle(s: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len().max(1));
    }
    let mut out: String = chars[..keep_start].iter().collect();
    out.push_str(&"*".repeat(chars.len() - keep_start - keep_end));
    out.extend(&chars[chars.len() - keep_end..]);
    out
}

/// `18852341234` → `188****1234`.
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

/// `320911198804223314` → `3209**********3314`.
pub fn mask_certificate(no: &str) -> String {
    mask_middle(no, 4, 4)
}

/// `马上到` → `马**`; a one-character name stays `*`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match (chars.next(), chars.clone().count()) {
        (None, _) => String::new(),
        (Some(_), 0) => "*".into(),
        (Some(first), rest) => std::iter::once(first).chain(std::iter::repeat_n('*', rest)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_masked_in_the_middle() {
        assert_eq!(mask_phone("18852341234"), "188****1234");
        assert_eq!(mask_certificate("320911198804223314"), "3209**********3314");
        assert_eq!(mask_name("马上到"), "马**");
        assert_eq!(mask_name("李"), "*");
        assert_eq!(mask_phone("123"), "***");
    }
}
