//! The real OCR engine on a rendered booking confirmation: Chinese text drawn with a CJK font from
//! the system, read back by Tesseract. Needs `tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk`
//! (scripts/ci-setup.sh installs them); it fails, never skips, when they are missing, because a
//! screenshot pipeline that silently lost its OCR would send every order to manual review.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{GrayImage, Luma};
use xyt_domain::matching::{extract_fields, match_screenshot, Expected};
use xyt_integrations::ocr::{OcrEngine, TesseractOcr};

const INSTALL: &str = "apt-get install tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk (or run scripts/ci-setup.sh)";

/// Font files with Chinese glyphs, best first.
const CJK_FONTS: [&str; 6] = [
    "NotoSansCJK-Regular.ttc",
    "NotoSansCJKsc-Regular.otf",
    "NotoSerifCJK-Regular.ttc",
    "wqy-zenhei.ttc",
    "wqy-microhei.ttc",
    "DroidSansFallbackFull.ttf",
];

fn find_file(dir: &Path, name: &str, depth: u32) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut dirs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            dirs.push(path);
        } else if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
    }
    if depth == 0 {
        return None;
    }
    dirs.into_iter().find_map(|d| find_file(&d, name, depth - 1))
}

/// The font's bytes and the face to use: in a collection, the Simplified Chinese one.
fn cjk_font() -> (Vec<u8>, u32) {
    let path = CJK_FONTS
        .iter()
        .find_map(|name| find_file(Path::new("/usr/share/fonts"), name, 4))
        .unwrap_or_else(|| panic!("no CJK font under /usr/share/fonts: {INSTALL}"));
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path:?}: {e}"));
    let faces = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
    let simplified = (0..faces).find(|&i| {
        ttf_parser::Face::parse(&data, i).is_ok_and(|face| {
            face.names()
                .into_iter()
                .filter(|n| n.name_id == ttf_parser::name_id::FAMILY)
                .filter_map(|n| n.to_string())
                .any(|family| family.ends_with(" SC") || family.contains("Zen Hei") || family.contains("Micro Hei"))
        })
    });
    (data, simplified.unwrap_or(0))
}

/// Black text on white, one line per entry, generous margins: what a phone screenshot looks like
/// to Tesseract once it is cropped to the booking.
fn render(lines: &[&str], font: &FontRef<'_>, px: f32) -> GrayImage {
    let scaled = font.as_scaled(PxScale::from(px));
    let line_height = (scaled.height() + scaled.line_gap()).ceil() * 1.5;
    let width_of = |line: &str| line.chars().map(|c| scaled.h_advance(font.glyph_id(c))).sum::<f32>();
    let margin = px * 2.0;
    let text_width = lines.iter().map(|l| width_of(l)).fold(0.0, f32::max);
    let width = (text_width + 2.0 * margin).ceil() as u32;
    let height = (line_height * lines.len() as f32 + 2.0 * margin).ceil() as u32;
    let mut img = GrayImage::from_pixel(width, height, Luma([255]));
    for (i, line) in lines.iter().enumerate() {
        let baseline = margin + scaled.ascent() + line_height * i as f32;
        let mut x = margin;
        let mut prev = None;
        for c in line.chars() {
            let id = font.glyph_id(c);
            assert_ne!(id.0, 0, "the font has no glyph for {c:?}");
            if let Some(p) = prev {
                x += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(px, ab_glyph::point(x, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    let (px_x, px_y) = (bounds.min.x as i64 + gx as i64, bounds.min.y as i64 + gy as i64);
                    if px_x >= 0 && px_y >= 0 && (px_x as u32) < width && (px_y as u32) < height {
                        let pixel = img.get_pixel_mut(px_x as u32, px_y as u32);
                        let ink = 255 - (coverage.clamp(0.0, 1.0) * 255.0) as u8;
                        pixel.0[0] = pixel.0[0].min(ink);
                    }
                });
            }
            x += scaled.h_advance(id);
            prev = Some(id);
        }
    }
    img
}

fn png_bytes(img: &GrayImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn tesseract_reads_the_name_id_number_and_date_of_a_rendered_booking() {
    let tesseract_ok = std::process::Command::new("tesseract")
        .arg("--list-langs")
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "chi_sim")
        });
    assert!(tesseract_ok, "tesseract with chi_sim data is needed: {INSTALL}");

    let (data, index) = cjk_font();
    let font = FontRef::try_from_slice_and_index(&data, index).expect("a readable CJK font");
    let lines = [
        "预订成功",
        "姓名:马上到",
        "证件号:320911198804223314",
        "游玩日期:2027-01-10",
        "票种:初级道 3 小时",
    ];
    let png = png_bytes(&render(&lines, &font, 48.0));
    // Kept for a person to look at when the assertion below fails.
    let _ = std::fs::write(std::env::temp_dir().join("xyt-tesseract-booking.png"), &png);

    let out = TesseractOcr::default().read(&png).await.expect("tesseract runs");
    assert_eq!(out.engine, "tesseract");
    let text = out.text.replace(char::is_whitespace, "");
    for expected in ["马上到", "320911198804223314", "2027-01-10", "预订成功"] {
        assert!(
            text.contains(expected),
            "{expected:?} not in what tesseract read:\n{}",
            out.text
        );
    }
    assert!(
        out.confidence > 0.6 && out.confidence <= 1.0,
        "confidence {}",
        out.confidence
    );

    // And what it read matches the order it belongs to.
    let fields = extract_fields(&out.text);
    let expected = Expected {
        name: "马上到".into(),
        certificate_no: "320911198804223314".into(),
        play_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
        ticket_type: "初级道3小时".into(),
    };
    let outcome = match_screenshot(&fields, out.confidence, &expected);
    assert!(outcome.matched, "{outcome:?}\nfrom:\n{}", out.text);
}

#[tokio::test]
async fn tesseract_reads_a_masked_booking_with_full_width_colons_that_matches_the_order() {
    let (data, index) = cjk_font();
    let font = FontRef::try_from_slice_and_index(&data, index).expect("a readable CJK font");
    let lines = [
        "订单详情",
        "游客姓名：马上到",
        "身份证：3209**********3314",
        "使用日期：2027年1月10日",
        "产品名称：初级道 3 小时",
    ];
    let png = png_bytes(&render(&lines, &font, 48.0));
    let out = TesseractOcr::default()
        .read(&png)
        .await
        .unwrap_or_else(|e| panic!("{e}: {INSTALL}"));
    let expected = Expected {
        name: "马上到".into(),
        certificate_no: "320911198804223314".into(),
        play_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
        ticket_type: "初级道3小时".into(),
    };
    let outcome = match_screenshot(&extract_fields(&out.text), out.confidence, &expected);
    assert!(outcome.matched, "{outcome:?}\nfrom:\n{}", out.text);
}
