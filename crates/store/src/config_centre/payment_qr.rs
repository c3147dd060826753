//! Payment QR codes (收款码): at most one active, images stored byte for byte.

use super::*;
/// A payment QR code (收款码), without its image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QrCode {
    pub id: Uuid,
    pub label: String,
    /// `image/png`, `image/jpeg` or `image/webp`, decided from the bytes.
    pub content_type: String,
    /// Lowercase hex SHA-256 of the image.
    pub sha256: String,
    /// Bytes.
    pub size: i32,
    /// Exactly one code is active once any exists.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

/// A checked image to store as a QR code. The caller has decided the content type from the bytes.
#[derive(Debug, Clone)]
pub struct NewQrCode {
    pub label: String,
    pub content_type: String,
    pub image: Vec<u8>,
    /// `Some(true)`: becomes the active code; `Some(false)`: stored inactive; `None`: active when
    /// no code is active yet.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrImage {
    pub content_type: String,
    pub image: Vec<u8>,
}

/// Serialises every change of which QR code is active ("xyt_qr" as a number).
const QR_LOCK: i64 = 0x7879_745f_7172;
const QR_COLS: &str = "id, label, content_type, sha256, size, active, created_at, created_by";

pub async fn list_qr_codes(pool: &PgPool) -> Result<Vec<QrCode>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {QR_COLS} FROM payment_qr_codes ORDER BY active DESC, created_at DESC, id"
    ))
    .fetch_all(pool)
    .await
}

pub async fn get_qr_code(pool: &PgPool, id: Uuid) -> Result<Option<QrCode>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {QR_COLS} FROM payment_qr_codes WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn qr_image(pool: &PgPool, id: Uuid) -> Result<Option<QrImage>, sqlx::Error> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT content_type, image FROM payment_qr_codes WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(content_type, image)| QrImage { content_type, image }))
}

fn qr_not_found(id: Uuid) -> ConfigError {
    ConfigError::NotFound {
        code: "QR_CODE_NOT_FOUND",
        message: format!("收款码 {id} 不存在"),
    }
}

/// Deactivates the active code (recording it), under the QR lock the caller holds.
async fn deactivate_active(tx: &mut Tx<'_>, actor: &str) -> Result<(), sqlx::Error> {
    let before: Option<QrCode> = sqlx::query_as(&format!(
        "SELECT {QR_COLS} FROM payment_qr_codes WHERE active FOR UPDATE"
    ))
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(before) = before {
        let after: QrCode = sqlx::query_as(&format!(
            "UPDATE payment_qr_codes SET active = false WHERE id = $1 RETURNING {QR_COLS}"
        ))
        .bind(before.id)
        .fetch_one(&mut **tx)
        .await?;
        log(
            tx,
            "qr_code",
            &before.id.to_string(),
            "deactivate",
            Some(&before),
            Some(&after),
            actor,
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn insert_qr_tx(
    tx: &mut Tx<'_>,
    new: &NewQrCode,
    label: &str,
    actor: &str,
) -> Result<QrCode, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(QR_LOCK)
        .execute(&mut **tx)
        .await?;
    let any_active: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM payment_qr_codes WHERE active)")
        .fetch_one(&mut **tx)
        .await?;
    let active = new.active.unwrap_or(!any_active);
    if active {
        deactivate_active(tx, actor).await?;
    }
    // The hash and size are computed by PostgreSQL from the very bytes it stores.
    let row: QrCode = sqlx::query_as(&format!(
        "INSERT INTO payment_qr_codes (id, label, content_type, sha256, size, image, active, created_by)
         VALUES ($1, $2, $3, encode(sha256($4), 'hex'), octet_length($4), $4, $5, $6) RETURNING {QR_COLS}"
    ))
    .bind(Uuid::new_v4())
    .bind(label)
    .bind(&new.content_type)
    .bind(&new.image)
    .bind(active)
    .bind(actor)
    .fetch_one(&mut **tx)
    .await?;
    log(tx, "qr_code", &row.id.to_string(), "create", None, Some(&row), actor).await?;
    Ok(row)
}

/// Stores a QR code image (already checked by the caller), activating it as [`NewQrCode::active`]
/// says.
pub async fn insert_qr_code(pool: &PgPool, new: NewQrCode, actor: &str) -> Result<QrCode, ConfigError> {
    let mut errors = FieldErrors::new();
    let label = check_text(&mut errors, "label", "名称", &new.label, 100, true);
    if !matches!(new.content_type.as_str(), "image/png" | "image/jpeg" | "image/webp") {
        errors.insert("file".into(), "只接受 PNG、JPEG、WebP 图片".into());
    }
    invalid_unless_empty(errors)?;
    let mut tx = pool.begin().await?;
    let row = insert_qr_tx(&mut tx, &new, &label, actor).await?;
    tx.commit().await?;
    Ok(row)
}

/// Makes `id` the one active code; the previous one is deactivated in the same transaction.
pub async fn activate_qr_code(pool: &PgPool, id: Uuid, actor: &str) -> Result<QrCode, ConfigError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(QR_LOCK)
        .execute(&mut *tx)
        .await?;
    let before: Option<QrCode> = sqlx::query_as(&format!(
        "SELECT {QR_COLS} FROM payment_qr_codes WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(before) = before else {
        return Err(qr_not_found(id));
    };
    if before.active {
        return Ok(before);
    }
    deactivate_active(&mut tx, actor).await?;
    let row: QrCode = sqlx::query_as(&format!(
        "UPDATE payment_qr_codes SET active = true WHERE id = $1 RETURNING {QR_COLS}"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    log(
        &mut tx,
        "qr_code",
        &id.to_string(),
        "activate",
        Some(&before),
        Some(&row),
        actor,
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}
