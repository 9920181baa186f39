// RequestDriver: runs one function for one request and hands the outcome to whoever asked — a
// Connection, or a background Refresh. Started eagerly; its frame comes from the owner's request
// arena. A driver that suspended can be destroyed from outside (through `handle`), which
// destroys the function's coroutines with it: that is how a timeout or a departed client cancels
// a function.
//
// An owner provides: std::pmr::memory_resource* arena(), const api::Request& request(),
// void handler_done(const api::Response&), void handler_failed(std::string_view).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory_resource>
#include <string_view>

#include "functions/api/module.h"

namespace edgefn::runtime {

struct RequestDriver {
  std::coroutine_handle<> handle;

  struct promise_type {
    template <class Owner>
    static void* operator new(std::size_t size, Owner* owner, const api::Module*, api::Context*) {
      return owner->arena()->allocate(size, alignof(std::max_align_t));
    }
    // Arena memory is released as a whole by the owner.
    static void operator delete(void*, std::size_t) noexcept {}

    RequestDriver get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    // drive() catches everything its body can throw.
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <class Owner>
RequestDriver drive(Owner* owner, const api::Module* module, api::Context* context) {
  try {
    api::Response response = co_await module->handle(owner->request(), *context);
    owner->handler_done(response);
  } catch (const std::exception& error) {
    owner->handler_failed(error.what());
  } catch (...) {
    owner->handler_failed("unknown exception");
  }
}

}  // namespace edgefn::runtime
