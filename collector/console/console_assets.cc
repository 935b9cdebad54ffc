#include "collector/console/console_assets.h"

#include "console_embedded.h"

namespace vigil::collector {

const HeaderField kConsoleSecurityHeaders[] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
     "form-action 'none'; frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
};
const size_t kConsoleSecurityHeaderCount =
    sizeof(kConsoleSecurityHeaders) / sizeof(kConsoleSecurityHeaders[0]);

const ConsoleAsset* findConsoleAsset(std::string_view path) {
  if (path.empty()) path = "index.html";
  for (size_t i = 0; i < embedded::kConsoleAssetCount; ++i) {
    if (embedded::kConsoleAssets[i].path == path) return &embedded::kConsoleAssets[i];
  }
  return nullptr;
}

}  // namespace vigil::collector
