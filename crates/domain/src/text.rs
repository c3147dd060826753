//! The one rule for text a client sends, wherever it arrives (JSON, query, path, multipart,
//! XGJ bodies): no control characters where they make no sense.
//!
//! NUL is the one PostgreSQL refuses outright (in `text` and in `jsonb`), so a NUL that got
//! through used to surface as a 503 from the database. The other C0 and C1 controls are refused
//! too: no field of this application has a use for them, and they hide text from the operator.
//! Tab, line feed and carriage return are kept in free text (notes, reasons, multi-line
//! remarks); a single-line value (query, path) takes no control character at all.

use std::fmt;

/// Where a value may have line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Free text: `\t`, `\n`, `\r` allowed.
    MultiLine,
    /// A path segment or query value: no control character at all.
    SingleLine,
}

/// A refused character and its position (in characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlChar {
    pub at: usize,
    pub ch: char,
}

impl fmt::Display for ControlChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "第 {} 个字符是不可见的控制字符 U+{:04X},请删除后重试",
            self.at + 1,
            self.ch as u32
        )
    }
}

/// Is `c` refused in a value of this kind?
pub fn is_refused(c: char, kind: TextKind) -> bool {
    c.is_control() && !(kind == TextKind::MultiLine && matches!(c, '\t' | '\n' | '\r'))
}

/// The first refused character of `s`, if any.
pub fn check(s: &str, kind: TextKind) -> Result<(), ControlChar> {
    match s.chars().enumerate().find(|&(_, c)| is_refused(c, kind)) {
        Some((at, ch)) => Err(ControlChar { at, ch }),
        None => Ok(()),
    }
}

/// The first string (or object key) in a JSON document with a refused character, as a field
/// path the client recognises (`buyer.name`, `items[2]`, `""` for the document itself).
pub fn check_json(v: &serde_json::Value) -> Result<(), (String, ControlChar)> {
    fn walk(v: &serde_json::Value, path: &mut String) -> Result<(), (String, ControlChar)> {
        match v {
            serde_json::Value::String(s) => check(s, TextKind::MultiLine).map_err(|e| (path.clone(), e)),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    // A key is echoed in the answer: its own bad characters are not.
                    let clean: String = key.chars().filter(|&c| !c.is_control()).collect();
                    path.push_str(&clean);
                    check(key, TextKind::SingleLine).map_err(|e| (path.clone(), e))?;
                    walk(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    // Iterative depth is bounded by serde_json's own recursion limit (128) on parsing.
    walk(v, &mut String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_and_other_controls_are_refused_line_breaks_only_in_free_text() {
        assert_eq!(
            check("雪场\u{0}", TextKind::MultiLine),
            Err(ControlChar { at: 2, ch: '\0' })
        );
        assert!(check("a\u{1b}[31m", TextKind::MultiLine).is_err());
        assert!(check("a\u{7f}", TextKind::MultiLine).is_err());
        assert!(check("a\u{85}", TextKind::MultiLine).is_err());
        assert!(check("第一行\n第二行\r\n\t缩进", TextKind::MultiLine).is_ok());
        assert!(check("第一行\n第二行", TextKind::SingleLine).is_err());
        assert!(check("阿卜杜·热合曼 ZHANG 😀", TextKind::SingleLine).is_ok());
    }

    #[test]
    fn the_json_path_of_the_first_bad_string_is_named() {
        let v = json!({"ok": "fine", "buyer": {"names": ["a", "b\u{0}c"]}});
        let (path, bad) = check_json(&v).unwrap_err();
        assert_eq!(path, "buyer.names[1]");
        assert_eq!(bad, ControlChar { at: 1, ch: '\0' });
        let (path, _) = check_json(&json!({"k\u{0}ey": 1})).unwrap_err();
        assert_eq!(path, "key");
        let (path, _) = check_json(&json!("\u{0}")).unwrap_err();
        assert_eq!(path, "");
        assert!(check_json(&json!({"note": "两行\n文字", "n": 1, "b": null})).is_ok());
    }
}
