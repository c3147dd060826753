//! Who may do what: roles, the names of users and API keys, and the one access policy that the
//! HTTP guard and the OpenAPI document both read, so the two can never disagree.

use serde::{Deserialize, Serialize};

/// A user's or an API key's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, users and keys included.
    Admin,
    /// Orders, fulfilment and deliveries; reads the config.
    Operator,
    /// Reads everything (personal data masked), exports disputes, runs no command.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Auditor];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub const fn label(self) -> &'static str {
        match self {
            Role::Admin => "管理员",
            Role::Operator => "运营",
            Role::Auditor => "审计",
        }
    }

    /// Whether this role may do what `need` asks.
    pub const fn allows(self, need: Need) -> bool {
        match need {
            Need::Nothing | Need::SignedIn => true,
            Need::Command => matches!(self, Role::Admin | Role::Operator),
            Need::Admin => matches!(self, Role::Admin),
        }
    }

    /// Whether this role sees buyers' personal data whole (each read is recorded).
    pub const fn sees_personal_data(self) -> bool {
        matches!(self, Role::Admin | Role::Operator)
    }
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Open to anyone: the buyer's form API, sign-in, the OpenAPI document, everything outside `/api`.
    Nothing,
    /// Any signed-in user or key: every read.
    SignedIn,
    /// An operator or an admin: order commands, fulfilment, deliveries.
    Command,
    /// An admin: config writes, users, keys, the security log.
    Admin,
}

impl Need {
    /// The roles that may, for the API description.
    pub fn roles(self) -> Vec<Role> {
        Role::ALL.into_iter().filter(|r| r.allows(self)).collect()
    }
}

/// The access policy of the whole HTTP surface, by method and path (a concrete path or a
/// template such as `/api/orders/{orderNo}`). Default-deny inside `/api`: a new route is at least
/// `SignedIn` to read and `Command` to change until this says otherwise.
pub fn need(method: &str, path: &str) -> Need {
    // Prometheus metrics: admins, or (the guard decides) an unproxied peer on loopback.
    if path == "/metrics" {
        return Need::Admin;
    }
    let Some(rest) = path.strip_prefix("/api") else {
        return Need::Nothing;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Need::Nothing;
    }
    if rest == "/openapi.json" || rest == "/auth/login" || rest.starts_with("/public/") || rest == "/public" {
        return Need::Nothing;
    }
    let reads = matches!(method, "GET" | "HEAD" | "OPTIONS");
    if rest.starts_with("/auth/") {
        return Need::SignedIn;
    }
    if rest == "/admin" || rest.starts_with("/admin/") {
        return Need::Admin;
    }
    if rest == "/config" || rest.starts_with("/config/") {
        return if reads { Need::SignedIn } else { Need::Admin };
    }
    if reads {
        Need::SignedIn
    } else {
        Need::Command
    }
}

/// A user's sign-in name: 2–32 of `a-z 0-9 . _ -`, starting with a letter or digit, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        let ok = (2..=32).contains(&s.len())
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err("用户名为 2–32 位小写字母、数字或 . _ -,以字母或数字开头")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An API key's name: 1–64 of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyName(String);

impl KeyName {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        let ok = (1..=64).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err("密钥名称为 1–64 位字母、数字或 . _ -,以字母或数字开头")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1–64 characters, no control characters.
pub fn parse_display_name(s: &str) -> Result<String, &'static str> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 64 || s.chars().any(char::is_control) {
        return Err("显示名称为 1–64 个字符,不能包含控制字符");
    }
    Ok(s.to_string())
}

/// A password: 10–128 characters, no control characters. Length beats composition rules.
pub fn check_password(s: &str) -> Result<(), &'static str> {
    let n = s.chars().count();
    if !(10..=128).contains(&n) || s.chars().any(char::is_control) {
        return Err("密码为 10–128 个字符,不能包含控制字符");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_need_an_admin_unless_the_guard_sees_a_local_scraper() {
        assert_eq!(need("GET", "/metrics"), Need::Admin);
        assert_eq!(need("GET", "/metricsx"), Need::Nothing);
    }

    #[test]
    fn the_policy_opens_only_the_public_doors() {
        for (m, p) in [
            ("GET", "/api/openapi.json"),
            ("POST", "/api/auth/login"),
            ("GET", "/api/public/forms/abc"),
            ("POST", "/api/public/forms/abc"),
            ("POST", "/xgj/goofish/order/purchase/create"),
            ("GET", "/f/abc"),
            ("GET", "/docs/"),
            ("GET", "/apis"),
        ] {
            assert_eq!(need(m, p), Need::Nothing, "{m} {p}");
        }
        assert_eq!(need("GET", "/api"), Need::SignedIn);
        assert_eq!(need("GET", "/api/orders"), Need::SignedIn);
        assert_eq!(need("GET", "/api/files/abc"), Need::SignedIn);
        assert_eq!(need("GET", "/api/auth/me"), Need::SignedIn);
        assert_eq!(need("POST", "/api/auth/logout"), Need::SignedIn);
        assert_eq!(need("POST", "/api/orders/{orderNo}/review"), Need::Command);
        assert_eq!(need("POST", "/api/deliveries/x/resend"), Need::Command);
        assert_eq!(need("GET", "/api/config/goods"), Need::SignedIn);
        assert_eq!(need("PUT", "/api/config/settings"), Need::Admin);
        assert_eq!(need("DELETE", "/api/config/goods/x"), Need::Admin);
        assert_eq!(need("GET", "/api/admin/security-log"), Need::Admin);
        // A new, unknown route is guarded by default.
        assert_eq!(need("PATCH", "/api/something-new"), Need::Command);
    }

    #[test]
    fn roles_allow_what_the_issue_says() {
        assert!(Role::Admin.allows(Need::Admin));
        assert!(!Role::Operator.allows(Need::Admin));
        assert!(Role::Operator.allows(Need::Command));
        assert!(!Role::Auditor.allows(Need::Command));
        assert!(Role::Auditor.allows(Need::SignedIn));
        assert!(!Role::Auditor.sees_personal_data());
        assert_eq!(Need::Command.roles(), vec![Role::Admin, Role::Operator]);
    }

    #[test]
    fn names_are_parsed_by_characters() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("Alice").is_err());
        assert!(Username::parse("a").is_err());
        assert!(Username::parse("é1").is_err());
        assert!(Username::parse("-x").is_err());
        assert!(KeyName::parse("erp-sync.1").is_ok());
        assert!(KeyName::parse("bad key").is_err());
        assert!(parse_display_name("张三").is_ok());
        assert!(parse_display_name("a\u{0}b").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough pass").is_ok());
    }
}
