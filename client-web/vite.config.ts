import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

// Pages: the demo stores (index.html, served at /; pl/index.html, served at /pl/) and the
// console (console.html, served at /console). Assets go to dist/assets/ with absolute /assets/... URLs,
// because /console has no trailing slash and the server maps paths to files in dist.
// The widget is a separate IIFE build (vite.widget.config.ts).
// In `npm run dev` there is no built widget.js: serve a classic-script shim that loads
// the widget's module source, passing on its <script> tag (for data-store/data-lang).
const devWidget: Plugin = {
  name: 'calma-dev-widget',
  apply: 'serve',
  configureServer(server) {
    server.middlewares.use('/widget.js', (_req, res) => {
      res.setHeader('Content-Type', 'text/javascript');
      res.end("window.__calmaWidgetScript = document.currentScript; import('/src/widget/main.ts');");
    });
  },
};

export default defineConfig({
  base: '/',
  plugins: [devWidget],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsDir: 'assets',
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: {
        index: resolve(__dirname, 'index.html'),
        // The Polish demo store, served at /pl/ (dist/pl/index.html).
        'pl/index': resolve(__dirname, 'pl/index.html'),
        console: resolve(__dirname, 'console.html'),
      },
    },
  },
  server: {
    // `npm run dev` against a locally running calma-server on :8080.
    proxy: {
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
      '/api': 'http://127.0.0.1:8080',
    },
  },
});
