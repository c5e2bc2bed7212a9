// A user's own data from a manifest: CSV and raw float32 features, validated with errors that name
// the file, row and column.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'udi-manifest-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function setup(files: Record<string, string | Uint8Array>, manifest: unknown) {
  const d = await mkdtemp(join(dir, 'case-'));
  for (const [name, body] of Object.entries(files)) await writeFile(join(d, name), body);
  await writeFile(join(d, 'manifest.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  return d;
}

const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);

describe('manifest', () => {
  it('loads CSV (with a header) and raw float32 modalities', async () => {
    const d = await setup({ 'labels.csv': 'label\n0\n1\n2\n', 'a.csv': 'x,y\n1,2\n3,4\n5,6\n', 'b.f32': f32([1, 2, 3, 4, 5, 6, 7, 8, 9]) }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' }, b: { file: 'b.f32', shape: [3, 3] } } });
    const ds = await loadManifest(d);
    expect(ds.size).toBe(3);
    expect(ds.classes).toBe(3);
    expect(ds.modalities.a.dim).toBe(2);
    expect(Array.from(ds.modalities.b.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it.each([
    ['ragged CSV', { 'labels.csv': '0\n1\n', 'a.csv': '1,2\n3\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } }, /a\.csv: line 2 has 1 fields, expected 2/],
    ['a non-number', { 'labels.csv': '0\n1\n', 'a.csv': '1,2\n3,abc\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } }, /a\.csv: line 2, column 2 is "abc"/],
    ['a non-integer label', { 'labels.csv': '0\n1.5\n', 'a.csv': '1\n2\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } }, /labels\.csv: row 2 holds 1\.5/],
    ['row counts that differ', { 'labels.csv': '0\n1\n1\n', 'a.csv': '1\n2\n' }, { labels: 'labels.csv', modalities: { a: { file: 'a.csv' } } }, /modality "a" has 2 rows, .* has 3 labels/],
    ['a raw file of the wrong size', { 'labels.csv': '0\n1\n', 'b.f32': f32([1, 2, 3]) }, { labels: 'labels.csv', modalities: { b: { file: 'b.f32', shape: [2, 2] } } }, /b\.f32: shape 2×2 needs 16 bytes/],
    ['a raw file without shape', { 'labels.csv': '0\n1\n', 'b.f32': f32([1, 2]) }, { labels: 'labels.csv', modalities: { b: { file: 'b.f32' } } }, /needs "shape"/],
    ['an unknown key', { 'labels.csv': '0\n1\n' }, { labels: 'labels.csv', modalities: {}, extra: 1 }, /unknown key "extra"/],
    ['a missing file', { 'labels.csv': '0\n1\n' }, { labels: 'labels.csv', modalities: { a: { file: 'nope.csv' } } }, /modality "a" file .*nope\.csv does not exist/],
    ['invalid JSON', { 'labels.csv': '0\n' }, '{ "labels": ', /is not valid JSON/],
    ['a name longer than MAX_NAME_LENGTH (1000)', { 'labels.csv': '0\n1\n', 'a.csv': '1\n2\n' }, { labels: 'labels.csv', modalities: { ['m'.repeat(1001)]: { file: 'a.csv' } } }, /modalities: the name "m{40}\.\.\." is 1001 characters long, more than 1000/],
    ['a non-finite value', { 'labels.csv': '0\n1\n', 'b.f32': f32([1, NaN]) }, { labels: 'labels.csv', modalities: { b: { file: 'b.f32', shape: [2, 1] } } }, /modality "b" row 1 column 0 is NaN/],
  ])('rejects %s with a message naming the place', async (_, files, manifest, message) => {
    const d = await setup(files as Record<string, string | Uint8Array>, manifest);
    await expect(loadManifest(d)).rejects.toThrow(message);
  });
});

describe('udi data fetch: tar extraction', () => {
  it('reads ustar and pax entries as the system tar writes them', async () => {
    const { untar } = await import('../src/io/fetch.js');
    const { execFileSync } = await import('node:child_process');
    const { mkdir, readFile } = await import('node:fs/promises');
    const root = await mkdtemp(join(dir, 'tar-'));
    const long = 'free-spoken-digit-dataset-1.0.10/' + 'x'.repeat(120) + '/recordings';
    await mkdir(join(root, long), { recursive: true });
    await writeFile(join(root, long, '7_george_3.wav'), 'RIFF....');
    await writeFile(join(root, 'small.txt'), 'hello');
    execFileSync('tar', ['--format=pax', '-cf', join(root, 'a.tar'), '-C', root, long, 'small.txt']);
    const tar = new Uint8Array(await readFile(join(root, 'a.tar')));
    const files = untar(tar);
    const byName = Object.fromEntries(files.map((f) => [f.name, new TextDecoder().decode(f.data)]));
    expect(byName[`${long}/7_george_3.wav`]).toBe('RIFF....');
    expect(byName['small.txt']).toBe('hello');
    expect(() => untar(tar.subarray(0, 700))).toThrow(/invalid size/);
  });
});
