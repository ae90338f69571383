import { ChatWidget, configFromScript } from './widget';

declare global {
  interface Window {
    CalmaWidget?: ChatWidget;
    /** set by the dev server's widget.js shim (see vite.config.ts) */
    __calmaWidgetScript?: HTMLScriptElement | null;
  }
}

// document.currentScript is only set while the script first runs: read it now.
const script = (document.currentScript as HTMLScriptElement | null) ?? window.__calmaWidgetScript ?? null;

function start(): void {
  if (window.CalmaWidget) return; // embedded twice
  const w = new ChatWidget(configFromScript(script));
  window.CalmaWidget = w;
  w.mount(document.body);
}

if (document.body) start();
else document.addEventListener('DOMContentLoaded', start);
