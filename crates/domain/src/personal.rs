//! Masking of personal data for lists and logs.

/// How a text shows personal data (names, phones, ID numbers): masked for lists and logs, whole
/// only where the reader's role needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalData {
    Masked,
    Whole,
}

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

/// At most 4 characters of a short value show: the first and last two from 8 characters on,
/// the last two from 5, none below. Mainland formats, which are long, keep their usual masks.
fn mask_short(s: &str) -> String {
    match s.chars().count() {
        n if n >= 8 => mask_middle(s, 2, 2),
        n if n >= 5 => mask_middle(s, 0, 2),
        n => "*".repeat(n.max(1)),
    }
}

/// `18852341234` → `188****1234`; an 8-digit Hong Kong number → `51****78`.
pub fn mask_phone(phone: &str) -> String {
    if phone.chars().count() >= 11 {
        mask_middle(phone, 3, 4)
    } else {
        mask_short(phone)
    }
}

/// `320911198804223314` → `3209**********3314`; a 9-character passport → `E1*****78`.
pub fn mask_certificate(no: &str) -> String {
    if no.chars().count() >= 15 {
        mask_middle(no, 4, 4)
    } else {
        mask_short(no)
    }
}

/// Masks a buyer's personal data wherever it appears in a JSON document (an order's detail, its
/// events, its messages): every string that contains one of the given values whole gets that
/// value replaced by its mask. Built from the values themselves, so a message text or an OCR
/// reading that quotes them is masked too, whatever its shape.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// (whole value, its replacement), longest first so a value inside another is not half-masked.
    pairs: Vec<(String, String)>,
}

impl Redactor {
    pub fn name(&mut self, v: &str) -> &mut Self {
        self.add(v, mask_name(v))
    }

    pub fn phone(&mut self, v: &str) -> &mut Self {
        self.add(v, mask_phone(v))
    }

    pub fn certificate(&mut self, v: &str) -> &mut Self {
        self.add(v, mask_certificate(v))
    }

    /// A secret that must not show at all (a form token).
    pub fn secret(&mut self, v: &str) -> &mut Self {
        self.add(v, "****".to_string())
    }

    fn add(&mut self, v: &str, masked: String) -> &mut Self {
        let v = v.trim();
        // One character would mask every occurrence of a common letter; such values are masked
        // where they sit in a form instead.
        if v.chars().count() >= 2 && !self.pairs.iter().any(|(w, _)| w == v) {
            self.pairs.push((v.to_string(), masked));
            self.pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (v, m) in &self.pairs {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), m);
            }
        }
        out
    }

    pub fn json(&self, v: &mut serde_json::Value) {
        use serde_json::Value;
        match v {
            Value::String(s) if self.pairs.iter().any(|(w, _)| s.contains(w.as_str())) => {
                *s = self.text(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.json(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.json(i)),
            _ => {}
        }
    }
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

    #[test]
    fn short_numbers_show_at_most_four_characters() {
        assert_eq!(mask_phone("51234678"), "51****78");
        assert_eq!(mask_certificate("E12345678"), "E1*****78");
        assert_eq!(mask_phone("12345"), "***45");
        let shown = |m: String| m.chars().filter(|c| *c != '*').count();
        for s in [
            "51234678",
            "E12345678",
            "12345",
            "1234567",
            "K1234567(8)",
            "H12345678901",
        ] {
            assert!(shown(mask_certificate(s)) <= 4, "{s}");
        }
        for s in ["51234678", "12345", "1234567", "0912345678"] {
            assert!(shown(mask_phone(s)) <= 4, "{s}");
        }
    }

    #[test]
    fn the_redactor_masks_values_wherever_they_appear() {
        let mut r = Redactor::default();
        r.name("马上到")
            .phone("18852341234")
            .certificate("320911198804223314")
            .secret("tok123");
        let mut v = serde_json::json!({
            "form": {"name": "马上到", "phone": "18852341234"},
            "messageText": "姓名:马上到 证件:320911198804223314",
            "link": "https://x/f/tok123",
            "n": 3
        });
        r.json(&mut v);
        let s = v.to_string();
        for whole in ["马上到", "18852341234", "320911198804223314", "tok123"] {
            assert!(!s.contains(whole), "{whole} in {s}");
        }
        assert!(s.contains("马**") && s.contains("188****1234") && s.contains("3209**********3314"));
    }
}
