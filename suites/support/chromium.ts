// Headless Chromium for the report suite: Debian's `chromium` package driven by playwright-core
// (no browser download). A missing browser fails the suite with the fix; it never skips.
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function chromiumPath(): string {
  const configured = process.env.KEEPALIVE_LAB_CHROMIUM;
  const found = configured ?? CANDIDATES.find((candidate) => fs.existsSync(candidate));
  if (!found || !fs.existsSync(found)) {
    throw new Error(`Chromium not found${configured ? ` at KEEPALIVE_LAB_CHROMIUM=${configured}` : ''}: run "./scripts/setup.sh --tests" (apt-get install chromium) or set KEEPALIVE_LAB_CHROMIUM`);
  }
  return found;
}

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
}

/** Fraction of pixels in a PNG that are not (near) white, measured by the browser's own canvas. */
export async function inkFraction(browser: Browser, png: Buffer): Promise<number> {
  const page = await browser.newPage();
  try {
    return await page.evaluate(async (base64) => {
      const image = new Image();
      image.src = `data:image/png;base64,${base64}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = image.width;
      canvas.height = image.height;
      const context = canvas.getContext('2d')!;
      context.drawImage(image, 0, 0);
      const { data } = context.getImageData(0, 0, image.width, image.height);
      let ink = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i]! < 235 || data[i + 1]! < 235 || data[i + 2]! < 235) ink++;
      return ink / (data.length / 4);
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}
