// Builds every AssemblyScript target of asconfig.json into build/ (run by `npm ci` via `prepare`).
import asc from 'assemblyscript/asc';
import { readFileSync } from 'node:fs';

const config = JSON.parse(readFileSync(new URL('../asconfig.json', import.meta.url), 'utf8'));
const only = process.argv.slice(2);
const targets = Object.keys(config.targets).filter((t) => only.length === 0 || only.includes(t));
for (const target of targets) {
  const { error, stderr } = await asc.main(['--config', 'asconfig.json', '--target', target], {});
  if (error) {
    console.error(`AssemblyScript build of target "${target}" failed:\n${stderr.toString()}`);
    process.exit(1);
  }
  console.log(`built ${config.targets[target].outFile}`);
}
