// The admin listener's pages: /healthz, /readyz, /functions, /upstreams, and POST /purge. Served by
// one worker on the admin socket with the same HTTP codec as public traffic.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/app.h"
#include "runtime/http_writer.h"
#include "runtime/io.h"
#include "runtime/offload_pool.h"

namespace edgefn::runtime {

class RedisClient;
class Resolver;
class SharedState;

// Appends the response to an admin request for `path` (raw, query ignored) to `out`; `app` is
// the one the worker serves new requests with.
void respond_admin(std::string_view method, std::string_view path, const SharedState& shared,
                   const App& app, std::string& out, const http::ResponseFraming& framing);

// POST /purge?path=P | prefix=P | tag=T [&host=H] | all=1, any number of path, prefix and tag
// parameters at once (values percent-decoded): makes the matching stored responses unusable on
// every worker and in L2 at once (cache/purge.h), and deletes them from Redis in the background
// through `redis` when there is a Redis layer (null: none). Appends the response to `out`: 200
// {"purged":N,"sequence":S} (N: the rules added), or a JSON error (400, 405).
void respond_purge(std::string_view method, std::string_view query, SharedState& shared,
                   RedisClient* redis, std::string& out, const http::ResponseFraming& framing);

// The /functions document: {"io":"io_uring"|"epoll","functions":[{"name","module","host",
// "max_body_bytes","routes":[...],"upstreams":[...]}...]}; `io` is the workers' backend.
std::string functions_json(const App& app, IoBackend io);

// The /upstreams document: {"upstreams":[{"name","url","state" ("closed", "open", "half_open"),
// "consecutive_failures","times_opened","open_for_ms" (unless closed),"connections_open",
// "calls","responses","failures","timeouts","retries","rejected","connects","resolution"
// ("resolved", "pending", "failed"),"resolution_error" (when there is one),"addresses":[...]}]}.
// Counters are node-wide, since the start or the last reload. `resolver` null: names unknown.
std::string upstreams_json(const App& app, Resolver* resolver);

// The /metrics document, Prometheus text format 0.0.4: every worker's counters summed (read with
// relaxed loads while the workers go on), and the node-wide ones. Series are described in the
// README's Observability section.
std::string metrics_text(const SharedState& shared, const App& app);

// GET /metrics, formatted on the admin pool's thread (SharedState::admin_pool) so that a scrape,
// however many series it has, never holds up a worker's loop: the worker only parses the request
// and sends the finished document.
class MetricsScrape final : public OffloadJob {
 public:
  MetricsScrape(unsigned owner, std::uint32_t slot, const SharedState& shared,
                std::shared_ptr<const App> app)
      : OffloadJob(owner, slot), shared_(shared), app_(std::move(app)) {}

  void run() override { text_ = metrics_text(shared_, *app_); }

  // After run(), on the owner's thread: appends the response to `out`.
  void respond(std::string& out, const http::ResponseFraming& framing) const;

 private:
  const SharedState& shared_;
  std::shared_ptr<const App> app_;
  std::string text_;
};

}  // namespace edgefn::runtime
