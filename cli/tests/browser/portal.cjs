// Drives the airseal customer portal in a real browser: Debian's Chromium, headless, through
// playwright-core. cli/tests/portal_browser.rs runs it once per step and reads the one JSON
// line it prints. No JavaScript of the portal is involved (it has none): this is what a
// customer's browser does with plain forms.
//
//   node portal.cjs STEP BASE_URL INPUT OUT_DIR NAME
//
// STEP is `activate` (upload INPUT, a request file; download the response to
// OUT_DIR/NAME.txt; the QR code as shown to OUT_DIR/NAME-qr.png), `activate-paste` (the
// same, pasting INPUT's text instead of uploading the file),
// `deactivate` (upload INPUT, a deactivation proof) or `refused` (upload INPUT, a request
// the portal refuses). Every step saves OUT_DIR/NAME-form.png (the filled-in form) and
// OUT_DIR/NAME.png (the answer), full-page screenshots, and fails
// on any Content-Security-Policy violation or page error.
'use strict';

const fs = require('fs');
const path = require('path');

const [step, base, input, outDir, name] = process.argv.slice(2);
const modules = process.env.AIRSEAL_TEST_BROWSER || __dirname;
const { chromium } = require(require.resolve('playwright-core', { paths: [modules] }));

function fail(message) {
  process.stderr.write(`portal.cjs ${step}: ${message}\n`);
  process.exit(1);
}

async function main() {
  if (!step || !base || !input || !outDir || !name) fail('usage: STEP BASE_URL INPUT OUT_DIR NAME');
  // A fresh profile each run (Playwright passes it as --user-data-dir), removed at the end.
  const profile = fs.mkdtempSync(path.join(outDir, 'profile-'));
  try {
    await run(profile);
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function run(profile) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    acceptDownloads: true,
    // The portal must work without JavaScript: the page gets none.
    javaScriptEnabled: false,
  });
  const problems = [];
  try {
    const page = await context.newPage();
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));

    const home = await page.goto(base + '/');
    if (!home || home.status() !== 200) throw new Error(`GET / answered ${home && home.status()}`);
    const csp = (await home.allHeaders())['content-security-policy'] || '';

    const form = step === 'deactivate' ? 'proof' : 'request';
    if (step === 'activate-paste') {
      await page.fill(`#${form}-text`, fs.readFileSync(input, 'utf8'));
    } else {
      await page.setInputFiles(`#${form}-file`, input);
    }
    // The start page with the form filled in, as the customer sees it before sending.
    await page.screenshot({ path: path.join(outDir, `${name}-form.png`), fullPage: true });
    const [answer] = await Promise.all([
      page.waitForNavigation(),
      page.click(`#${step === 'deactivate' ? 'deactivate' : 'activate'} button[type=submit]`),
    ]);
    const status = answer ? answer.status() : 0;
    const headline = (await page.textContent('h1')) || '';
    const text = (await page.textContent('main')) || '';
    const result = { step, status, headline: headline.trim(), text: text.replace(/\s+/g, ' ').trim(), csp };

    if (step === 'activate' || step === 'activate-paste') {
      const qr = page.locator('#qr figure svg');
      result.qr_svg = await qr.count();
      // The code as the screen shows it, for the test to decode.
      result.qr_png = path.join(outDir, `${name}-qr.png`);
      await qr.screenshot({ path: result.qr_png });
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click('#download button[type=submit]'),
      ]);
      const file = path.join(outDir, `${name}.txt`);
      await download.saveAs(file);
      result.download = file;
      result.suggested = download.suggestedFilename();
    }
    const shot = path.join(outDir, `${name}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    result.screenshot = shot;
    result.problems = problems;
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await context.close();
  }
}

main().catch((e) => fail(String(e && e.stack || e)));
