// The demo page over a throttled 2G link, measured in headless Chromium,
// and the first paint of baseline against progressive JPEG previews under
// the same link. Reports one JSON line after "RESULT " on stdout; the Go
// test cmd/mediaserver/slownet_test.go starts Prosody and the server,
// uploads the photos, runs this, and makes the assertions.
//
// Environment:
//   PAGE_URL     the demo page as the API serves it (/demo/), with the
//                channel and auth parameters: same origin, so the page can
//                read what each preview cost
//   COUNT        how many images the channel has
//   DOWN_KBPS, UP_KBPS, RTT_MS  the link (Network.emulateNetworkConditions)
//   WIDTH, HEIGHT  the viewport
//   FIRST_PAINT  optional: a JSON list of {name, variant, url, width,
//                height}, pages each showing one image, whose paints are
//                recorded (Page.startScreencast) into FRAMES_DIR
//   FRAMES_DIR   where the frames go, one PNG per frame
//   CHROMIUM     the browser (default /usr/bin/chromium)
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`slownet.test.mjs: environment variable ${name} is not set`);
    process.exit(2);
  }
  return v;
}

const pageURL = need('PAGE_URL');
const count = Number(need('COUNT'));
const link = { down: Number(need('DOWN_KBPS')), up: Number(need('UP_KBPS')), rtt: Number(need('RTT_MS')) };
const viewport = { width: Number(need('WIDTH')), height: Number(need('HEIGHT')) };
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
// A 2G page of 20 photos takes about 20 s; every wait is bounded.
const timeout = 90000;

const result = { link, viewport, runs: [], firstPaint: [], failedRequests: [], consoleErrors: [] };

// throttle puts a page behind the link, Save-Data sent on every request
// when asked (what a browser does when its user turned it on).
async function throttle(context, page, saveData) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: link.rtt,
    downloadThroughput: link.down * 1000 / 8,
    uploadThroughput: link.up * 1000 / 8,
    connectionType: 'cellular2g',
  });
  if (saveData) {
    await cdp.send('Network.setExtraHTTPHeaders', { headers: { 'Save-Data': 'on' } });
  }
  return cdp;
}

// The page, read in the page: each image with its layers, and what the
// browser's resource timing says of every preview and tiny preview.
function readPage() {
  const entries = {};
  for (const e of performance.getEntriesByType('resource')) {
    entries[e.name] = { start: e.startTime, end: e.responseEnd, bytes: e.encodedBodySize, transfer: e.transferSize };
  }
  return Array.prototype.map.call(document.querySelectorAll('#media img.preview'), (img) => ({
    id: img.getAttribute('data-media-id'),
    complete: img.complete && img.naturalWidth > 0,
    naturalWidth: img.naturalWidth,
    naturalHeight: img.naturalHeight,
    srcset: img.getAttribute('srcset'),
    sizes: img.getAttribute('sizes'),
    loading: img.getAttribute('loading'),
    hasPlaceholder: !!img.getAttribute('data-placeholder'),
    bytes: img.getAttribute('data-bytes'),
    cost: (img.closest('figure').querySelector('.cost') || {}).textContent || '',
    preview: entries[img.currentSrc] || null,
    previewURL: img.currentSrc,
    tiny: entries[img.getAttribute('data-lqip')] || null,
  }));
}

// run loads the page behind the link and scrolls through it as a reader
// does: one screen at a time, moving on when the previews on the screen
// have loaded. Times are milliseconds from the navigation's start.
async function run(browser, saveData) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('requestfailed', (r) => result.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure() && r.failure().errorText}`));
  page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => result.consoleErrors.push(String(e)));
  const cdp = await throttle(context, page, saveData);
  let transferred = 0;
  let requests = 0;
  // What went on the wire for each preview request: its Save-Data header.
  const previewIDs = new Set();
  const sentHeaders = new Map();
  cdp.on('Network.requestWillBeSent', (e) => {
    requests++;
    if (/[?&]maxwidth=/.test(e.request.url)) previewIDs.add(e.requestId);
  });
  cdp.on('Network.requestWillBeSentExtraInfo', (e) => { sentHeaders.set(e.requestId, e.headers); });
  cdp.on('Network.loadingFinished', (e) => { transferred += e.encodedDataLength; });

  await page.goto(pageURL, { timeout, waitUntil: 'commit' });
  // Every placeholder drawn: the list has arrived and each frame has its
  // ThumbHash background.
  const placeholdersAt = await (await page.waitForFunction((n) => {
    const frames = document.querySelectorAll('#media .frame');
    if (frames.length < n) return false;
    for (const f of frames) {
      const img = f.querySelector('img.preview');
      const loaded = img && img.complete && img.naturalWidth > 0;
      if (!loaded && f.style.backgroundImage.indexOf('url("data:image/png') !== 0) return false;
    }
    return performance.now();
  }, count, { timeout, polling: 'raf' })).jsonValue();

  // Scroll through, a screen at a time.
  const screens = [];
  for (;;) {
    const done = await (await page.waitForFunction(() => {
      const vh = window.innerHeight;
      for (const img of document.querySelectorAll('#media img.preview')) {
        const r = img.getBoundingClientRect();
        if (r.bottom > 0 && r.top < vh && !(img.complete && img.naturalWidth > 0)) return false;
      }
      return { at: performance.now(), y: window.scrollY };
    }, null, { timeout, polling: 'raf' })).jsonValue();
    screens.push(done);
    const more = await page.evaluate(() => {
      const before = window.scrollY;
      window.scrollBy(0, window.innerHeight);
      return window.scrollY > before;
    });
    if (!more) break;
  }
  const allAt = await (await page.waitForFunction(() => {
    const imgs = document.querySelectorAll('#media img.preview');
    for (const i of imgs) if (!(i.complete && i.naturalWidth > 0)) return false;
    return performance.now();
  }, null, { timeout, polling: 'raf' })).jsonValue();
  // The page writes each cost on load; let the last ones land.
  await page.waitForFunction(() => Array.prototype.every.call(document.querySelectorAll('#media .cost'), (c) => c.textContent !== 'loading...'), null, { timeout });
  const images = await page.evaluate(readPage);
  const saveDataSent = [...previewIDs].map((id) => {
    const h = sentHeaders.get(id) || {};
    return h['Save-Data'] || h['save-data'] || '';
  });
  await context.close();
  return { saveData, placeholdersAt, allLoadedAt: allAt, screens, transferred, requests, saveDataSent, images };
}

// firstPaint records every frame Chromium paints while each image page
// loads behind the link, and when the image was asked for. One page for
// all: the images have distinct URLs, so none comes from the cache.
async function firstPaint(browser, items, framesDir) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const cdp = await throttle(context, page, false);
  let frames = [];
  let dir = '';
  cdp.on('Page.screencastFrame', (f) => {
    cdp.send('Page.screencastFrameAck', { sessionId: f.sessionId }).catch(() => {});
    if (!dir) return;
    const file = join(dir, `${frames.length}.png`);
    writeFileSync(file, Buffer.from(f.data, 'base64'));
    frames.push({ at: f.metadata.timestamp * 1000, file });
  });
  const out = [];
  for (const item of items) {
    dir = join(framesDir, `${item.name}-${item.variant}`);
    mkdirSync(dir, { recursive: true });
    frames = [];
    // From a blank page, so no frame shows the previous image.
    await page.goto('about:blank', { timeout });
    await cdp.send('Page.startScreencast', { format: 'png', everyNthFrame: 1 });
    await page.goto(item.url, { timeout, waitUntil: 'commit' });
    const timing = await (await page.waitForFunction(() => {
      const img = document.querySelector('img');
      if (!img || !img.complete || img.naturalWidth === 0) return false;
      const e = performance.getEntriesByName(img.src)[0];
      return e ? { start: performance.timeOrigin + e.startTime, end: performance.timeOrigin + e.responseEnd, bytes: e.encodedBodySize } : false;
    }, null, { timeout, polling: 'raf' })).jsonValue();
    // A few more frames after the last byte: the final paint.
    await page.waitForTimeout(300);
    await cdp.send('Page.stopScreencast');
    dir = '';
    out.push({ ...item, ...timing, frames });
  }
  await context.close();
  return out;
}

let browser;
let failed = false;
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout,
  });
  for (const saveData of [false, true]) {
    result.runs.push(await run(browser, saveData));
  }
  if (process.env.FIRST_PAINT) {
    const framesDir = need('FRAMES_DIR');
    result.firstPaint = await firstPaint(browser, JSON.parse(process.env.FIRST_PAINT), framesDir);
  }
} catch (err) {
  failed = true;
  result.error = String(err && err.stack || err);
} finally {
  if (browser) await browser.close();
}
console.log('RESULT ' + JSON.stringify(result));
process.exit(failed ? 1 : 0);
