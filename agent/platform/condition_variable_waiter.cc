// makeWaiter() for the operating systems whose std::condition_variable serves as it is.
#include "agent/platform/platform.h"

namespace vigil::agent {

std::unique_ptr<Waiter> makeWaiter() { return std::make_unique<ConditionVariableWaiter>(); }

}  // namespace vigil::agent
