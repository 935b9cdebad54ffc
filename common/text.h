#pragma once

// Small text parsing shared by the agent and the collector.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

// `text` without leading and trailing blanks (space, tab, CR, LF, form feed, vertical tab).
std::string_view trimBlanks(std::string_view text);

// `text` with every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~) written as %XX:
// a URL path segment, or a value of an application/x-www-form-urlencoded body.
std::string percentEncode(std::string_view text);

// `text` with &, < and > (and " if `quotes`) written as entities: HTML's escaping (text and,
// with `quotes`, attribute values), and Slack mrkdwn's, which treats <, > and & as control
// characters.
std::string escapeMarkup(std::string_view text, bool quotes);

// A database id as people and URLs write it: 1 to 18 decimal digits, no sign, no blanks,
// greater than zero. nullopt otherwise.
std::optional<int64_t> parsePositiveId(std::string_view text);

}  // namespace vigil
