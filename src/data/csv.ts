/**
 * Numeric CSV: comma-separated numbers, one row per line, an optional header line (detected when
 * its first field is not a number). Values are stored as float32 and must be finite there. Errors
 * name the file, line and column, and quote up to 40 characters of the offending field.
 */
import { DataError } from './dataset.js';

export interface Table {
  rows: number;
  cols: number;
  /** rows × cols, row-major. */
  data: Float32Array;
  header?: string[];
}

export function parseCsv(text: string, file = 'CSV'): Table {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length === 0) throw new DataError('EMPTY_FILE', `${file}: the file is empty`);
  let start = 0;
  let header: string[] | undefined;
  const first = lines[0].split(',');
  if (first.length > 0 && first[0].trim() !== '' && !Number.isFinite(Number(first[0]))) {
    header = first.map((h) => h.trim());
    start = 1;
  }
  const cols = (header ?? first).length;
  const rows = lines.length - start;
  if (rows === 0) throw new DataError('EMPTY_FILE', `${file}: a header but no data rows`);
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const line = lines[start + r];
    const fields = line.split(',');
    if (fields.length !== cols) throw new DataError('RAGGED', `${file}: line ${start + r + 1} has ${fields.length} fields, expected ${cols}`);
    for (let c = 0; c < cols; c++) {
      const f = fields[c].trim();
      const v = f === '' ? NaN : Number(f);
      if (!Number.isFinite(v)) throw new DataError('NOT_A_NUMBER', `${file}: line ${start + r + 1}, column ${c + 1} is "${f.slice(0, 40)}", not a finite number`);
      data[r * cols + c] = v;
      if (!Number.isFinite(data[r * cols + c])) throw new DataError('NOT_A_NUMBER', `${file}: line ${start + r + 1}, column ${c + 1} is "${f.slice(0, 40)}", outside the float32 range (±3.4e38) features are stored in`);
    }
  }
  return { rows, cols, data, header };
}
