//! Access: who is calling and what they may do.
//!
//! - [`guard`]: the one middleware in front of the whole app. It reads the access policy
//!   (`xyt_domain::access::need`) by method and path, authenticates a session cookie or a bearer
//!   API key, checks the role, and for a session the CSRF token and `Origin`. Default-deny: a new
//!   route under `/api` is guarded without anyone remembering to.
//! - [`idempotency`]: keeps the first answer to a POST with an `Idempotency-Key`.
//! - [`accounts`]: users, passwords and keys, the same functions for the CLI and the admin API.
//!
//! Secrets: passwords are argon2id hashes; session tokens and API keys are 256-bit random values
//! stored as sha256 (high entropy, so a fast hash is safe and the lookup is one index probe).

pub mod accounts;
pub mod guard;
pub mod idempotency;

use std::time::Duration;

use actix_web::HttpMessage;
use base64::Engine;
use sha2::{Digest, Sha256};
use xyt_domain::access::Role;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "xyt_session";
/// The header a session's state-changing request carries.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Session lifetimes and sign-in throttling.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: Duration,
    /// Failures for one username within `lock_window` that lock it, and for how long.
    pub lock_after: i64,
    pub lock_window: Duration,
    pub lock_for: Duration,
    /// Failures from one address within `lock_window` after which it gets 429.
    pub address_limit: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(8 * 3600),
            session_absolute: Duration::from_secs(7 * 24 * 3600),
            lock_after: 5,
            lock_window: Duration::from_secs(15 * 60),
            lock_for: Duration::from_secs(15 * 60),
            address_limit: 30,
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    User { username: String, display_name: String },
    Key { name: String },
}

/// The authenticated caller of a guarded request, put in the request's extensions by [`guard`].
#[derive(Debug, Clone)]
pub struct Principal {
    pub who: Who,
    pub role: Role,
    /// For a session: its id and CSRF token.
    pub session: Option<(uuid::Uuid, String)>,
}

impl Principal {
    /// The event source and history author: `admin:<username>` or `api:<key name>`.
    pub fn source(&self) -> String {
        match &self.who {
            Who::User { username, .. } => format!("admin:{username}"),
            Who::Key { name } => format!("api:{name}"),
        }
    }

    /// Scope of idempotency keys: one caller's keys never meet another's.
    pub fn idempotency_scope(&self) -> String {
        match &self.who {
            Who::User { username, .. } => format!("user:{username}"),
            Who::Key { name } => format!("key:{name}"),
        }
    }

    pub fn of(req: &actix_web::HttpRequest) -> Option<Principal> {
        req.extensions().get::<Principal>().cloned()
    }
}

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn sha256(s: &str) -> Vec<u8> {
    Sha256::digest(s.as_bytes()).to_vec()
}

/// A new API key: `xyt_` and 43 random characters.
pub fn new_api_key() -> String {
    format!("xyt_{}", random_token())
}

/// The client's address as the socket sees it (never a header the client controls).
pub fn client_address(req: &actix_web::HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The origin (`scheme://host[:port]`) of a base URL.
pub fn origin_of(base_url: &str) -> String {
    let (scheme, rest) = base_url.split_once("://").unwrap_or(("http", base_url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
}

/// Constant-time string equality.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

// ---- passwords (argon2id, the crate's defaults: m = 19 MiB, t = 2, p = 1)

pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches, verified for unknown usernames so that they take as long as a
/// wrong password.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password(&random_token()).expect("argon2 hashes a random token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(!verify_password("anything", dummy_hash()));
    }

    #[test]
    fn origins_and_secrets() {
        assert_eq!(
            origin_of("https://Tickets.example.test/base"),
            "https://tickets.example.test"
        );
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        let k = new_api_key();
        assert!(k.starts_with("xyt_") && k.len() == 47);
    }
}
