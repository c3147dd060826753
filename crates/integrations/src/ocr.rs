//! Reading the agent's ticket screenshot: OCR engines behind one trait.
//!
//! Two engines, picked by name (`XYT_OCR_ENGINE`):
//!
//! - `mock` is deterministic and needs nothing installed: it reads the text a test or the demo put
//!   into the PNG's `iTXt` chunk with the keyword `xyt-ocr` ([`png_with_ocr_text`] makes such a
//!   file). Any other image reads as empty text with confidence 0, which the matcher treats as
//!   "needs a human".
//! - `tesseract` runs the Tesseract program (Debian's `tesseract-ocr` with the `chi_sim` data) on
//!   the image and joins its TSV words line by line. Chinese words are joined without spaces, so
//!   `姓名:马上到` reads as one run rather than `姓 名 : 马 上 到`.
//!
//! An engine only reads; what the text means is `xyt_domain::matching`'s business.

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use image::{ImageEncoder, Rgb, RgbImage};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

/// What an engine read, recorded in `screenshot_ocr_completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OcrOutput {
    /// `mock`, `tesseract`.
    pub engine: String,
    /// One line of text per line of the image.
    pub text: String,
    /// 0..=1, the engine's own mean confidence.
    pub confidence: f32,
}

const INSTALL_HINT: &str = "apt-get install tesseract-ocr tesseract-ocr-chi-sim";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcrError {
    #[error("OCR 引擎不可用({detail}),请在服务器上安装:{}", INSTALL_HINT)]
    EngineUnavailable { detail: String },
    #[error("OCR 识别超时(超过 {seconds} 秒),请稍后重试或人工核对截图")]
    Timeout { seconds: u64 },
    #[error("OCR 引擎运行失败:{detail}")]
    EngineFailed { detail: String },
    #[error("OCR 结果无法解析:{detail}")]
    BadOutput { detail: String },
}

impl OcrError {
    /// Stable code for the event's `errorCode` and the logs.
    pub fn code(&self) -> &'static str {
        match self {
            OcrError::EngineUnavailable { .. } => "OCR_ENGINE_UNAVAILABLE",
            OcrError::Timeout { .. } => "OCR_TIMEOUT",
            OcrError::EngineFailed { .. } => "OCR_ENGINE_FAILED",
            OcrError::BadOutput { .. } => "OCR_BAD_OUTPUT",
        }
    }
}

#[async_trait]
pub trait OcrEngine: Send + Sync {
    fn name(&self) -> &'static str;
    async fn read(&self, image: &[u8]) -> Result<OcrOutput, OcrError>;
}

/// The engine for `XYT_OCR_ENGINE`: `mock` or `tesseract`.
pub fn engine_from_name(name: &str) -> Result<Box<dyn OcrEngine>, String> {
    match name.trim().to_ascii_lowercase().as_str() {
        "mock" => Ok(Box::new(MockOcr)),
        "tesseract" => Ok(Box::new(TesseractOcr::default())),
        other => Err(format!("未知的 OCR 引擎 `{other}`,可选:mock、tesseract")),
    }
}

// ---------------------------------------------------------------------------------------------
// mock

/// The `iTXt` keyword [`MockOcr`] reads.
pub const MOCK_OCR_KEYWORD: &str = "xyt-ocr";

/// Decompressed text is capped, so a crafted chunk cannot inflate into gigabytes.
const MAX_MOCK_TEXT: u64 = 1024 * 1024;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Deterministic engine for tests and the demo. See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct MockOcr;

#[async_trait]
impl OcrEngine for MockOcr {
    fn name(&self) -> &'static str {
        "mock"
    }

    async fn read(&self, image: &[u8]) -> Result<OcrOutput, OcrError> {
        // Walking the chunks and inflating up to 1 MB is CPU work: off the async workers.
        let image = image.to_vec();
        let found = tokio::task::spawn_blocking(move || find_mock_text(&image))
            .await
            .map_err(|e| OcrError::EngineFailed { detail: e.to_string() })??;
        let (text, confidence) = match found {
            Some(text) => (text, 0.99),
            None => (String::new(), 0.0),
        };
        Ok(OcrOutput {
            engine: self.name().into(),
            text,
            confidence,
        })
    }
}

/// The text of the first `iTXt` chunk keyed [`MOCK_OCR_KEYWORD`], if `png` is a PNG that has one.
fn find_mock_text(png: &[u8]) -> Result<Option<String>, OcrError> {
    let Some(mut rest) = png.strip_prefix(PNG_SIGNATURE) else {
        return Ok(None);
    };
    while rest.len() >= 12 {
        let len = u32::from_be_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let kind = &rest[4..8];
        let Some(data) = rest.get(8..8 + len) else {
            return Ok(None);
        };
        if kind == b"iTXt" {
            if let Some(text) = parse_itxt(data)? {
                return Ok(Some(text));
            }
        }
        if kind == b"IEND" {
            break;
        }
        rest = rest.get(12 + len..).unwrap_or_default();
    }
    Ok(None)
}

/// `keyword \0 flag method language \0 translated \0 text`; `None` for another keyword.
fn parse_itxt(data: &[u8]) -> Result<Option<String>, OcrError> {
    let bad = |detail: &str| OcrError::BadOutput {
        detail: format!("iTXt {MOCK_OCR_KEYWORD}: {detail}"),
    };
    let mut fields = data.splitn(2, |&b| b == 0);
    let keyword = fields.next().unwrap_or_default();
    if keyword != MOCK_OCR_KEYWORD.as_bytes() {
        return Ok(None);
    }
    let rest = fields.next().ok_or_else(|| bad("truncated"))?;
    let [flag, _method, rest @ ..] = rest else {
        return Err(bad("truncated"));
    };
    let mut parts = rest.splitn(3, |&b| b == 0);
    let (_language, _translated) = (parts.next(), parts.next());
    let text = parts.next().ok_or_else(|| bad("truncated"))?;
    let bytes = match flag {
        0 => text.to_vec(),
        1 => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(text)
                .take(MAX_MOCK_TEXT + 1)
                .read_to_end(&mut out)
                .map_err(|e| bad(&format!("bad zlib data: {e}")))?;
            if out.len() as u64 > MAX_MOCK_TEXT {
                return Err(bad("text too long"));
            }
            out
        }
        other => return Err(bad(&format!("unknown compression flag {other}"))),
    };
    String::from_utf8(bytes).map(Some).map_err(|_| bad("text is not UTF-8"))
}

/// A valid PNG (a light picture with a few dark bars) carrying `text` for [`MockOcr`] in an
/// uncompressed `iTXt` chunk before `IEND`.
pub fn png_with_ocr_text(width: u32, height: u32, text: &str) -> Vec<u8> {
    let (width, height) = (width.max(1), height.max(1));
    let bar = (height / 12).max(1);
    let img = RgbImage::from_fn(width, height, |x, y| {
        let band = y / bar;
        // Dark bars on every other band in the middle rows, of varying length: like lines of text.
        let is_text_band = band % 2 == 1 && band < 11;
        if is_text_band && x >= width / 10 && x < width / 10 + width * (4 + band % 5) / 10 {
            Rgb([40, 40, 48])
        } else {
            Rgb([246, 246, 240])
        }
    });
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .expect("encoding a PNG in memory cannot fail");

    let mut data = MOCK_OCR_KEYWORD.as_bytes().to_vec();
    data.extend_from_slice(&[0, 0, 0]); // keyword end, not compressed, method 0
    data.push(0); // no language tag
    data.push(0); // no translated keyword
    data.extend_from_slice(text.as_bytes());
    let iend_at = png.len() - 12; // the encoder ends with an empty IEND chunk
    debug_assert_eq!(&png[iend_at + 4..iend_at + 8], b"IEND");
    let chunk = png_chunk(b"iTXt", &data);
    png.splice(iend_at..iend_at, chunk);
    png
}

/// length, type, data, CRC-32 of type and data.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&u32::try_from(data.len()).expect("chunk under 4 GiB").to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// tesseract

/// Runs the Tesseract program. See the module docs.
#[derive(Debug, Clone)]
pub struct TesseractOcr {
    /// `tesseract`, found on `PATH`, unless a path is given.
    pub program: PathBuf,
    /// Tesseract's `-l`: `chi_sim+eng`.
    pub languages: String,
    /// The process is killed after this long.
    pub timeout: Duration,
}

impl Default for TesseractOcr {
    fn default() -> Self {
        Self {
            program: PathBuf::from("tesseract"),
            languages: "chi_sim+eng".into(),
            timeout: Duration::from_secs(60),
        }
    }
}

#[async_trait]
impl OcrEngine for TesseractOcr {
    fn name(&self) -> &'static str {
        "tesseract"
    }

    async fn read(&self, image: &[u8]) -> Result<OcrOutput, OcrError> {
        let program = self.program.display().to_string();
        let mut child = tokio::process::Command::new(&self.program)
            // The image on stdin and the TSV on stdout: no temp files to clean up.
            .args(["stdin", "stdout", "-l", &self.languages, "tsv"])
            // One thread: OpenMP's threads only fight each other and the server on 2 cores.
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => OcrError::EngineUnavailable {
                    detail: format!("找不到程序 {program}"),
                },
                _ => OcrError::EngineFailed {
                    detail: format!("无法启动 {program}: {e}"),
                },
            })?;

        let mut stdin = child.stdin.take().expect("stdin is piped");
        let image = image.to_vec();
        let run = async move {
            // Tesseract reads all of stdin before it writes, so writing first cannot deadlock. A
            // write error (it exited early) shows in its status and stderr, which say more.
            let _ = stdin.write_all(&image).await;
            drop(stdin);
            child.wait_with_output().await
        };
        let output = tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| OcrError::Timeout {
                seconds: self.timeout.as_secs_f64().ceil() as u64,
            })?
            .map_err(|e| OcrError::EngineFailed {
                detail: format!("{program}: {e}"),
            })?;

        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let detail = last_lines(&stderr, 3);
            if stderr.contains("Failed loading language") || stderr.contains("Error opening data file") {
                return Err(OcrError::EngineUnavailable {
                    detail: format!("缺少语言数据 {}:{detail}", self.languages),
                });
            }
            return Err(OcrError::EngineFailed {
                detail: format!("{program} 退出({}):{detail}", output.status),
            });
        }
        let tsv = String::from_utf8(output.stdout).map_err(|_| OcrError::BadOutput {
            detail: "非 UTF-8 输出".into(),
        })?;
        let (text, confidence) = tokio::task::spawn_blocking(move || parse_tsv(&tsv))
            .await
            .map_err(|e| OcrError::EngineFailed { detail: e.to_string() })??;
        Ok(OcrOutput {
            engine: self.name().into(),
            text,
            confidence,
        })
    }
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

/// Tesseract's TSV: `level page_num block_num par_num line_num word_num left top width height
/// conf text`; words are level 5. Returns the words joined per line and the mean word confidence.
fn parse_tsv(tsv: &str) -> Result<(String, f32), OcrError> {
    let mut lines: Vec<((u32, u32, u32, u32), String)> = Vec::new();
    let (mut conf_sum, mut words) = (0f64, 0u32);
    for row in tsv.lines().skip_while(|l| l.starts_with("level")) {
        let cols: Vec<&str> = row.splitn(12, '\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let word = cols[11].trim();
        if word.is_empty() {
            continue;
        }
        let num = |i: usize| {
            cols[i].parse::<u32>().map_err(|_| OcrError::BadOutput {
                detail: format!("TSV 行格式不对:{row}"),
            })
        };
        let key = (num(1)?, num(2)?, num(3)?, num(4)?);
        let conf: f64 = cols[10].parse().map_err(|_| OcrError::BadOutput {
            detail: format!("TSV 置信度不对:{row}"),
        })?;
        if conf >= 0.0 {
            conf_sum += conf;
            words += 1;
        }
        match lines.last_mut() {
            Some((k, line)) if *k == key => join_word(line, word),
            _ => lines.push((key, word.to_string())),
        }
    }
    let text = lines.into_iter().map(|(_, line)| line).collect::<Vec<_>>().join("\n");
    let confidence = if words == 0 {
        0.0
    } else {
        (conf_sum / f64::from(words) / 100.0).clamp(0.0, 1.0) as f32
    };
    Ok((text, confidence))
}

/// Latin words keep a space between them; Chinese ones (and punctuation next to them) do not.
fn join_word(line: &mut String, word: &str) {
    let prev = line.chars().next_back();
    let next = word.chars().next();
    if let (Some(p), Some(n)) = (prev, next) {
        if !is_cjk(p) && !is_cjk(n) {
            line.push(' ');
        }
    }
    line.push_str(word);
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F      // CJK punctuation
        | 0x3400..=0x4DBF    // extension A
        | 0x4E00..=0x9FFF    // unified ideographs
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0xFF00..=0xFFEF    // full-width forms
        | 0x20000..=0x2FA1F) // extensions B and later
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain_png() -> Vec<u8> {
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&[255; 12], 2, 2, image::ExtendedColorType::Rgb8)
            .unwrap();
        png
    }

    /// `png` with a chunk added before `IEND`.
    fn with_chunk(mut png: Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let at = png.len() - 12;
        png.splice(at..at, png_chunk(kind, data));
        png
    }

    #[tokio::test]
    async fn the_mock_reads_the_text_put_into_the_png() {
        let text = "预订成功\n姓名:马上到\n游玩日期:2027-01-10";
        let png = png_with_ocr_text(320, 200, text);
        let out = MockOcr.read(&png).await.unwrap();
        assert_eq!(
            out,
            OcrOutput {
                engine: "mock".into(),
                text: text.into(),
                confidence: 0.99
            }
        );
    }

    #[test]
    fn the_png_with_text_is_a_valid_image_of_the_asked_size() {
        let png = png_with_ocr_text(300, 120, "票种:初级道 3 小时");
        let img = crate::files::check_image(&png, &crate::files::ImageLimits::default()).unwrap();
        assert_eq!(
            (img.kind, img.width, img.height),
            (crate::files::ImageKind::Png, 300, 120)
        );
        let decoded = image::load_from_memory(&png).unwrap().to_rgb8();
        let dark = decoded.pixels().filter(|p| p.0[0] < 100).count();
        assert!(dark > 0, "a few dark bars");
    }

    #[tokio::test]
    async fn the_mock_reads_zlib_compressed_text() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all("证件号:320911198804223314".as_bytes()).unwrap();
        let mut data = b"xyt-ocr\0\x01\x00zh\0\xE8\xAF\x81\0".to_vec();
        data.extend(z.finish().unwrap());
        let png = with_chunk(plain_png(), b"iTXt", &data);
        let out = MockOcr.read(&png).await.unwrap();
        assert_eq!(out.text, "证件号:320911198804223314");
        assert_eq!(out.confidence, 0.99);
    }

    #[tokio::test]
    async fn an_image_without_the_chunk_reads_as_nothing() {
        let plain = plain_png();
        for bytes in [plain.as_slice(), b"\xFF\xD8\xFF\xE0 a jpeg", b""] {
            let out = MockOcr.read(bytes).await.unwrap();
            assert_eq!((out.text.as_str(), out.confidence), ("", 0.0));
        }
    }

    #[tokio::test]
    async fn a_chunk_with_another_keyword_is_ignored() {
        let png = with_chunk(plain_png(), b"iTXt", b"Comment\0\0\0\0\0hello");
        assert_eq!(
            MockOcr.read(&png).await.unwrap(),
            OcrOutput {
                engine: "mock".into(),
                text: "".into(),
                confidence: 0.0
            }
        );
        let png = with_chunk(png, b"iTXt", b"xyt-ocr\0\0\0\0\0second");
        assert_eq!(MockOcr.read(&png).await.unwrap().text, "second");
    }

    #[tokio::test]
    async fn broken_compressed_text_is_an_error_not_a_guess() {
        let png = with_chunk(plain_png(), b"iTXt", b"xyt-ocr\0\x01\x00\0\0not zlib");
        let err = MockOcr.read(&png).await.unwrap_err();
        assert_eq!(err.code(), "OCR_BAD_OUTPUT");
    }

    #[test]
    fn tesseract_tsv_is_joined_per_line_without_spaces_between_chinese_words() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t800\t600\t-1\t\n\
            4\t1\t1\t1\t1\t0\t10\t10\t300\t40\t-1\t\n\
            5\t1\t1\t1\t1\t1\t10\t10\t100\t40\t96.5\t姓名:\n\
            5\t1\t1\t1\t1\t2\t110\t10\t100\t40\t93.5\t马上到\n\
            5\t1\t1\t1\t2\t1\t10\t60\t100\t40\t90\t票种:初级道\n\
            5\t1\t1\t1\t2\t2\t10\t60\t100\t40\t80\t3\n\
            5\t1\t1\t1\t2\t3\t10\t60\t100\t40\t90\t小时\n\
            5\t1\t1\t1\t3\t1\t10\t60\t100\t40\t90\tSki\n\
            5\t1\t1\t1\t3\t2\t10\t60\t100\t40\t90\tPass\n\
            5\t1\t1\t1\t3\t3\t10\t60\t100\t40\t95\t \n";
        let (text, conf) = parse_tsv(tsv).unwrap();
        assert_eq!(text, "姓名:马上到\n票种:初级道3小时\nSki Pass");
        assert!((conf - 0.9).abs() < 1e-6, "{conf}");
        assert_eq!(parse_tsv("level\tpage_num\n").unwrap(), (String::new(), 0.0));
    }

    #[tokio::test]
    async fn a_missing_tesseract_program_says_what_to_install() {
        let engine = TesseractOcr {
            program: "/nonexistent/tesseract".into(),
            ..TesseractOcr::default()
        };
        let err = engine.read(&png_with_ocr_text(10, 10, "")).await.unwrap_err();
        assert_eq!(err.code(), "OCR_ENGINE_UNAVAILABLE");
        assert!(
            err.to_string()
                .contains("apt-get install tesseract-ocr tesseract-ocr-chi-sim"),
            "{err}"
        );
    }

    #[test]
    fn engines_are_picked_by_name() {
        assert_eq!(engine_from_name("mock").unwrap().name(), "mock");
        assert_eq!(engine_from_name(" Tesseract ").unwrap().name(), "tesseract");
        assert!(engine_from_name("paddle").err().unwrap().contains("mock、tesseract"));
    }
}
