// A small static file server for development and the browser tests (Node's standard library only).
// Usage: node scripts/static-server.mjs [--log] --port 8081 --mount /=dist --mount /data/sib200/=../shared/data/sib200
// Serves on 127.0.0.1 only. Prints "listening <port>" once ready (port 0 picks a free one), then with --log one line per request.
// `--chunked-mount /prefix/=dir` serves a folder without Content-Length (chunked), as some servers and proxies do.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml',
  '.tsv': 'text/tab-separated-values; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png', '.safetensors': 'application/octet-stream', '.bin': 'application/octet-stream',
};

const args = process.argv.slice(2);
let port = 8081;
let logRequests = false;
const mounts = [];
for (let i = 0; i < args.length; i += 2) {
  if (args[i] === '--log') { logRequests = true; i -= 1; }
  else if (args[i] === '--port') port = Number(args[i + 1]);
  else if (args[i] === '--mount' || args[i] === '--chunked-mount') {
    const [prefix, dir] = args[i + 1].split('=');
    mounts.push({ prefix, dir: path.resolve(dir), chunked: args[i] === '--chunked-mount' });
  } else throw new Error(`unknown argument ${args[i]}`);
}
// Longest prefix first, so /data/sib200/ wins over /.
mounts.sort((a, b) => b.prefix.length - a.prefix.length);

function resolve(urlPath) {
  for (const { prefix, dir, chunked } of mounts) {
    if (!urlPath.startsWith(prefix)) continue;
    const file = path.join(dir, urlPath.slice(prefix.length));
    if (!file.startsWith(dir)) return {}; // no escaping the mounted folder
    return { file: fs.existsSync(file) && fs.statSync(file).isDirectory() ? path.join(file, 'index.html') : file, chunked };
  }
  return {};
}

http.createServer((req, res) => {
  const urlPath = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
  const { file, chunked } = resolve(urlPath);
  if (logRequests) console.log(`${req.method} ${urlPath}`);
  if (!file || !fs.existsSync(file)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${urlPath}\n`);
    return;
  }
  const { size } = fs.statSync(file);
  res.writeHead(200, {
    'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    ...(chunked ? {} : { 'content-length': size }),
    'cache-control': 'no-cache',
  });
  if (req.method === 'HEAD') res.end();
  else fs.createReadStream(file).pipe(res);
}).listen(port, '127.0.0.1', function () {
  console.log(`listening ${this.address().port}`);
});
