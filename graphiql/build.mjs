// Bundles src/ into one script and one stylesheet for the service to serve from
// schema/static/, named by a hash of their content so browsers may cache them for good.
// manifest.json tells the service which names are current.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const target = join(here, '..', 'schema', 'static');

const result = await build({
  entryPoints: { graphiql: join(here, 'src', 'main.jsx') },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'eof',
  outdir: 'out',
  write: false,
  logLevel: 'warning',
});

mkdirSync(target, { recursive: true });
for (const name of readdirSync(target)) {
  if (/^graphiql\.[0-9a-f]+\.(js|css)$/.test(name)) rmSync(join(target, name));
}
const manifest = {};
for (const file of result.outputFiles) {
  const kind = extname(file.path).slice(1);
  const hash = createHash('sha256').update(file.contents).digest('hex').slice(0, 16);
  const name = `${basename(file.path, `.${kind}`)}.${hash}.${kind}`;
  writeFileSync(join(target, name), file.contents);
  manifest[kind === 'js' ? 'script' : 'style'] = name;
  console.log(`${name}  ${(file.contents.length / 1024).toFixed(0)} KiB`);
}
writeFileSync(join(target, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
