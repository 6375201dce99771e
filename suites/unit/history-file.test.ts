import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HistoryReadError, HistoryWriteError, openHistoryFile, readHistoryFile } from '../../src/history/history-file.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kal-history-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the history file', () => {
  it('a full disk (/dev/full: ENOSPC) is one error from flush and close, never an unhandled stream error', async () => {
    const sink = openHistoryFile('/dev/full');
    sink.append({ type: 'trial' } as never);
    await expect(sink.flush()).rejects.toThrow(HistoryWriteError);
    await expect(sink.flush()).rejects.toThrow('cannot write /dev/full: ENOSPC (the disk is full); what was written before stands');
    sink.append({ type: 'trial' } as never); // dropped, not thrown
    await expect(sink.close()).rejects.toThrow(HistoryWriteError);
  });

  it('flush puts what was appended on disk', async () => {
    const file = path.join(dir, 'flushed.jsonl');
    const sink = openHistoryFile(file);
    sink.append({ type: 'cell-end', cell: 'c0' } as never);
    await sink.flush();
    expect(fs.readFileSync(file, 'utf8')).toBe('{"type":"cell-end","cell":"c0"}\n');
    await sink.close();
  });

  it('a torn last line is skipped and reported; any other line that is not a record is an error naming it', () => {
    const file = path.join(dir, 'read.jsonl');
    // Types no schema checks (history/record-schemas.ts checks the fields of the known ones).
    fs.writeFileSync(file, '{"type":"note"}\n{"type":"mark","id":"c0-1"}\n{"type":"tri');
    const torn: number[] = [];
    expect(readHistoryFile(file, (line) => torn.push(line))).toHaveLength(2);
    expect(torn).toEqual([3]);
    for (const bad of ['null', '[1,2]', '{"no":"type"}', 'garbage', '{"type":"tri']) {
      fs.writeFileSync(file, `{"type":"note"}\n${bad}\n{"type":"mark","id":"c0-1"}\n`);
      expect(() => readHistoryFile(file), bad).toThrow(HistoryReadError);
      expect(() => readHistoryFile(file), bad).toThrow(`${file}:2: not a history record`);
    }
    // The last line with its newline was written whole: not torn, an error.
    fs.writeFileSync(file, '{"type":"note"}\nnull\n');
    // A known type must hold its fields.
    fs.writeFileSync(file, '{"type":"run"}\n');
    expect(() => readHistoryFile(file)).toThrow(`${file}:1: a "run" record whose startedAt is missing`);
    fs.writeFileSync(file, '{"type":"note"}\nnull\n');
    expect(() => readHistoryFile(file)).toThrow(`${file}:2:`);
  });
});
