#include <unistd.h>

#include "agent/transport/system_ca_bundle.h"

namespace vigil::agent {

std::string systemCaBundle() {
  static const char* const kBundles[] = {
      "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Alpine
      "/etc/pki/tls/certs/ca-bundle.crt",                   // RHEL, Alma, Rocky, Fedora
      "/etc/ssl/ca-bundle.pem",                             // SUSE
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL's source of the above
  };
  for (const char* bundle : kBundles) {
    if (access(bundle, R_OK) == 0) return bundle;
  }
  return {};
}

}  // namespace vigil::agent
