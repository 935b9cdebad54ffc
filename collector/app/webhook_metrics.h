#pragma once

#include "collector/http/metrics.h"
#include "collector/notify/webhook_dispatcher.h"

namespace vigil::collector {

// vigil_webhook_deliveries_total{outcome}, vigil_webhook_given_up_total,
// vigil_webhook_outbox_pending, vigil_webhook_outbox_oldest_pending_age_seconds.
// `dispatcher` must outlive the source.
MetricsSource webhookMetrics(WebhookDispatcher& dispatcher);

}  // namespace vigil::collector
