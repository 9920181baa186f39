// Copying a request for the offload pool, and running its function there.
#include "runtime/offload_request.h"

#include <exception>

#include "runtime/log.h"

namespace edgefn::runtime {

namespace {

constexpr std::size_t kArenaChunk = 4096;

std::size_t byte_count(const api::Request& request) {
  std::size_t total = request.method.size() + request.target.size() + request.path.size() +
                      request.query.size() + request.host.size() + request.client_ip.size() +
                      request.traceparent.size() + request.body.size();
  for (const api::Header& header : request.headers)
    total += header.name.size() + header.value.size();
  for (const api::Param& param : request.params)
    total += param.name.size() + param.value.size();
  return total;
}

// Appends `text` to `bytes` (reserved up front, so it never moves) and views the copy.
std::string_view copy(std::string& bytes, std::string_view text) {
  const std::size_t at = bytes.size();
  bytes.append(text);
  return std::string_view(bytes).substr(at, text.size());
}

}  // namespace

void OffloadRequest::DirectLogger::write(api::LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  LogLine line(level, message);
  line.field("function", function_).field("offload", true);
  write_log_line(line);
}

OffloadRequest::OffloadRequest(unsigned owner, std::uint32_t slot, std::shared_ptr<const App> app,
                               const Function& function, const api::Request& request,
                               api::Context::Clock::time_point deadline)
    : OffloadJob(owner, slot),
      app_(std::move(app)),
      function_(function),
      arena_(kArenaChunk),
      logger_(function.name),
      context_(function.config, logger_, &arena_, deadline, scheduler_, nullptr) {
  bytes_.reserve(byte_count(request));
  for (const api::Header& header : request.headers)
    headers_.push_back({copy(bytes_, header.name), copy(bytes_, header.value)});
  for (const api::Param& param : request.params)
    params_.push_back({copy(bytes_, param.name), copy(bytes_, param.value)});
  request_ = api::Request{
      .method = copy(bytes_, request.method),
      .target = copy(bytes_, request.target),
      .path = copy(bytes_, request.path),
      .query = copy(bytes_, request.query),
      .host = copy(bytes_, request.host),
      .client_ip = copy(bytes_, request.client_ip),
      .traceparent = copy(bytes_, request.traceparent),
      .http_minor = request.http_minor,
      .headers = api::HeaderList(headers_),
      .params = api::ParamList(params_),
      .body = copy(bytes_, request.body),
  };
}

// The response's strings live in arena_, declared before it: they go first.
OffloadRequest::~OffloadRequest() {
  response_.reset();
}

void OffloadRequest::run() {
  try {
    api::Task<api::Response> task = function_.module->handle(request_, context_);
    task.start();
    if (!task.done()) {
      // Suspended on something only a worker's loop would resume. Destroying the task runs its
      // awaiters' destructors (a Sleep cancels itself on NoScheduler, a no-op).
      error_ =
          "an offloaded function suspended: it may not await ctx.sleep or other worker-loop "
          "operations";
      return;
    }
    response_.emplace(task.result());
  } catch (const std::exception& error) {
    error_ = error.what();
  } catch (...) {
    error_ = "unknown exception";
  }
}

}  // namespace edgefn::runtime
