// Builds the clerk app into clients/app/dist (gitignored), served by Flask at /app/.
//
//   node clients/app/build.mjs        (run by `make run` / `make test` through the Makefile)
//
// esbuild bundles src/main.js (Preact + htm + the sync client) into hashed ES modules; the QR
// decoder (zxing-wasm) is a lazily loaded chunk and its WebAssembly is copied beside it. The
// service worker gets the list of shell files and a version derived from their contents, so a
// new build replaces the old cache. PNG icons are drawn here (no binary files in the repository).
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const src = join(here, "src");
const out = process.env.CLERK_APP_OUT || join(here, "dist");

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

// The decoder's WebAssembly, named by its hash so a new version never meets an old cache.
const wasm = readFileSync(join(root, "node_modules/zxing-wasm/dist/reader/zxing_reader.wasm"));
const wasmName = `assets/zxing_reader-${hash(wasm).slice(0, 10)}.wasm`;
writeFileSync(join(out, wasmName), wasm);

const result = await esbuild.build({
  entryPoints: [join(src, "main.js")],
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  sourcemap: false,
  target: ["chrome100", "safari15", "firefox100"],
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "[name]-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "none",
  // The page's CSP allows no inline script: the decoder's path is compiled in.
  define: { "process.env.NODE_ENV": '"production"', ZHIDA_DECODER_WASM: JSON.stringify("./" + wasmName) },
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const entry = outputs.find(([, meta]) => meta.entryPoint)[0];
const entryUrl = "./" + relative(out, join(root, entry)).split("\\").join("/");


copyFileSync(join(src, "styles.css"), join(out, "assets", "styles.css"));
const css = readFileSync(join(out, "assets", "styles.css"));
const cssName = `assets/styles-${hash(css).slice(0, 10)}.css`;
rmSync(join(out, "assets", "styles.css"));
writeFileSync(join(out, cssName), css);

writeFileSync(join(out, "icon.svg"), readFileSync(join(src, "icon.svg")));
for (const size of [192, 512]) writeFileSync(join(out, `icon-${size}.png`), iconPng(size));
writeFileSync(join(out, "manifest.webmanifest"), readFileSync(join(src, "manifest.webmanifest")));

const html = readFileSync(join(src, "index.html"), "utf8")
  .replaceAll("%ENTRY%", entryUrl)
  .replace("%CSS%", "./" + cssName)
;
writeFileSync(join(out, "index.html"), html);

// Everything the shell needs offline: the page, its scripts, styles, icons, the decoder.
const shell = ["./", "./manifest.webmanifest", "./icon.svg", "./icon-192.png", "./icon-512.png",
  "./" + cssName, "./" + wasmName,
  ...outputs.filter(([file]) => file.endsWith(".js"))
    .map(([file]) => "./" + relative(out, join(root, file)).split("\\").join("/"))];
const version = hash(shell.join("\n") + html).slice(0, 12);
const sw = readFileSync(join(src, "sw.js"), "utf8")
  .replace("%VERSION%", version)
  .replace("%SHELL%", JSON.stringify(shell));
writeFileSync(join(out, "sw.js"), sw);
writeFileSync(join(out, "build.json"), JSON.stringify({ version, entry: entryUrl, wasm: wasmName, shell }, null, 1));
console.log(`clerk app built: ${relative(root, out)} (version ${version}, ${shell.length} shell files)`);

function hash(data) {
  return createHash("sha256").update(data).digest("hex");
}

// A square icon: a teal field with a white tick, antialiased, as an RGBA PNG.
function iconPng(size) {
  const raw = Buffer.alloc((size * 4 + 1) * size);
  const stroke = size * 0.085;
  const tick = [[0.27, 0.52], [0.43, 0.68], [0.74, 0.34]].map(([x, y]) => [x * size, y * size]);
  const radius = size * 0.18;
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const px = x + 0.5, py = y + 0.5;
      const d = Math.min(segment(px, py, tick[0], tick[1]), segment(px, py, tick[1], tick[2]));
      const white = Math.max(0, Math.min(1, stroke - d + 0.5));
      const cx = Math.min(Math.max(px, radius), size - radius), cy = Math.min(Math.max(py, radius), size - radius);
      const alpha = Math.max(0, Math.min(1, radius - Math.hypot(px - cx, py - cy) + 0.5));
      const at = y * (size * 4 + 1) + 1 + x * 4;
      raw[at] = Math.round(15 + (255 - 15) * white);
      raw[at + 1] = Math.round(118 + (255 - 118) * white);
      raw[at + 2] = Math.round(110 + (255 - 110) * white);
      raw[at + 3] = Math.round(255 * alpha);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
}

function segment(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - ax - t * dx, py - ay - t * dy);
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function crc32(buffer) {
  let crc = ~0;
  for (const byte of buffer) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}
