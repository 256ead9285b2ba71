// Drives the demo page in headless Chromium and reports what a person
// would see, as one JSON line after "RESULT " on stdout. The Go test
// cmd/mediaserver/browser_test.go starts Prosody and the server, runs this
// with the URLs below in the environment, and makes the assertions; this
// script only fails by itself when the page never gets to a state to
// report on.
//
// Environment:
//   DEMO_PAGE_URL  the page, served from an origin other than the API's
//   API_URL        the API base URL
//   CHANNEL        the channel JID to show
//   AUTH           the auth credential value (the user's client confirms it)
//   UPLOAD_FILE    an image file to upload through the form
//   UPLOAD_TITLE   the title to give it
//   SCREENSHOT     where to save a PNG screenshot after the upload; one
//                  of each phone screen goes beside it (demo-WxH.png), and
//                  one with the previews held back, the placeholders shown
//                  (demo-WxH-placeholders.png), and one with only the tiny
//                  previews let through (demo-WxH-lqip.png)
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   SAME_ORIGIN_PAGE_URL  optional: the page as the API server serves it
//                  (/demo/), opened without an api parameter
import { chromium } from 'playwright-core';
import { thumbHashToRGBA } from 'thumbhash';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`demo.test.mjs: environment variable ${name} is not set`);
    process.exit(2);
  }
  return v;
}

const pageURL = need('DEMO_PAGE_URL');
const apiURL = need('API_URL');
const channel = need('CHANNEL');
const authValue = need('AUTH');
const uploadFile = need('UPLOAD_FILE');
const uploadTitle = need('UPLOAD_TITLE');
const screenshot = need('SCREENSHOT');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = 30000;

// Screens of the two classes the previews are made for, then a desktop
// one for the upload and the screenshot. Small first: a browser that has
// a larger candidate cached may use it for a smaller screen.
const viewports = [
  { name: 'phone 240x320', width: 240, height: 320 },
  { name: 'phone 320x480', width: 320, height: 480 },
];
const desktop = { name: 'desktop 760x900', width: 760, height: 900 };

const userDataDir = mkdtempSync(join(tmpdir(), 'mediaserver-e2e-'));
const result = { pageURL, apiURL, viewports: [], upload: null, failedRequests: [], consoleErrors: [] };

// What the page shows of each image, read in the page.
function readImages() {
  return Array.prototype.map.call(document.querySelectorAll('#media img.preview'), (img) => ({
    id: img.getAttribute('data-media-id'),
    alt: img.alt,
    complete: img.complete,
    naturalWidth: img.naturalWidth,
    naturalHeight: img.naturalHeight,
    currentSrc: img.currentSrc,
    srcset: img.getAttribute('srcset'),
    sizes: img.getAttribute('sizes'),
    loading: img.getAttribute('loading'),
    widthAttr: img.getAttribute('width'),
    heightAttr: img.getAttribute('height'),
    bytes: img.getAttribute('data-bytes'),
    cost: (img.closest('figure').querySelector('.cost') || {}).textContent || '',
  }));
}

// What the page shows of each placeholder, read in the page: whether it
// is drawn under the image, whether the preview had arrived by then, and
// the placeholder's pixels as the page drew them.
function readPlaceholders() {
  return Promise.all(Array.prototype.map.call(document.querySelectorAll('#media img.preview'), (img) => new Promise((resolve) => {
    const out = {
      id: img.getAttribute('data-media-id'),
      hash: img.getAttribute('data-thumbhash'),
      shown: img.parentNode.classList.contains('placeholder') &&
        getComputedStyle(img.parentNode).backgroundImage.indexOf('url("data:image/png') === 0,
      previewLoaded: img.complete && img.naturalWidth > 0,
    };
    const src = img.getAttribute('data-placeholder');
    if (!src) { resolve(out); return; }
    const drawn = new Image();
    drawn.onload = () => {
      const c = document.createElement('canvas');
      c.width = drawn.naturalWidth;
      c.height = drawn.naturalHeight;
      const ctx = c.getContext('2d');
      ctx.drawImage(drawn, 0, 0);
      out.w = c.width;
      out.h = c.height;
      out.rgba = Array.from(ctx.getImageData(0, 0, c.width, c.height).data);
      resolve(out);
    };
    drawn.onerror = () => resolve(out);
    drawn.src = src;
  })));
}

// What the page shows of each tiny preview (LQIP) while the preview is
// held back, read in the page.
function readTiny() {
  return Array.prototype.map.call(document.querySelectorAll('#media img.preview'), (img) => {
    const tiny = img.parentNode.querySelector('img.lqip');
    const out = { id: img.getAttribute('data-media-id'), src: img.getAttribute('data-lqip'), previewLoaded: img.complete && img.naturalWidth > 0 };
    if (!tiny) return out;
    const style = getComputedStyle(tiny);
    const box = tiny.getBoundingClientRect();
    const frame = img.parentNode.getBoundingClientRect();
    return {
      ...out,
      currentSrc: tiny.currentSrc,
      loaded: tiny.complete && tiny.naturalWidth > 0,
      naturalWidth: tiny.naturalWidth,
      naturalHeight: tiny.naturalHeight,
      filter: style.filter,
      // It covers the frame (a little beyond: the blur's edges).
      covers: box.left <= frame.left && box.top <= frame.top && box.right >= frame.right && box.bottom >= frame.bottom,
    };
  });
}

// comparePlaceholder checks the page's drawing of a placeholder against
// the reference decoder (npm thumbhash) and summarises it for the Go test.
function comparePlaceholder(p) {
  const out = { id: p.id, shown: p.shown, previewLoaded: p.previewLoaded, w: p.w || 0, h: p.h || 0 };
  if (!p.hash || !p.rgba) return out;
  const ref = thumbHashToRGBA(Buffer.from(p.hash, 'base64'));
  out.refW = ref.w;
  out.refH = ref.h;
  let maxDiff = 0;
  if (ref.w === p.w && ref.h === p.h) {
    for (let i = 0; i < p.rgba.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(p.rgba[i] - ref.rgba[i]));
    }
  } else {
    maxDiff = 255;
  }
  out.maxDiff = maxDiff;
  out.rgba = p.rgba;
  return out;
}

function statusOf(page) {
  return page.$eval('#status', (el) => ({ state: el.getAttribute('data-state'), text: el.textContent }));
}

// allLoaded waits until the list has at least n images, each decoded;
// scrolling each into view as a person would (they load lazily).
async function allLoaded(page, n) {
  await page.waitForFunction((n) => document.querySelectorAll('#media img.preview').length >= n, n, { timeout });
  for (const img of await page.$$('#media img.preview')) {
    await img.scrollIntoViewIfNeeded({ timeout });
  }
  await page.waitForFunction(
    () => Array.prototype.every.call(document.querySelectorAll('#media img.preview'), (i) => i.complete && i.naturalWidth > 0) &&
      Array.prototype.every.call(document.querySelectorAll('#media .cost'), (c) => c.textContent !== 'loading...'),
    null, { timeout });
}

function watch(page) {
  page.on('requestfailed', (r) => result.failedRequests.push(`${r.method()} ${r.url()}: ${r.failure() && r.failure().errorText}`));
  page.on('console', (m) => { if (m.type() === 'error') result.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => result.consoleErrors.push(String(e)));
}

const q = new URLSearchParams({ api: apiURL, channel, auth: authValue });
const target = `${pageURL}${pageURL.includes('?') ? '&' : '?'}${q}`;

let context;
let failed = false;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    deviceScaleFactor: 1,
    viewport: viewports[0],
    timeout,
  });
  for (const vp of viewports) {
    const page = await context.newPage();
    watch(page);
    // The previews are held back until the placeholders have been read:
    // the page must show them while the previews are on their way.
    // Then the tiny previews are let through, the previews still held:
    // the tiny one must show blurred over the placeholder.
    let release, releaseTiny;
    const released = new Promise((r) => { release = r; });
    const releasedTiny = new Promise((r) => { releaseTiny = r; });
    await page.route((u) => u.searchParams.has('maxwidth'), async (route) => {
      await (new URL(route.request().url()).searchParams.get('maxwidth') === '32' ? releasedTiny : released);
      await route.continue();
    });
    await page.setViewportSize({ width: vp.width, height: vp.height });
    await page.goto(target, { timeout });
    await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status').getAttribute('data-state')), null, { timeout });
    const status = await statusOf(page);
    const placeholders = (await page.evaluate(readPlaceholders)).map(comparePlaceholder);
    await page.screenshot({ path: join(dirname(screenshot), `demo-${vp.width}x${vp.height}-placeholders.png`), fullPage: true });
    releaseTiny();
    let tiny = [];
    if (status.state === 'ready') {
      for (const img of await page.$$('#media img.preview')) {
        await img.scrollIntoViewIfNeeded({ timeout });
      }
      await page.waitForFunction(() => Array.prototype.every.call(document.querySelectorAll('#media img.lqip'), (i) => i.complete), null, { timeout });
      tiny = await page.evaluate(readTiny);
      await page.screenshot({ path: join(dirname(screenshot), `demo-${vp.width}x${vp.height}-lqip.png`), fullPage: true });
    }
    release();
    if (status.state === 'ready') {
      await allLoaded(page, 1);
    }
    const shot = join(dirname(screenshot), `demo-${vp.width}x${vp.height}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    // A page wider than the screen scrolls sideways: a person notices.
    const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    result.viewports.push({ ...vp, status, pageWidth, screenshot: shot, placeholders, tiny, images: await page.evaluate(readImages) });
    await page.close();
  }

  // The page as the API itself serves it finds the API by its own origin.
  if (process.env.SAME_ORIGIN_PAGE_URL) {
    const page = await context.newPage();
    watch(page);
    await page.setViewportSize({ width: 320, height: 480 });
    await page.goto(`${process.env.SAME_ORIGIN_PAGE_URL}?${new URLSearchParams({ channel, auth: authValue })}`, { timeout });
    await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status').getAttribute('data-state')), null, { timeout });
    const status = await statusOf(page);
    if (status.state === 'ready') {
      await allLoaded(page, 1);
    }
    result.sameOrigin = { name: 'served by the API', width: 320, height: 480, status, images: await page.evaluate(readImages) };
    await page.close();
  }

  // The same page without the credential: the private channel must stay
  // private. The 401 it gets is expected, so this page is not watched.
  {
    const page = await context.newPage();
    const anonymous = `${pageURL}${pageURL.includes('?') ? '&' : '?'}${new URLSearchParams({ api: apiURL, channel })}`;
    await page.goto(anonymous, { timeout });
    await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status').getAttribute('data-state')), null, { timeout });
    result.anonymous = { name: 'no credential', status: await statusOf(page), images: await page.evaluate(readImages) };
    await page.close();
  }

  const page = await context.newPage();
  watch(page);
  await page.setViewportSize({ width: desktop.width, height: desktop.height });
  await page.goto(target, { timeout });
  await page.waitForFunction(() => document.getElementById('status').getAttribute('data-state') === 'ready', null, { timeout });
  const before = (await page.$$('#media img.preview')).length;
  await page.setInputFiles('#data', uploadFile);
  await page.fill('#title', uploadTitle);
  await page.click('#upload button[type=submit]');
  await page.waitForFunction(
    (title) => document.querySelector(`#media img.preview[alt="${title}"]`) !== null ||
      document.getElementById('status').getAttribute('data-state') === 'error',
    uploadTitle, { timeout });
  const status = await statusOf(page);
  if (status.state !== 'error') {
    await allLoaded(page, before + 1);
    await page.evaluate(() => window.scrollTo(0, 0));
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  result.upload = { ...desktop, before, status, images: await page.evaluate(readImages) };
} catch (err) {
  failed = true;
  result.error = String(err && err.stack || err);
} finally {
  if (context) await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log('RESULT ' + JSON.stringify(result));
process.exit(failed ? 1 : 0);
