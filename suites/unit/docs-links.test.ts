// README.md and docs/ link to each other and to the repository's files: every relative link
// must name a file that exists and, with a #fragment, a heading that file has (GitHub's anchors).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGES = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The page's text outside fenced code blocks, where a bracket is code, not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation other than - and _ dropped, spaces to -. */
function headingAnchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const headings = prose(fs.readFileSync(file, 'utf8')).split('\n').filter((line) => /^#{1,6} /.test(line));
  return new Set(headings.map((line) => headingAnchor(line.replace(/^#+ /, ''))));
}

describe('documentation links', () => {
  it('makes anchors as GitHub does', () => {
    expect(headingAnchor('The client-side race: `--proxy none`')).toBe('the-client-side-race---proxy-none');
    expect(headingAnchor('Soak traffic: failures per 10,000')).toBe('soak-traffic-failures-per-10000');
    expect(headingAnchor("Other proxies' defaults")).toBe('other-proxies-defaults');
  });

  it.each(PAGES)('%s: every relative link resolves to a file, and every #fragment to one of its headings', (page) => {
    const text = prose(fs.readFileSync(path.join(ROOT, page), 'utf8'));
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/i.test(target));
    const broken: string[] = [];
    for (const link of links) {
      const [target, fragment] = link.split('#') as [string, string | undefined];
      const file = target === '' ? path.join(ROOT, page) : path.resolve(path.dirname(path.join(ROOT, page)), target);
      if (!fs.existsSync(file)) broken.push(`${link}: no such file`);
      else if (fragment !== undefined && file.endsWith('.md') && !anchorsOf(file).has(fragment)) broken.push(`${link}: no such heading`);
    }
    expect(broken, page).toEqual([]);
  });

  it('every page in docs/ is linked from the README', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const unlinked = PAGES.filter((page) => page.startsWith('docs/') && !readme.includes(`](${page})`));
    expect(unlinked).toEqual([]);
  });
});
