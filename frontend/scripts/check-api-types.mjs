// Fails when src/api/schema.d.ts is not what openapi-typescript makes of ../openapi/openapi.json,
// i.e. when the API changed and the console's types were not regenerated (`npm run gen:api`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'xyt-api-types-'));
const fresh = join(dir, 'schema.d.ts');
try {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/openapi-typescript/bin/cli.js'), join(root, '../openapi/openapi.json'), '-o', fresh],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const committed = readFileSync(join(root, 'src/api/schema.d.ts'), 'utf8');
  if (committed !== readFileSync(fresh, 'utf8')) {
    console.error(
      'api types: src/api/schema.d.ts is out of date with openapi/openapi.json.\n' +
        '  Regenerate it with `npm run gen:api` (in frontend/) and commit it.',
    );
    process.exit(1);
  }
  console.log('api types: src/api/schema.d.ts matches openapi/openapi.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
