// Builds the dashboard into dist/ (what the gateway serves at `/`): the page, its stylesheet, uPlot's
// stylesheet, and app.js bundled by esbuild (the TypeScript client, rxjs and uPlot included).
// Run `node clients/dashboard/build.mjs`, or import { buildDashboard }.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DASHBOARD_DIST = path.join(here, 'dist');

export async function buildDashboard(outdir = DASHBOARD_DIST) {
  fs.mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [path.join(here, 'src/main.ts')],
    outfile: path.join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
  const require = createRequire(import.meta.url);
  const uplotCss = path.join(path.dirname(require.resolve('uplot/package.json')), 'dist/uPlot.min.css');
  fs.copyFileSync(uplotCss, path.join(outdir, 'uPlot.min.css'));
  for (const file of ['index.html', 'style.css']) fs.copyFileSync(path.join(here, file), path.join(outdir, file));
  return outdir;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outdir = await buildDashboard(process.argv[2] ? path.resolve(process.argv[2]) : DASHBOARD_DIST);
  const size = fs.statSync(path.join(outdir, 'app.js')).size;
  console.log(
    `dashboard built in ${path.relative(process.cwd(), outdir) || '.'} (app.js ${(size / 1024).toFixed(1)} KiB)`,
  );
}
