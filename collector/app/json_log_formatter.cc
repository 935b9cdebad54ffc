#include "collector/app/json_log_formatter.h"

#include "common/json.h"
#include "common/time_format.h"

namespace vigil::collector {

const char* JsonLogFormatter::levelName(Poco::Message::Priority priority) {
  switch (priority) {
    case Poco::Message::PRIO_FATAL:
      return "fatal";
    case Poco::Message::PRIO_CRITICAL:
      return "critical";
    case Poco::Message::PRIO_ERROR:
      return "error";
    case Poco::Message::PRIO_WARNING:
      return "warning";
    case Poco::Message::PRIO_NOTICE:
      return "notice";
    case Poco::Message::PRIO_INFORMATION:
      return "information";
    case Poco::Message::PRIO_DEBUG:
      return "debug";
    case Poco::Message::PRIO_TRACE:
      return "trace";
  }
  return "information";
}

void JsonLogFormatter::format(const Poco::Message& msg, std::string& text) {
  json::JsonPtr line(cJSON_CreateObject());
  cJSON_AddStringToObject(line.get(), "time",
                          formatRfc3339Utc(msg.getTime().epochMicroseconds() / 1000).c_str());
  cJSON_AddStringToObject(line.get(), "level", levelName(msg.getPriority()));
  cJSON_AddStringToObject(line.get(), "logger", msg.getSource().c_str());
  cJSON_AddStringToObject(line.get(), "message", msg.getText().c_str());
  json::addInteger(line.get(), "pid", msg.getPid());
  json::addInteger(line.get(), "thread", msg.getTid());
  text = json::print(line.get());
}

}  // namespace vigil::collector
