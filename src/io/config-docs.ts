/**
 * The config reference as Markdown, generated from TrainConfigSchema (so the README cannot drift:
 * a test compares the README's block with this output; `npm run docs` rewrites it).
 */
import { z } from 'zod';
import { TrainConfigSchema } from './config.js';

type Json = { type?: string | string[]; description?: string; default?: unknown; properties?: Record<string, Json>; oneOf?: Json[]; anyOf?: Json[]; enum?: unknown[]; const?: unknown; items?: Json; additionalProperties?: Json | boolean; minimum?: number; exclusiveMinimum?: number; maximum?: number; exclusiveMaximum?: number; prefixItems?: Json[] };

function typeOf(s: Json): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  const alts = s.oneOf ?? s.anyOf;
  if (alts) return alts.map(typeOf).join(' \\| ');
  if (s.prefixItems) return `[${s.prefixItems.map(typeOf).join(', ')}]`;
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return `{ name: ${typeOf(s.additionalProperties)} }`;
  if (s.type === 'object' && s.properties) return 'object';
  let t = Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
  const big = (v: number | undefined) => v === undefined || Math.abs(v) >= Number.MAX_SAFE_INTEGER;
  const lo = s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : !big(s.minimum) ? `>= ${s.minimum}` : '';
  const hi = s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : !big(s.maximum) ? `<= ${s.maximum}` : '';
  if (lo || hi) t += ` (${[lo, hi].filter(Boolean).join(', ')})`;
  return t;
}

export function configReference(): string {
  const root = z.toJSONSchema(TrainConfigSchema, { io: 'input', unrepresentable: 'any' }) as Json;
  const rows: string[] = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  const walk = (s: Json, path: string) => {
    const alts = s.oneOf ?? s.anyOf;
    if (path && (s.type !== 'object' || !s.properties || alts)) {
      rows.push(`| \`${path}\` | ${typeOf(s)} | ${s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``} | ${(s.description ?? '').replace(/\|/g, '\\|')} |`);
    } else if (path) rows.push(`| \`${path}\` | object | | ${(s.description ?? '').replace(/\|/g, '\\|')} |`);
    if (s.properties) for (const [k, v] of Object.entries(s.properties)) walk(v, path ? `${path}.${k}` : k);
    if (alts && alts.every((a) => a.properties)) {
      for (const a of alts) {
        const tag = Object.entries(a.properties!).find(([, v]) => v.const !== undefined);
        for (const [k, v] of Object.entries(a.properties!)) if (!tag || k !== tag[0]) walk(v, `${path}.${k}${tag ? ` (${tag[0]} ${JSON.stringify(tag[1].const)})` : ''}`);
      }
    }
  };
  walk(root, '');
  return rows.join('\n');
}
