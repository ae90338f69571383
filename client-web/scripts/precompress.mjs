// Precompresses the built files for the server: next to each text asset in
// dist/ a .gz (gzip -9) and a .br (brotli, quality 11), written only when
// they are smaller. calma-server picks one by the request's Accept-Encoding
// (server/net/http_api.cpp serve_static). Node's own zlib: no dependency.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../dist/', import.meta.url).pathname;
const compressible = /\.(html|js|mjs|css|svg|json|map|txt)$/;
let files = 0, before = 0, after = 0;

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) { walk(path); continue; }
    if (name.endsWith('.gz') || name.endsWith('.br')) { unlinkSync(path); continue; }  // stale from an earlier build
    if (!compressible.test(name)) continue;
    const raw = readFileSync(path);
    const gz = gzipSync(raw, { level: 9 });
    const br = brotliCompressSync(raw, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
    });
    if (gz.length < raw.length) writeFileSync(path + '.gz', gz);
    if (br.length < raw.length) writeFileSync(path + '.br', br);
    files += 1; before += raw.length; after += Math.min(raw.length, gz.length, br.length);
  }
}

walk(root);
console.log(`precompressed ${files} files: ${(before / 1024).toFixed(1)} KiB -> ${(after / 1024).toFixed(1)} KiB (best of gzip/brotli)`);
