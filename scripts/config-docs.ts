// Rewrite the README's config reference from the schema: npm run docs
import { readFileSync, writeFileSync } from 'node:fs';
import { configReference } from '../src/io/config-docs.js';

const file = new URL('../README.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const start = '<!-- config:start -->',
  end = '<!-- config:end -->';
const a = text.indexOf(start),
  b = text.indexOf(end);
if (a < 0 || b < a) throw new Error('README.md has no <!-- config:start --> ... <!-- config:end --> block');
writeFileSync(file, `${text.slice(0, a + start.length)}\n${configReference()}\n${text.slice(b)}`);
console.log('README.md config reference updated');
