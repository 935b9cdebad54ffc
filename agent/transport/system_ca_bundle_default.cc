#include "agent/transport/system_ca_bundle.h"

namespace vigil::agent {

std::string systemCaBundle() { return {}; }

}  // namespace vigil::agent
