// Tests api::Task: laziness, results, exception propagation, nesting, suspension, and where
// coroutine frames are allocated.
#include "functions/api/task.h"

#include <gtest/gtest.h>

#include <coroutine>
#include <cstddef>
#include <memory_resource>
#include <optional>
#include <stdexcept>
#include <string>

#include "functions/api/context.h"
#include "tests/functions/module_harness.h"
#include "tests/support/alloc_counter.h"

namespace edgefn::api {
namespace {

using functions::testing::CountingResource;
using functions::testing::ManualScheduler;
using functions::testing::RecordingLogger;

Task<int> answer() {
  co_return 42;
}

Task<void> bump(int& counter) {
  ++counter;
  co_return;
}

Task<int> fail_with(std::string message) {
  throw std::runtime_error(message);
  co_return 0;  // unreachable; makes this a coroutine
}

Task<int> add_one(Task<int> inner) {
  co_return co_await std::move(inner) + 1;
}

Task<int> count_down(int depth) {
  if (depth == 0) co_return 0;
  co_return co_await count_down(depth - 1) + 1;
}

Task<std::string> catch_inner() {
  try {
    co_await fail_with("inner failed");
  } catch (const std::runtime_error& e) {
    co_return std::string("caught: ") + e.what();
  }
  co_return "not caught";
}

// An awaitable that parks the awaiting coroutine until the test resumes it, standing in for an
// I/O completion.
struct Gate {
  std::coroutine_handle<> waiter;
  int value = 0;

  auto wait() {
    struct Awaiter {
      Gate& gate;
      bool await_ready() const noexcept { return false; }
      void await_suspend(std::coroutine_handle<> h) noexcept { gate.waiter = h; }
      int await_resume() const noexcept { return gate.value; }
    };
    return Awaiter{*this};
  }
};

Task<int> wait_on(Gate& gate) {
  co_return co_await gate.wait() * 2;
}
Task<int> wait_twice(Gate& first, Gate& second) {
  const int a = co_await wait_on(first);
  const int b = co_await wait_on(second);
  co_return a + b;
}

Task<int> with_context(int x, Context& ctx) {
  (void)ctx;
  co_return x * 3;
}

// Records its destruction, to show a destroyed suspended frame runs its locals' destructors.
struct Flag {
  bool* destroyed;
  ~Flag() { *destroyed = true; }
};

Task<int> suspended_with_local(Gate& gate, bool& destroyed, Context& ctx) {
  (void)ctx;
  Flag flag{&destroyed};
  co_return co_await gate.wait();
}

class Member {
 public:
  Task<std::string> greet(Context& ctx) const {
    std::pmr::string scratch("member coroutine frame", ctx.arena());
    co_return std::string(scratch);
  }
};

struct TaskTest : ::testing::Test {
  Context context(std::pmr::memory_resource* arena) {
    return Context(config, logger, arena, Context::Clock::now(), scheduler);
  }
  Config config;
  RecordingLogger logger;
  ManualScheduler scheduler;
};

TEST_F(TaskTest, IsLazyUntilStarted) {
  int counter = 0;
  Task<void> task = bump(counter);
  EXPECT_FALSE(task.done());
  EXPECT_EQ(counter, 0);
  task.start();
  EXPECT_TRUE(task.done());
  EXPECT_EQ(counter, 1);
  task.result();
}

TEST_F(TaskTest, ReturnsItsValue) {
  Task<int> task = answer();
  task.start();
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result(), 42);
}

TEST_F(TaskTest, ResultRethrowsTheBodysException) {
  Task<int> task = fail_with("boom");
  task.start();
  ASSERT_TRUE(task.done());
  try {
    task.result();
    FAIL() << "result() did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
}

TEST_F(TaskTest, ExceptionReachesTheAwaiter) {
  Task<std::string> task = catch_inner();
  task.start();
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result(), "caught: inner failed");
}

TEST_F(TaskTest, UncaughtExceptionPropagatesThroughEveryLevel) {
  Task<int> task = add_one(add_one(fail_with("deep")));
  task.start();
  ASSERT_TRUE(task.done());
  EXPECT_THROW(task.result(), std::runtime_error);
}

TEST_F(TaskTest, NestedAwaitsCompose) {
  Task<int> task = add_one(add_one(answer()));
  task.start();
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result(), 44);

  Task<int> deep = count_down(200);
  deep.start();
  ASSERT_TRUE(deep.done());
  EXPECT_EQ(deep.result(), 200);
}

TEST_F(TaskTest, SuspendedChainResumesItsAwaiters) {
  Gate first;
  Gate second;
  Task<int> task = wait_twice(first, second);
  task.start();
  EXPECT_FALSE(task.done());
  ASSERT_TRUE(first.waiter);
  EXPECT_FALSE(second.waiter);

  first.value = 5;
  first.waiter.resume();  // completes wait_on(first), which resumes wait_twice
  EXPECT_FALSE(task.done());
  ASSERT_TRUE(second.waiter);

  second.value = 7;
  second.waiter.resume();
  ASSERT_TRUE(task.done());
  EXPECT_EQ(task.result(), 24);
}

TEST_F(TaskTest, MoveTransfersOwnership) {
  Task<int> a = answer();
  Task<int> b = std::move(a);
  EXPECT_FALSE(a.done());        // NOLINT(bugprone-use-after-move): a moved-from task is empty
  EXPECT_TRUE(a.await_ready());  // NOLINT(bugprone-use-after-move): nothing to await
  b.start();
  Task<int> c;
  c = std::move(b);
  EXPECT_TRUE(c.done());
  EXPECT_EQ(c.result(), 42);
}

TEST_F(TaskTest, FrameComesFromTheContextArena) {
  // The arena itself must not reach the heap, or EXPECT_NO_ALLOC would count it.
  alignas(std::max_align_t) std::byte buffer[1024];
  std::pmr::monotonic_buffer_resource backing(buffer, sizeof buffer,
                                              std::pmr::null_memory_resource());
  CountingResource arena(&backing);
  Context ctx = context(&arena);
  {
    std::optional<Task<int>> task;
    EXPECT_NO_ALLOC(task.emplace(with_context(7, ctx)));
    EXPECT_EQ(arena.allocations, 1u);
    EXPECT_GT(arena.outstanding_bytes, 0u);
    task->start();
    EXPECT_EQ(task->result(), 21);
  }
  EXPECT_EQ(arena.deallocations, 1u);
  EXPECT_EQ(arena.outstanding_bytes, 0u);
}

TEST_F(TaskTest, MemberCoroutineFramesComeFromTheArenaToo) {
  CountingResource arena;
  Context ctx = context(&arena);
  const Member member;
  Task<std::string> task = member.greet(ctx);
  EXPECT_EQ(arena.allocations, 1u);  // the frame; the scratch string is not built yet
  task.start();
  EXPECT_EQ(task.result(), "member coroutine frame");
  EXPECT_EQ(arena.allocations, 2u);  // plus the scratch string
}

TEST_F(TaskTest, FrameWithoutContextComesFromTheHeap) {
  ::edgefn::testing::AllocationScope scope;
  Task<int> task = answer();
  EXPECT_EQ(scope.count(), 1u);
  task.start();
  EXPECT_EQ(task.result(), 42);
}

TEST_F(TaskTest, DestroyingASuspendedTaskFreesItsFrame) {
  CountingResource arena;
  Context ctx = context(&arena);
  Gate gate;
  bool destroyed = false;
  {
    Task<int> task = suspended_with_local(gate, destroyed, ctx);
    task.start();
    EXPECT_FALSE(task.done());
    EXPECT_FALSE(destroyed);
  }
  EXPECT_TRUE(destroyed);
  EXPECT_EQ(arena.allocations, 1u);
  EXPECT_EQ(arena.deallocations, 1u);
  EXPECT_EQ(arena.outstanding_bytes, 0u);
}

TEST_F(TaskTest, DestroyingAnUnstartedTaskFreesItsFrame) {
  CountingResource arena;
  Context ctx = context(&arena);
  { Task<int> task = with_context(1, ctx); }
  EXPECT_EQ(arena.allocations, 1u);
  EXPECT_EQ(arena.deallocations, 1u);
}

TEST_F(TaskTest, ResponseResultKeepsItsArena) {
  std::pmr::monotonic_buffer_resource arena;
  Context ctx = context(&arena);
  auto make = [](Context& c) -> Task<Response> {
    Response r = c.response(201);
    r.body.assign("a body long enough to need storage outside the string object");
    co_return r;
  };
  Task<Response> task = make(ctx);
  task.start();
  Response response = task.result();
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, "a body long enough to need storage outside the string object");
  EXPECT_EQ(response.body.get_allocator().resource(), &arena);
}

}  // namespace
}  // namespace edgefn::api
