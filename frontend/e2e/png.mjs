// Small valid PNGs for uploads, made here so the test needs no fixture files. `ocrText` goes into
// an iTXt chunk keyed `xyt-ocr`, which the server's mock OCR engine reads as the screenshot's text.
import { crc32, deflateSync } from 'node:zlib';

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

export function png(width, height, rgb = [40, 120, 200], ocrText) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) row.set(rgb, 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: height }, (_, y) => {
    const r = Buffer.from(row);
    if (y % 8 === 0) r.fill(255, 1);
    return r;
  }));
  const parts = [
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
  ];
  if (ocrText !== undefined) {
    // keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
    parts.push(chunk('iTXt', Buffer.concat([Buffer.from('xyt-ocr\0\0\0zh\0\0', 'latin1'), Buffer.from(ocrText, 'utf8')])));
  }
  parts.push(chunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}
