// Task<T>: the lazy C++20 coroutine type module handlers return.
//
// A Task does nothing until it is awaited or started. When the coroutine's parameters include an
// object with an `arena()` member returning std::pmr::memory_resource* (the Context), its frame
// is allocated from that arena, so a request that never suspends costs no heap allocation.
// Completion resumes the awaiting coroutine by symmetric transfer. An exception that escapes the
// body is captured and rethrown to the awaiter (the runtime turns it into a 500).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory_resource>
#include <new>
#include <optional>
#include <utility>

namespace edgefn::api {

namespace detail {

template <class T>
concept HasArena = requires(const T& t) {
  { t.arena() } -> std::convertible_to<std::pmr::memory_resource*>;
};

// Frames carry a small header naming the resource they came from, so operator delete (which
// sees no coroutine arguments) can give the memory back to the right place.
struct FrameAllocation {
  static constexpr std::size_t kHeader = alignof(std::max_align_t);

  static void* allocate(std::size_t size, std::pmr::memory_resource* arena) {
    void* base = arena ? arena->allocate(size + kHeader, kHeader) : ::operator new(size + kHeader);
    *static_cast<std::pmr::memory_resource**>(base) = arena;
    return static_cast<std::byte*>(base) + kHeader;
  }

  static void deallocate(void* frame, std::size_t size) noexcept {
    void* base = static_cast<std::byte*>(frame) - kHeader;
    std::pmr::memory_resource* arena = *static_cast<std::pmr::memory_resource**>(base);
    if (arena) {
      arena->deallocate(base, size + kHeader, kHeader);
    } else {
      ::operator delete(base, size + kHeader);
    }
  }

  template <class First, class... Rest>
  static std::pmr::memory_resource* find_arena(const First& first, const Rest&... rest) {
    if constexpr (HasArena<First>) {
      return first.arena();
    } else if constexpr (sizeof...(Rest) > 0) {
      return find_arena(rest...);
    } else {
      return nullptr;
    }
  }
};

class PromiseBase {
 public:
  template <class... Args>
  static void* operator new(std::size_t size, const Args&... args) {
    if constexpr (sizeof...(Args) > 0) {
      return FrameAllocation::allocate(size, FrameAllocation::find_arena(args...));
    } else {
      return FrameAllocation::allocate(size, nullptr);
    }
  }
  static void operator delete(void* frame, std::size_t size) noexcept {
    FrameAllocation::deallocate(frame, size);
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      return self.promise().continuation_;
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  std::coroutine_handle<> continuation_ = std::noop_coroutine();
  std::exception_ptr error_;
};

template <class T>
class Promise : public PromiseBase {
 public:
  template <class U>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
  }
  T take() {
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class Promise<void> : public PromiseBase {
 public:
  void return_void() noexcept {}
  void take() {
    if (error_) std::rethrow_exception(error_);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
 public:
  struct promise_type : detail::Promise<T> {
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
  };
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { destroy(); }

  // Awaiting a task starts it; the awaiter resumes when it completes.
  bool await_ready() const noexcept { return !handle_ || handle_.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) noexcept {
    handle_.promise().continuation_ = awaiter;
    return handle_;
  }
  T await_resume() { return handle_.promise().take(); }

  // For a driver outside any coroutine: run the task until it first suspends or completes.
  void start() { handle_.resume(); }
  bool done() const noexcept { return handle_ && handle_.done(); }
  // The result of a completed task; rethrows the exception that escaped its body.
  T result() { return handle_.promise().take(); }

 private:
  explicit Task(Handle handle) noexcept : handle_(handle) {}
  void destroy() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

  Handle handle_;
};

}  // namespace edgefn::api
