#pragma once

// The assertions that came with the cluster scenarios (docs/scenarios.md, "Cluster
// scenarios"), part of judge(): every webhook event delivered once (but for the delivery a
// collector's SIGKILL, SIGSTOP or cut from the database caught in flight), no acknowledged
// admin write lost on any collector, each
// collector's memory within the bound, and the cluster settled after each fault.

#include "tools/fleetsim/report.h"

namespace vigil::fleetsim {

// Every run: a webhook-id the receiver got more than once is a double delivery, unless the
// copy before it was begun within an attempt's length before an interruption of a collector
// (RunObservations::collector_interruptions: SIGKILL, SIGSTOP, cut from the database) and the
// copy after it; each interruption excuses at most what the collector could have had in
// flight to the receiver.
void judgeWebhookCopies(const RunObservations& run, Verdict& v);

// A cluster's own: admin writes, each collector's memory, settling.
void judgeCluster(const RunObservations& run, Verdict& v);

}  // namespace vigil::fleetsim
