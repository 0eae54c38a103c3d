// The demo is built into www/dist, which `eventlite serve --static-dir www/dist` serves next to the sync API.
import { defineConfig } from 'vite';

export default defineConfig({
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
