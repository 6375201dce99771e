import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { globToRegExp, readNginxInclude } from '../../src/proxy/nginx/includes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-includes-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('nginx includes, read from disk', () => {
  it('one file, or what a wildcard in the file name matches, sorted by name as glob(3) sorts', () => {
    for (const name of ['b.conf', 'a.conf', '.hidden.conf', 'notes.txt']) fs.writeFileSync(path.join(dir, name), name);
    fs.mkdirSync(path.join(dir, 'd.conf'));
    expect(readNginxInclude(path.join(dir, '*.conf')).map((file) => file.text)).toEqual(['a.conf', 'b.conf']);
    expect(readNginxInclude(path.join(dir, 'notes.txt'))).toEqual([{ path: path.join(dir, 'notes.txt'), text: 'notes.txt' }]);
    // Missing: nothing, so that nginx -t names the missing file itself.
    expect(readNginxInclude(path.join(dir, 'missing.conf'))).toEqual([]);
    expect(() => readNginxInclude(path.join(dir, '*', 'x.conf'))).toThrow(/wildcards in the file name only/);
  });
  it('glob(3) for one name: *, ?, [...] and [!...]', () => {
    expect(globToRegExp('site-?.conf').test('site-a.conf')).toBe(true);
    expect(globToRegExp('site-[ab].conf').test('site-c.conf')).toBe(false);
    expect(globToRegExp('site-[!ab].conf').test('site-c.conf')).toBe(true);
    expect(globToRegExp('*.conf').test('x.conf.bak')).toBe(false);
  });
});
