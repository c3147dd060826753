// Prints every built chunk with its gzip size and fails when the JavaScript the first page load
// needs (the entry script and what index.html preloads) is above the budget. Routes are split
// (lazy route components), so each page's code loads only when it is opened.
import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET_KB = 300;
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const initial = new Set(
  [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="\/?([^"]+\.js)"/g)].map((m) => m[1]),
);
const kb = (n) => (n / 1024).toFixed(1).padStart(8);
const rows = readdirSync(join(dist, 'assets'))
  .filter((f) => f.endsWith('.js') || f.endsWith('.css'))
  .map((f) => {
    const bytes = readFileSync(join(dist, 'assets', f));
    return { file: `assets/${f}`, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  })
  .sort((a, b) => b.gzip - a.gzip);
console.log('bundle:     raw KB  gzip KB  file');
for (const r of rows) {
  console.log(`bundle: ${kb(r.raw)} ${kb(r.gzip)}  ${r.file}${initial.has(r.file) ? '  (initial)' : ''}`);
}
const initialGzip = rows.filter((r) => initial.has(r.file) && r.file.endsWith('.js')).reduce((s, r) => s + r.gzip, 0);
if (initial.size === 0) {
  console.error('bundle: found no entry script in dist/index.html');
  process.exit(1);
}
console.log(`bundle: initial JavaScript ${kb(initialGzip).trim()} KB gzip (budget ${BUDGET_KB} KB), ${rows.length} chunks`);
if (initialGzip > BUDGET_KB * 1024) {
  console.error(`bundle: initial JavaScript is over the ${BUDGET_KB} KB gzip budget`);
  process.exit(1);
}
