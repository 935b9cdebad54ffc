#pragma once

// vigil-collector as a Poco ServerApplication: options in defineOptions, configuration and
// logging in initialize, the composition root in main (open the store, provision, start the
// write-behind, the HTTP listener and the UDP beacon listener, wait for termination, stop,
// flush, close).
//
// Exit codes: 0 after a requested stop; 78 (EXIT_CONFIG) for a bad option or configuration
// value; 74 (EXIT_IOERR) when the data directory or store cannot be opened or provisioned;
// 69 (EXIT_UNAVAILABLE) when the HTTP or the UDP beacon listener cannot bind; 73 (EXIT_CANTCREAT)
// when the port file cannot be written.

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <optional>
#include <string>
#include <vector>

#include "collector/app/admin_cli.h"
#include "collector/app/collector_config.h"

namespace vigil::collector {

class CollectorApp final : public Poco::Util::ServerApplication {
 public:
  CollectorApp();

 protected:
  void defineOptions(Poco::Util::OptionSet& options) override;
  void initialize(Poco::Util::Application& self) override;
  int main(const std::vector<std::string>& args) override;

 private:
  void handleHelp(const std::string& name, const std::string& value);
  void handleConfigFile(const std::string& name, const std::string& value);
  void handleDefine(const std::string& name, const std::string& value);
  void handleKeyOption(const std::string& name, const std::string& value);
  void handleAdminOption(const std::string& name, const std::string& value);

  void setUpLogging(const std::string& level, const std::string& format);
  int serve(const CollectorConfig& config);

  bool help_requested_ = false;
  std::string config_file_;
  // Command-line values (--data-dir, -D key=value, ...): the highest-priority layer.
  Poco::AutoPtr<Poco::Util::MapConfiguration> command_line_;
  std::vector<std::string> unknown_defines_;
  AdminCliOptions admin_options_;  // options of the administration commands (admin_cli.h)
  std::optional<CollectorConfig> config_;
  std::string config_error_;
};

}  // namespace vigil::collector
