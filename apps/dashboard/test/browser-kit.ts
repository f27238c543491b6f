import { join } from 'node:path';
import { expect } from '@jest/globals';
import type { Page } from 'playwright-core';

// Page helpers shared by the browser suites: open a route, screenshot it, check it fits the width.

export const SHOTS = join(import.meta.dirname, '..', 'test-output', 'screenshots');

export const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

/** Loads a page of the console afresh and waits until the router has rendered it. */
export async function open(page: Page, base: string, hash: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${base}/${hash}`);
  await page.waitForFunction(() => document.getElementById('main')?.dataset['ready'] !== undefined);
}

export async function shot(page: Page, viewport: string, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${viewport}-${name}.png`), fullPage: true });
}

/** Nothing wider than the viewport except inside the scrolling table wrappers; names the culprits. */
export async function fitsWidth(page: Page): Promise<void> {
  const wide = await page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      if (el.closest('.table-wrap')) continue;
      const r = el.getBoundingClientRect();
      if (r.right > window.innerWidth + 0.5) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} right=${Math.round(r.right)}`);
    }
    return { out: out.slice(0, 5), scroll: document.documentElement.scrollWidth, inner: window.innerWidth };
  });
  expect(wide.out).toEqual([]);
  expect(wide.scroll).toBeLessThanOrEqual(wide.inner);
}
