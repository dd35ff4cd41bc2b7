#!/usr/bin/env python3
"""build.py: writes the dashboard as the workers serve it from a build or a package.

    python3 ui/build.py --src ui --out BUILD/ui [--node-modules ui/node_modules]

From the source files of ui/ (index.html, *.js, *.css) and the vendored libraries in
node_modules (installed by `npm ci` from ui/package-lock.json: uPlot, Leaflet), it writes
into --out:

  index.html            the page, its stylesheet and entry module under fingerprinted names,
                        an import map from each module's plain name to its fingerprinted
                        name (modules import each other by plain name, so a module's name
                        changes only when its own bytes do), modulepreload links for the
                        modules of the first view, and <script id="assets"> naming the
                        vendored files (lib.js loads them on first use)
  NAME.<hash>.EXT       every other file, named after the SHA-256 of its bytes; the workers
                        give such names "Cache-Control: public, max-age=31536000, immutable"
  vendor/...            the libraries' built files, fingerprinted the same way
  *.gz                  a gzip -9 copy beside each text file where it is smaller (the
                        workers send it to clients that accept gzip)

Files named by neither this page nor the previous one are removed (a running server keeps
the index.html it read at its start, so the previous page's files stay until the next build).
Without node_modules the page is still written, without the libraries: the map and the
analytics charts then say that they are missing. Exit status 0, or 1 with a message.
"""

import argparse
import gzip
import hashlib
import json
import os
import re
import sys

# vendored files: asset name -> path under node_modules
VENDOR = {
    "uplot.js": "uplot/dist/uPlot.iife.min.js",
    "uplot.css": "uplot/dist/uPlot.min.css",
    "leaflet.js": "leaflet/dist/leaflet.js",
    "leaflet.css": "leaflet/dist/leaflet.css",
}
# modules the overview needs at once (preloaded); the others load on demand
FIRST_VIEW = ["app.js", "lib.js", "overview.js", "packets.js", "nodes.js"]
TEXT = (".js", ".css", ".html", ".json", ".svg")


def fingerprint(data):
    """A hex digest slice with at least one digit and one letter (what the workers take
    for a fingerprint)."""
    digest = hashlib.sha256(data).hexdigest()
    for i in range(0, len(digest) - 10):
        part = digest[i:i + 10]
        if re.search("[0-9]", part) and re.search("[a-f]", part):
            return part
    return digest[:10] + "a1"


def write(out, rel, data):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if rel.endswith(TEXT) and len(data) >= 256 and rel != "index.html":  # the workers compress the page
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        if len(gz) < len(data):
            with open(path + ".gz", "wb") as f:
                f.write(gz)


def emit(out, rel, data):
    """Writes data under a fingerprinted name derived from rel; returns that name."""
    stem, ext = os.path.splitext(rel)
    name = "%s.%s%s" % (stem, fingerprint(data), ext)
    write(out, name, data)
    return name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--node-modules")
    a = ap.parse_args()
    src, out = a.src, a.out
    nm = a.node_modules or os.path.join(src, "node_modules")
    index_path = os.path.join(src, "index.html")
    if not os.path.isfile(index_path):
        sys.stderr.write("build.py: %s is missing\n" % index_path)
        return 1
    previous = referenced(out)
    os.makedirs(out, exist_ok=True)

    modules = {}
    for name in sorted(os.listdir(src)):
        if name.endswith(".js"):
            with open(os.path.join(src, name), "rb") as f:
                modules[name] = emit(out, name, f.read())
    with open(os.path.join(src, "app.css"), "rb") as f:
        css = emit(out, "app.css", f.read())

    assets = {}
    missing = []
    for name, rel in VENDOR.items():
        p = os.path.join(nm, rel)
        if not os.path.isfile(p):
            missing.append(rel)
            continue
        with open(p, "rb") as f:
            assets[name] = emit(out, "vendor/" + os.path.basename(rel), f.read())
    if missing:
        sys.stderr.write("build.py: warning: not in %s (run `npm ci` in ui/): %s; the map and the "
                         "analytics charts will say so\n" % (nm, ", ".join(missing)))

    with open(index_path, encoding="utf-8") as f:
        html = f.read()
    for plain, real, attr in (("app.css", css, "href"), ("app.js", modules["app.js"], "src")):
        needle = '%s="%s"' % (attr, plain)
        if needle not in html:
            sys.stderr.write("build.py: index.html has no %s\n" % needle)
            return 1
        html = html.replace(needle, '%s="%s"' % (attr, real))
    imports = {"./" + k: "./" + v for k, v in sorted(modules.items())}
    head = ['<script type="importmap">%s</script>' % json.dumps({"imports": imports}, separators=(",", ":"))]
    head += ['<link rel="modulepreload" href="%s">' % modules[m] for m in FIRST_VIEW if m in modules and m != "app.js"]
    head.append('<script id="assets" type="application/json">%s</script>' % json.dumps(assets, separators=(",", ":")))
    if "<!--assets-->" not in html:
        sys.stderr.write("build.py: index.html has no <!--assets--> marker\n")
        return 1
    html = html.replace("<!--assets-->", "\n".join(head))
    write(out, "index.html", html.encode("utf-8"))
    prune(out, referenced(out) | previous)
    return 0


def referenced(out):
    """The files a page in out names (index.html's fingerprinted names), or an empty set."""
    try:
        with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
            html = f.read()
    except OSError:
        return set()
    names = set(re.findall(r'"(?:\./)?([\w./-]+\.[0-9a-f]{10,12}\.(?:js|css))"', html))
    return names | {n + ".gz" for n in names} | {"index.html"}


def prune(out, keep):
    """Removes what neither this page nor the one before it names: a worker that read the
    previous index.html at its start still finds that page's files until it is restarted."""
    for d, _, files in os.walk(out, topdown=False):
        for name in files:
            rel = os.path.relpath(os.path.join(d, name), out)
            if rel not in keep:
                os.unlink(os.path.join(d, name))
        if d != out and not os.listdir(d):
            os.rmdir(d)


if __name__ == "__main__":
    sys.exit(main())
