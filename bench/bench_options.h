#pragma once

// The command line of a bench program: "--name value" options, read in order. A missing value
// or an option the program does not know ends the program with its usage and exit status 2
// (the bench programs' "could not run").

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

namespace vigil::bench {

class BenchOptions {
 public:
  // `usage` is the synopsis after the program's name, e.g. "--port P [--threads N]".
  BenchOptions(int argc, char** argv, std::string program, std::string usage)
      : argc_(argc), argv_(argv), program_(std::move(program)), usage_(std::move(usage)) {}

  // Moves to the next option; false after the last.
  bool next() {
    if (at_ + 1 >= argc_) return false;
    name_ = argv_[++at_];
    return true;
  }
  bool is(const char* name) const { return name_ == name; }

  // The current option's value, as text or as a number.
  std::string text() {
    if (at_ + 1 >= argc_) fail("missing value of " + name_);
    return argv_[++at_];
  }
  long long integer() { return std::strtoll(text().c_str(), nullptr, 10); }

  [[noreturn]] void unknown() const { fail("unknown argument " + name_); }
  [[noreturn]] void fail(const std::string& why) const {
    std::fprintf(stderr, "%s: %s\nusage: %s %s\n", program_.c_str(), why.c_str(), program_.c_str(),
                 usage_.c_str());
    std::exit(2);
  }

 private:
  int argc_;
  char** argv_;
  std::string program_;
  std::string usage_;
  int at_ = 0;
  std::string name_;
};

}  // namespace vigil::bench
