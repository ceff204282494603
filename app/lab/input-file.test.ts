import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { besideLab, MAX_INPUT_BYTES, readInputFile } from './input-file.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dpulab-input-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readInputFile', () => {
  it('readInputFile reads a regular file of UTF-8 text', () => {
    writeFileSync(join(dir, 'lab.yaml'), 'name: é\n');
    expect(readInputFile(join(dir, 'lab.yaml'), 'topology file')).toBe('name: é\n');
  });

  it('readInputFile refuses devices, directories and pipes at once instead of reading them', () => {
    expect(() => readInputFile('/dev/zero', 'topology file')).toThrow(expect.objectContaining({ code: 'not-a-file', message: 'Cannot read topology file /dev/zero: not a regular file (a directory, device or pipe); name a file' }));
    expect(() => readInputFile(dir, 'scenario file')).toThrow(expect.objectContaining({ code: 'not-a-file' }));
    const fifo = join(dir, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) expect(() => readInputFile(fifo, 'lab file')).toThrow(expect.objectContaining({ code: 'not-a-file' }));
  });

  it('readInputFile refuses a file over the size limit without reading it, and one that is not text', () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, '');
    truncateSync(big, MAX_INPUT_BYTES + 1);
    expect(() => readInputFile(big, 'topology file')).toThrow(new RegExp(`it is ${MAX_INPUT_BYTES + 1} bytes, more than the ${MAX_INPUT_BYTES} dpulab reads$`));
    writeFileSync(join(dir, 'bin.yaml'), Buffer.from([0x6e, 0x3a, 0xff, 0xfe]));
    expect(() => readInputFile(join(dir, 'bin.yaml'), 'topology file')).toThrow(expect.objectContaining({ code: 'not-text' }));
    expect(() => readInputFile(join(dir, 'none.yaml'), 'topology file')).toThrow('Cannot read topology file ' + join(dir, 'none.yaml') + ': ENOENT');
  });
});

describe('besideLab', () => {
  it('besideLab accepts files in the lab directory and below, nothing else', () => {
    const lab = join(dir, 'lab.yaml');
    mkdirSync(join(dir, 'parts'));
    expect(besideLab(lab, 'topo.yaml')).toBe(join(dir, 'topo.yaml'));
    expect(besideLab(lab, 'parts/topo.yaml')).toBe(join(dir, 'parts', 'topo.yaml'));
    for (const named of ['/etc/passwd', '../x.yaml', 'parts/../../x.yaml', '.', '']) {
      expect(() => besideLab(lab, named), named).toThrow(expect.objectContaining({ code: 'outside', message: expect.stringMatching(/^it is not beside the lab file/) }));
    }
  });

  it('besideLab follows symbolic links: one that leads out of the lab directory is refused', () => {
    symlinkSync('/etc/passwd', join(dir, 'innocent.yaml'));
    expect(() => besideLab(join(dir, 'lab.yaml'), 'innocent.yaml')).toThrow(expect.objectContaining({ code: 'outside' }));
  });
});
