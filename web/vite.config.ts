import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * One SPA, two route trees (/console/ and /portal/), served by Custodian itself from dist/web.
 * Assets live under /console/assets/ for both trees (the portal's index.html points there too),
 * so one build serves both and no inline script is emitted (the CSP allows only 'self' scripts).
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
});
