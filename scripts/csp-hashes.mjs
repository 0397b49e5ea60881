// Trunk post-build hook: index.html's Content-Security-Policy allows inline scripts only by hash, and
// Trunk's loader script names the content-hashed wasm file, so its hash changes with every build. This fills
// the hashes of the built page's inline scripts in for the `'inline-script-hashes'` placeholder.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const file = path.join(process.env.TRUNK_STAGING_DIR, 'index.html');
let html = fs.readFileSync(file, 'utf8');
// Development builds (`trunk serve`, scripts/serve) carry Trunk's live-reload script, whose placeholders the
// dev server fills in per request (its address from the Host header): filled in here instead, with the
// values the server would use for this page, the served script is the one hashed. Release builds have no
// such script, so what is deployed keeps the same strict policy.
if (process.env.TRUNK_PROFILE !== 'release') {
  html = html
    .replaceAll("'{{__TRUNK_ADDRESS__}}'", 'window.location.host')
    .replaceAll('`{{__TRUNK_ADDRESS__}}`', 'window.location.host')
    .replaceAll('{{__TRUNK_WS_BASE__}}', (process.env.TRUNK_PUBLIC_URL || '/').replace(/\/?$/, '/'));
}
const placeholder = "'inline-script-hashes'";
const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)]
  .map(([, body]) => `'sha256-${crypto.createHash('sha256').update(body, 'utf8').digest('base64')}'`);
if (!html.includes(placeholder) || hashes.length === 0) {
  console.error(`csp-hashes: expected ${placeholder} in the CSP and an inline loader script in ${file}`);
  process.exit(1);
}
fs.writeFileSync(file, html.replace(placeholder, hashes.join(' ')));
