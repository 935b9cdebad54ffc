#pragma once

// The admin console (docs/console.md): the files of collector/console/web/ as they were at
// build time, served by the collector under /console/. Each carries its media type and a
// strong entity tag made from its bytes, so a browser revalidates it in one small request.
//
// Thread safety: the assets are immutable; safe to read from any thread.

#include <string_view>

namespace vigil::collector {

struct ConsoleAsset {
  std::string_view path;          // relative to web/, with '/' separators: "index.html"
  std::string_view content_type;  // from the extension
  std::string_view body;
  std::string_view etag;  // quoted: "\"0123...\"" (the first 128 bits of SHA-256, hex)
};

// The asset at `path` below /console/ ("" is index.html); nullptr if there is none. Only the
// embedded names match: no file system is read, so no path can leave the console's files.
const ConsoleAsset* findConsoleAsset(std::string_view path);

// The security headers of every console answer, as (name, value): a Content-Security-Policy
// that allows the console's own files only (no inline script or style, no framing), and the
// headers that stop content sniffing, framing and referrers.
struct HeaderField {
  std::string_view name;
  std::string_view value;
};
extern const HeaderField kConsoleSecurityHeaders[];
extern const size_t kConsoleSecurityHeaderCount;

}  // namespace vigil::collector
