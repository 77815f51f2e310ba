import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Go server the dev server proxies to; `DISTCHAT_BACKEND=http://127.0.0.1:9090 npm run dev`
// points it elsewhere.
const backend = process.env.DISTCHAT_BACKEND ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: 'web',
  // Keep Vite's and Vitest's caches in the repo's node_modules, not in web/node_modules.
  cacheDir: '../node_modules/.vite',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      '/api': { target: backend },
      // No changeOrigin: the server's same-origin check compares Origin with Host, so the
      // browser's Host (localhost:5173) must reach it unchanged.
      '/ws': { target: backend, ws: true },
    },
  },
});
