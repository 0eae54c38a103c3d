// The demo is built into www/dist, which `eventlite serve --static-dir www/dist` serves next to the sync API.
import { defineConfig } from 'vite';

export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  // `eventlite` is linked (`file:../js`), so its worker and wasm live outside this app: let `vite dev` serve them.
  // Not needed for `vite build`, nor for a package installed from the registry or a tarball.
  server: { fs: { allow: ['.', '../js'] } },
});
