// Copies the site's third-party browser code and font from npm packages (pinned in package.json
// and package-lock.json) into frontend-dist/vendor/, where the site loads them as they are:
//   markdown-it (browser ES module build, as .js: some static hosts serve .mjs with a MIME type
//   browsers refuse for modules), markdown-it-cjk-friendly and its one dependency
//   get-east-asian-width (its bare import rewritten to a relative path, since the site has no
//   bundler), and the EB Garamond webfont (headings).
// Run `npm run vendor --prefix tests/e2e` after changing a version; unit.test.mjs fails while
// a vendored file differs from what this script would write.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const HERE = new URL(".", import.meta.url).pathname;
export const ROOT = new URL("../..", import.meta.url).pathname;

/** The directory of an installed package, found the way Node finds it from `fromDir`. */
function packageDir(name, fromDir = HERE) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed: run npm ci --prefix tests/e2e`);
  }
}

function cjkPluginDir() {
  return packageDir("markdown-it-cjk-friendly");
}

function eastAsianWidthDir() {
  // Resolved from the plugin, wherever npm placed its dependency.
  return packageDir("get-east-asian-width", cjkPluginDir());
}

export function vendoredFiles() {
  const files = [
    { from: [packageDir("markdown-it"), "dist/browser/markdown-it.esm.min.mjs"], to: "markdown-it/markdown-it.min.js" },
    { from: [packageDir("markdown-it"), "LICENSE"], to: "markdown-it/LICENSE" },
    {
      from: [cjkPluginDir(), "dist/index.js"],
      to: "markdown-it-cjk-friendly/index.js",
      transform: (text) => text.replace('from "get-east-asian-width";', 'from "../get-east-asian-width/index.js";'),
    },
    { from: [cjkPluginDir(), "LICENSE"], to: "markdown-it-cjk-friendly/LICENSE" },
    ...["index.js", "lookup.js", "lookup-data.js", "utilities.js", "license"].map((file) => ({
      from: [eastAsianWidthDir(), file], to: `get-east-asian-width/${file}`,
    })),
    ...["500-normal", "600-normal", "500-italic"].map((style) => ({
      from: [packageDir("@fontsource/eb-garamond"), `files/eb-garamond-latin-${style}.woff2`],
      to: `eb-garamond/eb-garamond-latin-${style}.woff2`,
    })),
    { from: [packageDir("@fontsource/eb-garamond"), "LICENSE"], to: "eb-garamond/LICENSE" },
  ];
  return files.map(({ from, to, transform }) => {
    const source = join(...from);
    const raw = readFileSync(source);
    const content = transform ? Buffer.from(transform(raw.toString("utf8"))) : raw;
    return { source, target: join(ROOT, "frontend-dist/vendor", to), content };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const { source, target, content } of vendoredFiles()) {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    console.log(`${target.slice(ROOT.length)} <- ${source.slice(source.indexOf("node_modules"))}`);
  }
}
