// Background refreshes: copy the request, run the function, store its answer, land the flight.
#include "runtime/refresh.h"

#include "runtime/request_driver.h"
#include "runtime/response_store.h"
#include "runtime/worker.h"

namespace edgefn::runtime {

namespace {

// Appends `text` to `bytes` and returns where it will be once `bytes` stops growing.
struct Span {
  std::size_t offset;
  std::size_t size;
};

Span keep(std::string& bytes, std::string_view text) {
  const Span span{bytes.size(), text.size()};
  bytes.append(text);
  return span;
}

std::string_view view(const std::string& bytes, Span span) {
  return std::string_view(bytes).substr(span.offset, span.size);
}

}  // namespace

void Refresh::start(Worker& worker, std::shared_ptr<const App> app, std::uint32_t function,
                    const api::Request& request, const cache::CacheKey& key,
                    const StoreStamp& stamp) {
  std::unique_ptr<Refresh> refresh(
      new Refresh(worker, std::move(app), function, request, key, stamp));
  // Run from the worker's loop, not here: the caller is answering from a stored entry that the
  // refresh's store would replace (and free) if a function that never suspends ran now.
  worker.adopt(std::move(refresh));
}

Refresh::Refresh(Worker& worker, std::shared_ptr<const App> app, std::uint32_t function,
                 const api::Request& request, const cache::CacheKey& key, const StoreStamp& stamp)
    : worker_(worker),
      app_(std::move(app)),
      function_(app_->functions()[function]),
      key_bytes_(key.bytes()),
      key_(cache::CacheKey::with_hash(key_bytes_, key.hash())),
      stamp_(stamp),
      kv_(worker, RequestKv::kNoRedis, kv_serial_, &arena_),
      fetch_(worker.fetch()),
      logger_(worker.log(), function_.name) {
  // One buffer for every string, sized first so that views into it stay valid.
  std::size_t total = request.target.size() + request.path.size() + request.query.size() +
                      request.host.size() + request.client_ip.size();
  for (const api::Header& header : request.headers)
    total += header.name.size() + header.value.size();
  for (const api::Param& param : request.params)
    total += param.name.size() + param.value.size();
  bytes_.reserve(total);
  const Span target = keep(bytes_, request.target);
  const Span path = keep(bytes_, request.path);
  const Span query = keep(bytes_, request.query);
  const Span host = keep(bytes_, request.host);
  const Span client = keep(bytes_, request.client_ip);
  std::vector<std::pair<Span, Span>> headers;
  for (const api::Header& header : request.headers)
    headers.emplace_back(keep(bytes_, header.name), keep(bytes_, header.value));
  std::vector<std::pair<Span, Span>> params;
  for (const api::Param& param : request.params)
    params.emplace_back(keep(bytes_, param.name), keep(bytes_, param.value));
  for (const auto& [name, value] : headers)
    headers_.push_back({view(bytes_, name), view(bytes_, value)});
  for (const auto& [name, value] : params)
    params_.push_back({view(bytes_, name), view(bytes_, value)});
  request_ = api::Request{
      .method = "GET",
      .target = view(bytes_, target),
      .path = view(bytes_, path),
      .query = view(bytes_, query),
      .host = view(bytes_, host),
      .client_ip = view(bytes_, client),
      .traceparent = {},  // a refresh is no client's request: its calls start no trace
      .http_minor = request.http_minor,
      .headers = api::HeaderList(headers_),
      .params = api::ParamList(params_),
      .body = {},
  };
}

Refresh::~Refresh() {
  if (driver_) driver_.destroy();
  worker_.alarms().cancel(timeout_);
  finish();
}

void Refresh::run() {
  started_ = true;
  auto deadline = api::Context::Clock::time_point::max();
  if (function_.timeout.count() != 0) {
    deadline = std::chrono::steady_clock::now() + function_.timeout;
    timeout_.deadline = deadline;
    worker_.alarms().schedule(timeout_);
  }
  fetch_.bind(app_, function_);
  context_.emplace(function_.config, logger_, &arena_, deadline, worker_.alarms(), &kv_, &fetch_);
  running_ = true;
  const RequestDriver driver = drive(this, function_.module.get(), &*context_);
  if (running_) driver_ = driver.handle;
}

void Refresh::handler_done(const api::Response& response) {
  running_ = false;
  driver_ = {};
  worker_.alarms().cancel(timeout_);
  // A failing refresh leaves the stale answer in place (and in use while stale windows last).
  if (response.status < 500) {
    store_response(worker_, *function_.cache, key_, stamp_, response);
  }
  finish();
}

void Refresh::handler_failed(std::string_view what) {
  running_ = false;
  driver_ = {};
  worker_.alarms().cancel(timeout_);
  if (log_enabled(LogLevel::kError)) {
    LogLine line(LogLevel::kError, "refresh failed");
    line.field("function", function_.name).field("error", what);
    worker_.log().append(line);
  }
  finish();
}

void Refresh::Timeout::fire() {
  Refresh& refresh = refresh_;
  std::exchange(refresh.driver_, {}).destroy();
  refresh.running_ = false;
  refresh.finish();
}

void Refresh::finish() {
  if (finished_) return;
  finished_ = true;
  SharedState& shared = worker_.shared();
  shared.flights.land(key_, [&shared](unsigned worker) {
    if (worker < shared.workers.size()) shared.workers[worker]->wake();
  });
}

}  // namespace edgefn::runtime
