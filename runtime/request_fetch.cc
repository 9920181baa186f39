// RequestFetch: the allow-list check, then the worker's FetchClient.
#include "runtime/request_fetch.h"

#include "runtime/app.h"
#include "runtime/fetch_client.h"

namespace edgefn::runtime {

RequestFetch::~RequestFetch() {
  if (call_ != nullptr) client_.cancel(*this);
}

void RequestFetch::start(api::FetchCall& call) {
  if (call_ != nullptr || app_ == nullptr || function_ == nullptr) {
    call.finish({});  // kUnavailable: one call at a time
    return;
  }
  const App& app = **app_;
  for (const std::uint32_t index : function_->upstreams) {
    const Upstream& upstream = app.upstreams()[index];
    if (upstream.config.name == call.upstream()) {
      client_.start(*this, call, *app_, upstream);
      return;
    }
  }
  call.finish(api::FetchResult::of(api::FetchStatus::kNotAllowed));
}

void RequestFetch::cancel(api::FetchCall& call) noexcept {
  if (call_ == &call) client_.cancel(*this);
}

void RequestFetch::end_request() {
  if (response_.capacity() > kKeptBytes) std::string().swap(response_);
}

void RequestFetch::Deadline::fire() {
  fetch_.client_.expire(fetch_);
}

}  // namespace edgefn::runtime
