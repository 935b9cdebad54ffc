#pragma once

// One JSON object per log line (logging.format = json), for journald, Loki, Elastic and the
// like: {"time": RFC 3339 UTC with milliseconds, "level": "warning", "logger":
// "vigil.collector.http", "message": "...", "pid": n, "thread": n}. The message is escaped as
// a JSON string, so a value an attacker controls (a path, an agent id) cannot forge a line
// or a field.

#include <Poco/Formatter.h>
#include <Poco/Message.h>

#include <string>

namespace vigil::collector {

class JsonLogFormatter final : public Poco::Formatter {
 public:
  void format(const Poco::Message& msg, std::string& text) override;

  // "fatal", "critical", "error", "warning", "notice", "information", "debug", "trace".
  static const char* levelName(Poco::Message::Priority priority);
};

}  // namespace vigil::collector
