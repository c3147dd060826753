//! Uploaded images (payment QR codes): what they are is decided from their bytes.
//!
//! Never from the file name or the `Content-Type` a client sends: an executable renamed `.png` or
//! an SVG carrying a script must not be stored and later served to an operator's browser. Only
//! PNG, JPEG and WebP pass, and only when (1) the magic bytes say so, (2) the dimensions read
//! from the header alone are within bounds (so a small file claiming a huge canvas never reaches
//! the decoder), and (3) the whole image then decodes under `image::Limits`.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};

/// The largest upload, checked while the body streams in.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;
/// The largest width and height.
pub const MAX_SIDE: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Webp,
}

impl ImageKind {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Webp => "image/webp",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            ImageKind::Png => ImageFormat::Png,
            ImageKind::Jpeg => ImageFormat::Jpeg,
            ImageKind::Webp => ImageFormat::WebP,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("文件为空,请选择图片")]
    Empty,
    #[error("文件不是图片(识别为{0}),只接受 PNG、JPEG、WebP")]
    NotAnImage(&'static str),
    #[error("图片已损坏或不完整,无法解码,请重新保存后上传")]
    Corrupt,
    #[error("图片尺寸 {0} × {1} 像素过大,宽和高都不能超过 4096 像素")]
    TooLarge(u32, u32),
}

impl ImageError {
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Empty => "IMAGE_EMPTY",
            ImageError::NotAnImage(_) => "NOT_AN_IMAGE",
            ImageError::Corrupt => "IMAGE_CORRUPT",
            ImageError::TooLarge(..) => "IMAGE_DIMENSIONS_TOO_LARGE",
        }
    }
}

/// The accepted kind from the magic bytes, or what the file is instead (in Chinese).
fn sniff(bytes: &[u8]) -> Result<ImageKind, &'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(ImageKind::Png);
    }
    if bytes.starts_with(b"\xFF\xD8\xFF") {
        return Ok(ImageKind::Jpeg);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(ImageKind::Webp);
    }
    const MAGIC: [(&[u8], &str); 11] = [
        (b"\x7FELF", " ELF 可执行文件"),
        (b"MZ", " Windows 可执行文件"),
        (b"%PDF-", " PDF 文档"),
        (b"PK\x03\x04", " ZIP 压缩包"),
        (b"\x1F\x8B", " GZIP 压缩包"),
        (b"GIF87a", " GIF 动图"),
        (b"GIF89a", " GIF 动图"),
        (b"BM", " BMP 位图"),
        (b"II*\x00", " TIFF 图片"),
        (b"MM\x00*", " TIFF 图片"),
        (b"#!", "脚本文件"),
    ];
    if let Some((_, what)) = MAGIC.iter().find(|(m, _)| bytes.starts_with(m)) {
        return Err(what);
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Err(" HEIC/AVIF 图片,请先转为 JPEG 或 PNG");
    }
    let head = &bytes[..bytes.len().min(4096)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start();
    if text.contains("<svg") {
        return Err(" SVG 矢量图,可能含脚本");
    }
    if text.starts_with("<!doctype html")
        || text.starts_with("<html")
        || text.contains("<script")
        || text.contains("<html")
    {
        return Err(" HTML 网页");
    }
    if text.starts_with("<?xml") {
        return Err(" XML 文档");
    }
    if std::str::from_utf8(head).is_ok() {
        return Err("纯文本");
    }
    Err("未知格式")
}

/// Decides whether `bytes` is an image we accept (see the module docs).
pub fn check_image(bytes: &[u8]) -> Result<CheckedImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let kind = sniff(bytes).map_err(ImageError::NotAnImage)?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), kind.format())
        .into_dimensions()
        .map_err(|_| ImageError::Corrupt)?;
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt);
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::TooLarge(width, height));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // 8 bytes a pixel covers 16-bit RGBA, the widest these formats decode to.
    limits.max_alloc = Some(u64::from(MAX_SIDE) * u64::from(MAX_SIDE) * 8);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(limits);
    match reader.decode() {
        Ok(_) => {}
        Err(image::ImageError::Limits(_)) => return Err(ImageError::TooLarge(width, height)),
        Err(_) => return Err(ImageError::Corrupt),
    }
    // The JPEG decoder pads a cut-off scan instead of failing: a file without its end-of-image
    // marker is an interrupted save or upload.
    if kind == ImageKind::Jpeg
        && !bytes[bytes.len().saturating_sub(4096)..]
            .windows(2)
            .any(|w| w == [0xFF, 0xD9])
    {
        return Err(ImageError::Corrupt);
    }
    Ok(CheckedImage { kind, width, height })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 0]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xFFFF_FFFFu32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn a_real_png_and_jpeg_pass_with_their_dimensions() {
        let p = check_image(&png(3, 2)).unwrap();
        assert_eq!((p.kind, p.width, p.height), (ImageKind::Png, 3, 2));
        let img = image::RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        assert_eq!(check_image(out.get_ref()).unwrap().kind, ImageKind::Jpeg);
    }

    #[test]
    fn other_files_are_named_for_what_they_are() {
        let cases: [(&[u8], &str); 5] = [
            (b"\x7FELF\x02\x01\x01\0\0\0\0\0\0\0\0\0", "ELF"),
            (
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
                "SVG",
            ),
            (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
            (b"GIF89a....", "GIF"),
            (b"just some words", "纯文本"),
        ];
        for (bytes, what) in cases {
            let e = check_image(bytes).unwrap_err();
            assert_eq!(e.code(), "NOT_AN_IMAGE");
            assert!(e.to_string().contains(what), "{e}");
        }
        assert_eq!(check_image(b""), Err(ImageError::Empty));
    }

    #[test]
    fn a_truncated_png_is_corrupt() {
        let p = png(20, 20);
        assert_eq!(check_image(&p[..p.len() / 2]), Err(ImageError::Corrupt));
    }

    #[test]
    fn a_header_claiming_a_huge_canvas_is_refused_before_decoding() {
        // A PNG whose IHDR says 5000 × 10: the dimensions alone refuse it.
        let mut p = png(1, 1);
        p[16..20].copy_from_slice(&5000u32.to_be_bytes());
        p[20..24].copy_from_slice(&10u32.to_be_bytes());
        let crc = crc32(&p[12..29]);
        p[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(check_image(&p), Err(ImageError::TooLarge(5000, 10)));
    }
}
