// Trunk post-build hook: index.html's Content-Security-Policy allows inline scripts only by hash, and
// Trunk's loader script names the content-hashed wasm file, so its hash changes with every build. This fills
// the hashes of the built page's inline scripts in for the `'inline-script-hashes'` placeholder.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const file = path.join(process.env.TRUNK_STAGING_DIR, 'index.html');
const html = fs.readFileSync(file, 'utf8');
const placeholder = "'inline-script-hashes'";
const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)]
  .map(([, body]) => `'sha256-${crypto.createHash('sha256').update(body, 'utf8').digest('base64')}'`);
if (!html.includes(placeholder) || hashes.length === 0) {
  console.error(`csp-hashes: expected ${placeholder} in the CSP and an inline loader script in ${file}`);
  process.exit(1);
}
fs.writeFileSync(file, html.replace(placeholder, hashes.join(' ')));
