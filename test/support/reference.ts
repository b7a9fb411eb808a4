// Reference data from public sources (published interface files, mainnet samples), kept beside the
// checkout in ../shared/reference and never in the repository. A missing folder is an error that
// says where the data was looked for, not a silently skipped test.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const REFERENCE_DIR = path.resolve(repoRoot, '../shared/reference');

/** The path of `relative` inside the reference folder; throws naming the folder when it is not there. */
export function referencePath(relative: string): string {
  const file = path.join(REFERENCE_DIR, relative);
  if (!existsSync(file)) {
    throw new Error(
      `reference data is missing: expected ${relative} in ${REFERENCE_DIR} (the shared/reference folder beside the checkout)`,
    );
  }
  return file;
}

export function referenceJson<T>(relative: string): T {
  return JSON.parse(readFileSync(referencePath(relative), 'utf8')) as T;
}
