// Builds dist/: an ES module for Node and bundlers (rxjs and ws left as imports), and a
// self-contained browser bundle (rxjs included) for a plain <script type="module">.
import { build } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
