#pragma once

// The table embed_console.py writes into console_embedded.cc (the build tree); read it through
// findConsoleAsset().

#include <cstddef>

#include "collector/console/console_assets.h"

namespace vigil::collector::embedded {

extern const ConsoleAsset kConsoleAssets[];
extern const size_t kConsoleAssetCount;

}  // namespace vigil::collector::embedded
