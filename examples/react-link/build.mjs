// Bundles src/main.jsx (React + Rollout's @rollout/link-react) into dist/app.js and dist/app.css.
// Run with `npm run build`. The example server serves dist/ at /react-link/.
// dist/ is never committed: @rollout/link-react is GPL-3.0, so the bundle stays on your machine.
import { build } from "esbuild";

await build({
  entryPoints: { app: "src/main.jsx" },
  bundle: true,
  format: "esm",
  outdir: "dist",
  minify: true,
  sourcemap: false,
  jsx: "automatic",
  target: ["es2020"],
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "info",
});
