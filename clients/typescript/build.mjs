// Builds dist/: an ES module for Node and bundlers (rxjs and ws left as imports), a self-contained
// browser bundle (rxjs included) for a plain <script type="module">, and with --declarations the
// type declarations (dist/types; needs the typescript package, which `npm pack` runs with).
//
// The client shares the wire module (src/wire) and the schema catalogue (src/db/schema.ts) with the
// server: the bundles include them, and the declarations are emitted for them too, beside the
// client's own, with relative imports that resolve inside dist/ wherever the package is installed.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const common = {
  entryPoints: [path.join(here, 'src/index.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
};

await build({ ...common, platform: 'node', outfile: path.join(here, 'dist/index.js'), external: ['rxjs', 'ws'] });
await build({
  ...common,
  platform: 'browser',
  outfile: path.join(here, 'dist/solstream-client.browser.js'),
  minify: true,
});

if (process.argv.includes('--declarations')) {
  const out = path.join(here, 'dist/types');
  fs.rmSync(out, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(here, 'tsconfig.build.json')], { stdio: 'inherit' });
  // The sources import with .ts extensions (run by tsx as they are); declarations must name .js.
  for (const file of fs.readdirSync(out, { recursive: true })) {
    if (!String(file).endsWith('.d.ts')) continue;
    const target = path.join(out, String(file));
    const text = fs.readFileSync(target, 'utf8');
    fs.writeFileSync(target, text.replace(/(from\s+['"]\.{1,2}\/[^'"]*)\.ts(['"])/g, '$1.js$2'));
  }
}
