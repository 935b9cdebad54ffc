#include "collector/app/webhook_metrics.h"

namespace vigil::collector {

MetricsSource webhookMetrics(WebhookDispatcher& dispatcher) {
  return [&dispatcher](MetricsWriter& out) {
    const WebhookDeliveryStats s = dispatcher.stats();
    out.family("vigil_webhook_deliveries_total", MetricType::kCounter,
               "Webhook delivery attempts, by outcome.");
    out.sample(static_cast<double>(s.delivered), {{"outcome", "delivered"}});
    out.sample(static_cast<double>(s.failed_attempts), {{"outcome", "failed"}});
    out.family("vigil_webhook_given_up_total", MetricType::kCounter,
               "Webhook outbox entries given up after webhooks.giveUpAfterSeconds.");
    out.sample(static_cast<double>(s.given_up));
    out.family("vigil_webhook_enqueue_failures_total", MetricType::kCounter,
               "Webhook events left out of the outbox because their row could not be written; "
               "the presence write they belonged to was committed without them.");
    out.sample(static_cast<double>(s.enqueue_failures));
    // The outbox gauges are read from the database: while it does not answer they are left
    // out (no sample), never reported as an empty outbox.
    if (s.pending < 0) return;
    out.family("vigil_webhook_outbox_pending", MetricType::kGauge,
               "Webhook outbox entries waiting for delivery.");
    out.sample(static_cast<double>(s.pending));
    out.family("vigil_webhook_outbox_oldest_pending_age_seconds", MetricType::kGauge,
               "Age of the oldest webhook outbox entry waiting for delivery.");
    out.sample(s.oldest_pending_age_s);
  };
}

}  // namespace vigil::collector
