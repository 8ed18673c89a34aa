// Camera scanning, loaded only when the scan screen opens. The browser's BarcodeDetector is used
// where it reads QR codes; elsewhere zxing-wasm (ZXing-C++ as WebAssembly, served by this app:
// the path comes from the page, so nothing is fetched from a CDN).
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";

let prepared = false;

function prepare() {
  if (prepared) return;
  prepared = true;
  // ZHIDA_DECODER_WASM is replaced at build time by the hashed file's path (build.mjs).
  // eslint-disable-next-line no-undef
  const wasmUrl = new URL(ZHIDA_DECODER_WASM, document.baseURI).href;
  prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasmUrl : prefix + path) },
  });
}

async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  } catch {
    return null;
  }
}

/**
 * Start the back camera in `video` and call `onCode(text)` once with the first QR code read.
 * Returns a stop function. Throws when there is no camera (the caller shows the typed fallback).
 */
export async function startScanning(video, onCode) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    audio: false,
  });
  video.srcObject = stream;
  video.setAttribute("playsinline", "");
  video.muted = true;
  await video.play();
  const detector = await nativeDetector();
  if (!detector) prepare();
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  let stopped = false;
  let timer = null;

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };

  const tick = async () => {
    if (stopped) return;
    try {
      const text = await readFrame(video, canvas, context, detector);
      if (text && !stopped) {
        stop();
        onCode(text);
        return;
      }
    } catch (error) {
      console.warn("scan frame failed", error);
    }
    timer = setTimeout(tick, 200);
  };
  tick();
  return stop;
}

async function readFrame(video, canvas, context, detector) {
  const width = video.videoWidth, height = video.videoHeight;
  if (!width || !height) return null;
  if (detector) {
    const codes = await detector.detect(video);
    return codes.length ? codes[0].rawValue : null;
  }
  canvas.width = width;
  canvas.height = height;
  context.drawImage(video, 0, 0, width, height);
  const results = await readBarcodes(context.getImageData(0, 0, width, height), {
    formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1,
  });
  const hit = results.find((result) => result.isValid && result.text);
  return hit ? hit.text : null;
}
