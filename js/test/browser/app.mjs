// Packs the package (npm pack), installs the tarball into the Vite test app, and builds the app with Vite's
// defaults: the packaging test. Returns the directory of the built app.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const packageDir = join(here, '..', '..');
export const appDir = join(here, '..', 'vite-app');
/** The React app (`eventlite/react`), built the same way. */
export const reactAppDir = join(here, '..', 'react-app');

/** Installs the packed package into an app's node_modules, exactly as npm would unpack it. */
export function installPackedPackage(app = appDir) {
  const scratch = mkdtempSync(join(tmpdir(), 'eventlite-pack-'));
  execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: packageDir, stdio: 'pipe' });
  const tarball = readdirSync(scratch).find((name) => name.endsWith('.tgz'));
  const target = join(app, 'node_modules', 'eventlite');
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  execFileSync('tar', ['-xzf', join(scratch, tarball), '-C', target, '--strip-components=1']);
  rmSync(scratch, { recursive: true, force: true });
  return target;
}

/** Builds an app with Vite (no config file); returns the output directory. */
export async function buildApp(app = appDir) {
  installPackedPackage(app);
  const { build } = await import('vite');
  const outDir = join(app, 'dist');
  await build({ root: app, configFile: false, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}
