//! Uploaded files: payment proofs and the agent's ticket screenshots.
//!
//! Strategy: trust nothing the client says about a file. Its type is decided from its first bytes
//! (magic numbers), never from the file name or the `Content-Type` header, so an executable
//! renamed `.jpg` or an SVG carrying a script is refused with a message saying what it really is.
//! Only JPEG, PNG and WebP get through, and only after two checks in this order:
//!
//! 1. the dimensions are read from the header alone and refused when too large, so a tiny file
//!    claiming 50,000 × 50,000 pixels (a decompression bomb) never reaches the decoder;
//! 2. the whole image is decoded under `image::Limits`, so a truncated or corrupt file is refused
//!    now rather than failing later in OCR or in an operator's browser.
//!
//! Accepted files are stored content-addressed by their SHA-256 (`root/ab/cd/abcd…`): the same
//! bytes uploaded twice are one file, a stored file never changes, and a path is built only from
//! a validated hash, never from anything a client typed.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use image::{ImageFormat, ImageReader};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The image types we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
}

impl ImageKind {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpeg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            ImageKind::Jpeg => ImageFormat::Jpeg,
            ImageKind::Png => ImageFormat::Png,
            ImageKind::Webp => ImageFormat::WebP,
        }
    }
}

/// What an upload may be. The decoded-size budget bounds the decoder's memory per image: width ×
/// height × bytes per pixel of the layout the header declares, checked before anything is
/// allocated. 64 MiB is four times a phone screenshot (1290 × 2796 RGBA is 14 MiB), and a 16-bit
/// RGBA image of 6300 × 6300 (317 MB decoded, from a 300 KB file) is refused outright.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLimits {
    pub max_bytes: usize,
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
    pub max_decoded_bytes: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_width: 8000,
            max_height: 8000,
            max_pixels: 40_000_000,
            max_decoded_bytes: 64 * 1024 * 1024,
        }
    }
}

/// An image that passed [`check_image`]: what the events record about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckedImage {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    pub size: usize,
    /// Lowercase hex SHA-256 of the bytes: the file's address in the store.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("文件为空(0 字节),请重新选择图片")]
    Empty,
    #[error("文件太大,上限为 {},请压缩或截取后重新上传", human_size(*max_bytes))]
    TooLarge { max_bytes: usize },
    #[error("文件不是图片(识别为 {}),只接受 JPEG、PNG、WebP", detected_label(detected))]
    NotAnImage { detected: &'static str },
    #[error("图片已损坏或不完整,无法解码,请重新保存或截图后上传")]
    Corrupt,
    #[error("图片尺寸 {width} × {height} 像素过大,请缩小后重新上传")]
    DimensionsTooLarge { width: u32, height: u32 },
    #[error("图片 {width} × {height} 解码后需要 {} 内存,超过上限 {},请缩小或另存为普通 8 位图片后重新上传", human_size(*decoded_bytes as usize), human_size(*max_decoded_bytes as usize))]
    DecodedTooLarge {
        width: u32,
        height: u32,
        decoded_bytes: u64,
        max_decoded_bytes: u64,
    },
}

impl ImageError {
    /// Stable code for the API's error envelope and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Empty => "IMAGE_EMPTY",
            ImageError::TooLarge { .. } => "IMAGE_TOO_LARGE",
            ImageError::NotAnImage { .. } => "NOT_AN_IMAGE",
            ImageError::Corrupt => "IMAGE_CORRUPT",
            ImageError::DimensionsTooLarge { .. } => "IMAGE_DIMENSIONS_TOO_LARGE",
            ImageError::DecodedTooLarge { .. } => "IMAGE_TOO_LARGE_DECODED",
        }
    }
}

/// The Chinese name of what [`sniff`] recognised, for the operator.
fn detected_label(detected: &str) -> &'static str {
    match detected {
        "elf" => "ELF 可执行文件",
        "pe" => "Windows 可执行文件(PE/MZ)",
        "script" => "脚本文件",
        "html" => "HTML 网页",
        "svg" => "SVG 矢量图(可能含脚本,不接受)",
        "xml" => "XML 文档",
        "pdf" => "PDF 文档",
        "zip" => "ZIP 压缩包(或 Office 文档)",
        "gzip" => "GZIP 压缩包",
        "rar" => "RAR 压缩包",
        "7z" => "7z 压缩包",
        "gif" => "GIF 动图",
        "bmp" => "BMP 位图",
        "tiff" => "TIFF 图片",
        "heic" => "HEIC/AVIF 图片(请在手机上改为 JPEG 后再上传)",
        "text" => "纯文本",
        _ => "未知格式",
    }
}

fn human_size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} 字节")
    }
}

/// What the first bytes say the file is: an accepted kind, or the name of what it is instead.
fn sniff(bytes: &[u8]) -> Result<ImageKind, &'static str> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        return Ok(ImageKind::Jpeg);
    }
    if bytes.starts_with(PNG) {
        return Ok(ImageKind::Png);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(ImageKind::Webp);
    }
    let binary: &[(&[u8], &'static str)] = &[
        (b"\x7FELF", "elf"),
        (b"MZ", "pe"),
        (b"%PDF-", "pdf"),
        (b"PK\x03\x04", "zip"),
        (b"PK\x05\x06", "zip"),
        (b"PK\x07\x08", "zip"),
        (b"\x1F\x8B", "gzip"),
        (b"Rar!\x1A\x07", "rar"),
        (b"7z\xBC\xAF\x27\x1C", "7z"),
        (b"GIF87a", "gif"),
        (b"GIF89a", "gif"),
        (b"BM", "bmp"),
        (b"II*\x00", "tiff"),
        (b"MM\x00*", "tiff"),
        (b"#!", "script"),
    ];
    if let Some((_, name)) = binary.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Err(name);
    }
    // ISO base media (HEIC from iPhones, AVIF): `....ftyp` then a brand.
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Err("heic");
    }
    Err(sniff_text(bytes))
}

/// Markup and plain text: look past a BOM and leading blanks, case-insensitively.
fn sniff_text(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(4096)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // A multi-byte character may be cut at the end of the window: decode what is valid.
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return "unknown",
    };
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.contains("<svg") {
        return "svg";
    }
    const HTML: [&str; 7] = [
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
        "<meta",
    ];
    if HTML.iter().any(|tag| lower.starts_with(tag)) || lower.contains("<html") || lower.contains("<script") {
        return "html";
    }
    if lower.starts_with("<?xml") {
        return "xml";
    }
    if !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\x0C'))
    {
        return "text";
    }
    "unknown"
}

/// Decides whether `bytes` is an image we accept, and describes it. See the module docs.
pub fn check_image(bytes: &[u8], limits: &ImageLimits) -> Result<CheckedImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    let kind = sniff(bytes).map_err(|detected| ImageError::NotAnImage { detected })?;

    // Header only: no pixel buffer is allocated yet.
    let header = ImageReader::with_format(Cursor::new(bytes), kind.format())
        .into_decoder()
        .map_err(|_| ImageError::Corrupt)?;
    let (width, height) = image::ImageDecoder::dimensions(&header);
    let decoded_bytes = image::ImageDecoder::total_bytes(&header);
    drop(header);
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt);
    }
    if width > limits.max_width
        || height > limits.max_height
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(ImageError::DimensionsTooLarge { width, height });
    }
    // The memory budget, from the layout the header declares (16-bit RGBA is 8 bytes a pixel).
    let too_large = || ImageError::DecodedTooLarge {
        width,
        height,
        decoded_bytes,
        max_decoded_bytes: limits.max_decoded_bytes,
    };
    if decoded_bytes > limits.max_decoded_bytes {
        return Err(too_large());
    }

    // Full decode, bounded: the header may lie about what follows it.
    let mut decode_limits = image::Limits::default();
    decode_limits.max_image_width = Some(limits.max_width);
    decode_limits.max_image_height = Some(limits.max_height);
    decode_limits.max_alloc = Some(limits.max_decoded_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(decode_limits);
    match reader.decode() {
        Ok(_) => {}
        Err(image::ImageError::Limits(_)) => return Err(too_large()),
        Err(_) => return Err(ImageError::Corrupt),
    }
    // The JPEG decoder pads a cut-off scan with grey instead of failing; a file that stops before
    // its end-of-image marker is an interrupted upload or save, not a picture of the ticket.
    if kind == ImageKind::Jpeg && !jpeg_has_end_marker(bytes) {
        return Err(ImageError::Corrupt);
    }

    Ok(CheckedImage {
        kind,
        width,
        height,
        size: bytes.len(),
        sha256: sha256_hex(bytes),
    })
}

/// An `FF D9` (end of image) near the end; some cameras and editors append a few bytes after it.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(4096)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

/// The kind of a stored file from its first bytes alone (it was checked when it was stored):
/// serving a file needs no decode.
pub fn kind_of(bytes: &[u8]) -> Option<ImageKind> {
    sniff(bytes).ok()
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 lowercase hex digits: the only names the store builds paths from.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Where checked files live. Content-addressed by SHA-256, so `put` is idempotent.
#[async_trait]
pub trait FileStore: Send + Sync {
    async fn put(&self, bytes: &[u8], image: &CheckedImage) -> std::io::Result<()>;
    /// `Ok(None)` when no file has that hash.
    async fn get(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>>;
}

/// Files on a local disk: `root/<sha[0..2]>/<sha[2..4]>/<sha>`.
#[derive(Debug, Clone)]
pub struct LocalFileStore {
    root: PathBuf,
}

impl LocalFileStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a file, or `None` for anything but 64 lowercase hex digits.
    pub fn path_for(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256_hex(sha256).then(|| self.root.join(&sha256[0..2]).join(&sha256[2..4]).join(sha256))
    }
}

fn invalid_input(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, msg.to_string())
}

#[async_trait]
impl FileStore for LocalFileStore {
    async fn put(&self, bytes: &[u8], image: &CheckedImage) -> std::io::Result<()> {
        let path = self
            .path_for(&image.sha256)
            .ok_or_else(|| invalid_input("sha256 must be 64 lowercase hex digits"))?;
        let bytes = bytes.to_vec();
        let expected = image.sha256.clone();
        tokio::task::spawn_blocking(move || {
            // Cheap next to the decode that produced `image`, and it keeps the address honest.
            if sha256_hex(&bytes) != expected {
                return Err(invalid_input("bytes do not match the checked image's sha256"));
            }
            if path.is_file() {
                return Ok(());
            }
            let dir = path.parent().expect("a content path has a parent");
            std::fs::create_dir_all(dir)?;
            // Temp file in the same directory, so the rename is atomic: a reader sees the whole
            // file or none. Two concurrent puts of the same bytes both rename identical content.
            let mut tmp = tempfile::Builder::new().prefix(".upload-").tempfile_in(dir)?;
            tmp.write_all(&bytes)?;
            tmp.as_file().sync_all()?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)?
    }

    async fn get(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>> {
        let path = self
            .path_for(sha256)
            .ok_or_else(|| invalid_input("sha256 must be 64 lowercase hex digits"))?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb, RgbImage};

    fn picture(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| Rgb([(x * 7) as u8, (y * 5) as u8, 200]))
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let img = picture(width, height);
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let img = picture(width, height);
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn webp(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let img = picture(width, height);
        image::codecs::webp::WebPEncoder::new_lossless(&mut out)
            .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
        out
    }

    fn not_an_image(bytes: &[u8]) -> &'static str {
        match check_image(bytes, &ImageLimits::default()) {
            Err(ImageError::NotAnImage { detected }) => detected,
            other => panic!("expected NotAnImage, got {other:?}"),
        }
    }

    #[test]
    fn an_elf_executable_renamed_jpg_is_refused_as_an_executable() {
        let mut elf = b"\x7FELF\x02\x01\x01\x00".to_vec();
        elf.extend_from_slice(&[0u8; 120]);
        assert_eq!(not_an_image(&elf), "elf");
        let err = check_image(&elf, &ImageLimits::default()).unwrap_err();
        assert_eq!(err.code(), "NOT_AN_IMAGE");
        assert_eq!(
            err.to_string(),
            "文件不是图片(识别为 ELF 可执行文件),只接受 JPEG、PNG、WebP"
        );
    }

    #[test]
    fn a_windows_executable_is_refused() {
        let mut pe = b"MZ\x90\x00\x03\x00".to_vec();
        pe.extend_from_slice(&[0u8; 64]);
        assert_eq!(not_an_image(&pe), "pe");
    }

    #[test]
    fn an_html_page_is_refused() {
        assert_eq!(
            not_an_image(b"\xEF\xBB\xBF  <!DOCTYPE html><html><body>hi</body></html>"),
            "html"
        );
        assert_eq!(not_an_image(b"<script>alert(1)</script>"), "html");
    }

    #[test]
    fn an_svg_with_a_script_is_refused() {
        let svg = br#"<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script></svg>"#;
        assert_eq!(not_an_image(svg), "svg");
        let err = check_image(svg, &ImageLimits::default()).unwrap_err();
        assert!(err.to_string().contains("SVG"), "{err}");
    }

    #[test]
    fn a_pdf_zip_gif_and_plain_text_are_named_for_what_they_are() {
        assert_eq!(not_an_image(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj"), "pdf");
        assert_eq!(not_an_image(b"PK\x03\x04\x14\x00\x00\x00"), "zip");
        assert_eq!(not_an_image(b"GIF89a\x01\x00\x01\x00\x00\x00\x00"), "gif");
        assert_eq!(not_an_image("订单截图 2027-01-10\n".as_bytes()), "text");
        assert_eq!(not_an_image(b"<?xml version=\"1.0\"?><a/>"), "xml");
        assert_eq!(not_an_image(&[0x00, 0x01, 0x02, 0x03, 0xFE]), "unknown");
    }

    #[test]
    fn zero_bytes_are_refused_as_empty() {
        let err = check_image(&[], &ImageLimits::default()).unwrap_err();
        assert_eq!(err, ImageError::Empty);
        assert_eq!(err.code(), "IMAGE_EMPTY");
    }

    #[test]
    fn a_file_over_the_byte_limit_is_refused() {
        let bytes = png(64, 64);
        let limits = ImageLimits {
            max_bytes: bytes.len() - 1,
            ..ImageLimits::default()
        };
        let err = check_image(&bytes, &limits).unwrap_err();
        assert_eq!(
            err,
            ImageError::TooLarge {
                max_bytes: bytes.len() - 1
            }
        );
        assert_eq!(err.code(), "IMAGE_TOO_LARGE");
        let err = check_image(&vec![0xFF; 10 * 1024 * 1024 + 1], &ImageLimits::default()).unwrap_err();
        assert_eq!(err.to_string(), "文件太大,上限为 10 MiB,请压缩或截取后重新上传");
    }

    #[test]
    fn a_truncated_jpeg_is_refused_as_corrupt() {
        let full = jpeg(256, 256);
        assert!(check_image(&full, &ImageLimits::default()).is_ok());
        for cut in [full.len() / 2, full.len() - 2, 200] {
            let err = check_image(&full[..cut], &ImageLimits::default()).unwrap_err();
            assert_eq!(err, ImageError::Corrupt, "cut at {cut}");
            assert_eq!(err.code(), "IMAGE_CORRUPT");
        }
    }

    #[test]
    fn a_truncated_png_is_refused_as_corrupt() {
        let full = png(128, 128);
        let err = check_image(&full[..full.len() / 2], &ImageLimits::default()).unwrap_err();
        assert_eq!(err, ImageError::Corrupt);
    }

    #[test]
    fn a_png_header_claiming_50000_by_50000_is_refused_before_decoding() {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA, deflate, no interlace
        let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
        bomb.extend(chunk(b"IHDR", &ihdr));
        // A few bytes of IDAT: decoding would need 10 GB before noticing they are too few.
        bomb.extend(chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
        bomb.extend(chunk(b"IEND", &[]));
        let err = check_image(&bomb, &ImageLimits::default()).unwrap_err();
        assert_eq!(
            err,
            ImageError::DimensionsTooLarge {
                width: 50_000,
                height: 50_000
            }
        );
        assert_eq!(err.code(), "IMAGE_DIMENSIONS_TOO_LARGE");
        assert_eq!(err.to_string(), "图片尺寸 50000 × 50000 像素过大,请缩小后重新上传");
    }

    /// A PNG header declaring `width × height` 16-bit RGBA, with a token IDAT.
    fn png_header_16bit_rgba(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[16, 6, 0, 0, 0]); // 16-bit RGBA, deflate, no interlace
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        png.extend(chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    #[test]
    fn a_decompression_bomb_within_the_pixel_limits_is_refused_by_its_decoded_size() {
        // 39.7 M pixels passes the pixel limit; at 8 bytes a pixel it would need 317 MB.
        let bomb = png_header_16bit_rgba(6300, 6300);
        let err = check_image(&bomb, &ImageLimits::default()).unwrap_err();
        assert_eq!(
            err,
            ImageError::DecodedTooLarge {
                width: 6300,
                height: 6300,
                decoded_bytes: 6300 * 6300 * 8,
                max_decoded_bytes: 64 * 1024 * 1024,
            }
        );
        assert_eq!(err.code(), "IMAGE_TOO_LARGE_DECODED");
        assert!(err.to_string().contains("6300 × 6300"), "{err}");
        // The budget counts bytes per pixel: 2000 × 2000 at 8 bytes is one byte over this one.
        let limits = ImageLimits {
            max_decoded_bytes: 2000 * 2000 * 8 - 1,
            ..ImageLimits::default()
        };
        assert!(matches!(
            check_image(&png_header_16bit_rgba(2000, 2000), &limits),
            Err(ImageError::DecodedTooLarge { .. })
        ));
    }

    #[test]
    fn the_pixel_count_is_limited_as_well_as_each_side() {
        let bytes = png(100, 100);
        let limits = ImageLimits {
            max_pixels: 9_999,
            ..ImageLimits::default()
        };
        assert_eq!(
            check_image(&bytes, &limits).unwrap_err(),
            ImageError::DimensionsTooLarge {
                width: 100,
                height: 100
            }
        );
        let limits = ImageLimits {
            max_width: 99,
            ..ImageLimits::default()
        };
        assert!(matches!(
            check_image(&bytes, &limits),
            Err(ImageError::DimensionsTooLarge { .. })
        ));
    }

    #[test]
    fn a_valid_png_is_accepted_with_its_kind_dimensions_size_and_hash() {
        let bytes = png(120, 80);
        let img = check_image(&bytes, &ImageLimits::default()).unwrap();
        assert_eq!(
            (img.kind, img.width, img.height, img.size),
            (ImageKind::Png, 120, 80, bytes.len())
        );
        assert_eq!(img.sha256, sha256_hex(&bytes));
        assert!(is_sha256_hex(&img.sha256));
        assert_eq!(img.kind.content_type(), "image/png");
    }

    #[test]
    fn a_valid_jpeg_is_accepted_with_its_kind_and_dimensions() {
        let img = check_image(&jpeg(64, 48), &ImageLimits::default()).unwrap();
        assert_eq!((img.kind, img.width, img.height), (ImageKind::Jpeg, 64, 48));
        assert_eq!((img.kind.content_type(), img.kind.as_str()), ("image/jpeg", "jpeg"));
    }

    #[test]
    fn a_valid_webp_is_accepted_with_its_kind_and_dimensions() {
        let img = check_image(&webp(33, 17), &ImageLimits::default()).unwrap();
        assert_eq!((img.kind, img.width, img.height), (ImageKind::Webp, 33, 17));
        assert_eq!((img.kind.content_type(), img.kind.as_str()), ("image/webp", "webp"));
        assert_eq!(serde_json::to_value(img.kind).unwrap(), "webp");
    }

    #[test]
    fn the_sha256_is_lowercase_hex_of_the_bytes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn checked(bytes: &[u8]) -> CheckedImage {
        check_image(bytes, &ImageLimits::default()).unwrap()
    }

    #[tokio::test]
    async fn the_local_store_gives_back_what_was_put() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::new(dir.path());
        let bytes = png(10, 10);
        let img = checked(&bytes);
        store.put(&bytes, &img).await.unwrap();
        assert_eq!(store.get(&img.sha256).await.unwrap(), Some(bytes));
        let path = dir
            .path()
            .join(&img.sha256[0..2])
            .join(&img.sha256[2..4])
            .join(&img.sha256);
        assert!(path.is_file(), "content-addressed path {path:?}");
    }

    #[tokio::test]
    async fn putting_the_same_bytes_twice_keeps_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::new(dir.path());
        let bytes = jpeg(16, 16);
        let img = checked(&bytes);
        store.put(&bytes, &img).await.unwrap();
        store.put(&bytes, &img).await.unwrap();
        let leaf = dir.path().join(&img.sha256[0..2]).join(&img.sha256[2..4]);
        let names: Vec<_> = std::fs::read_dir(&leaf)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from(&img.sha256)],
            "no temp files left behind"
        );
    }

    #[tokio::test]
    async fn an_absent_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::new(dir.path());
        assert_eq!(store.get(&sha256_hex(b"never stored")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_sha_with_path_tricks_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::new(dir.path().join("files"));
        std::fs::write(dir.path().join("secret"), b"top secret").unwrap();
        let upper = sha256_hex(b"x").to_uppercase();
        for bad in [
            "../secret",
            "../../etc/passwd",
            "/etc/passwd",
            "",
            "ab/../../secret",
            upper.as_str(),
        ] {
            let err = store.get(bad).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
        }
        let dots = format!("..{}", &sha256_hex(b"x")[2..]);
        assert_eq!(
            store.get(&dots).await.unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
    }

    #[tokio::test]
    async fn put_refuses_bytes_that_do_not_match_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::new(dir.path());
        let img = checked(&png(4, 4));
        let err = store.put(b"other bytes", &img).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(store.get(&img.sha256).await.unwrap(), None);
    }
}
