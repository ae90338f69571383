import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The embeddable widget: ONE self-contained classic script (IIFE) at dist/widget.js,
// CSS inlined into the JS (it lives in the widget's Shadow DOM).
export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2019',
    cssCodeSplit: false,
    lib: {
      entry: resolve(__dirname, 'src/widget/main.ts'),
      name: 'CalmaWidgetBundle',
      formats: ['iife'],
      fileName: () => 'widget.js',
    },
    rollupOptions: { output: { inlineDynamicImports: true } },
  },
});
