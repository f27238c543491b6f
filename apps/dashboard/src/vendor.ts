import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * Browser files of the front end's npm dependencies, served by the console itself under
 * `/vendor/<name>/` (no CDN: consoles often run where browsers reach nothing outside). Resolved
 * from this package's node_modules, so they are there in a `pnpm deploy --prod` folder and the
 * Docker image as well.
 */
export function vendorDirs(): Array<{ prefix: string; dir: string }> {
  return [{ prefix: '/vendor/uplot/', dir: dirname(require.resolve('uplot/dist/uPlot.esm.js')) }];
}
