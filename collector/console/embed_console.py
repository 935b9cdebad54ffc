#!/usr/bin/env python3
"""Embeds the admin console's files (collector/console/web/) in the collector.

Usage: embed_console.py --web DIR --cc-out FILE

Writes a C++ source defining vigil::collector::embedded::kConsoleAssets (console_embedded.h):
each file's path below DIR, media type, bytes and strong entity tag. Fails (exit 1, naming the
file) if a file's extension has no media type here, a name has characters outside
[A-Za-z0-9._/-], or there is no index.html.
"""
import argparse
import hashlib
import os
import re
import sys

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}
NAME = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def assets(web):
    for folder, dirs, files in os.walk(web):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, web).replace(os.sep, "/")
            yield rel, full


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--web", required=True)
    parser.add_argument("--cc-out", required=True)
    args = parser.parse_args()
    entries = []
    arrays = []
    for i, (rel, full) in enumerate(assets(args.web)):
        if not NAME.match(rel) or ".." in rel.split("/"):
            sys.exit(f"embed_console.py: {full}: the name may hold only [A-Za-z0-9._/-]")
        media = MEDIA_TYPES.get(os.path.splitext(rel)[1].lower())
        if media is None:
            sys.exit(f"embed_console.py: {full}: no media type for this extension "
                     f"(known: {' '.join(sorted(MEDIA_TYPES))})")
        data = open(full, "rb").read()
        etag = '\\"' + hashlib.sha256(data).hexdigest()[:32] + '\\"'
        # Signed values: a char array initialised from constants, no cast needed.
        body = ",".join(str(b - 256 if b > 127 else b) for b in data) or "0"
        arrays.append(f"const char kAsset{i}[] = {{{body}}};\n")
        entries.append(f'    {{"{rel}", "{media}", std::string_view(kAsset{i}, {len(data)}), '
                       f'"{etag}"}},\n')
    if not any(e.startswith('    {"index.html"') for e in entries):
        sys.exit(f"embed_console.py: {args.web} has no index.html")
    text = ("// Written by collector/console/embed_console.py from collector/console/web/; "
            "do not edit.\n"
            '#include "console_embedded.h"\n\n'
            "namespace vigil::collector::embedded {\nnamespace {\n\n"
            + "".join(arrays) +
            "\n}  // namespace\n\nconst ConsoleAsset kConsoleAssets[] = {\n"
            + "".join(entries) +
            "};\nconst size_t kConsoleAssetCount = " + str(len(entries)) + ";\n\n"
            "}  // namespace vigil::collector::embedded\n")
    tmp = args.cc_out + ".tmp"
    with open(tmp, "w") as out:
        out.write(text)
    os.replace(tmp, args.cc_out)


if __name__ == "__main__":
    main()
