#pragma once

// HAProxy's configuration for a lab cluster, made from the shipped one
// (packaging/haproxy/vigil-cluster.cfg) as scripts/cluster-demo.sh makes its own: everything
// kept but the global log, user, group, chroot, stats socket and maxconn lines, the `bind`
// lines on loopback, and the `server` lines naming the lab's collectors.

#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::fleetsim {

struct HaproxyLabSettings {
  std::string template_path;  // for the generated file's header
  int port = 0;               // agents and the admin API: 127.0.0.1:port
  int stats_port = 0;         // HAProxy's statistics page: 127.0.0.1:stats_port
  // Server lines: collector-1 ... in order, each "address:port".
  std::vector<std::string> servers;
  int maxconn = 1000;
  // HAProxy logs to its standard output up to this level. The shipped configuration logs every
  // request (option httplog, level info); a fleet's thousands a second would be the lab's
  // heaviest writer, so the lab keeps `notice`: server state changes (UP, DOWN).
  std::string log_level = "notice";
};

// The configuration, or kInvalidArgument when the template no longer has exactly one global
// log line, one bind line in frontend fe_vigil and in listen stats, and server lines in
// backend be_collectors (the shipped file changed: the lab must follow it).
Result<std::string> haproxyLabConfig(const std::string& template_text,
                                     const HaproxyLabSettings& settings);

}  // namespace vigil::fleetsim
