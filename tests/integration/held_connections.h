// Thousands of idle keep-alive connections from one thread: nonblocking sockets driven by poll,
// a descriptor and a few bytes of state each, so the test process stays small while the server
// holds them all.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/process.h"

namespace edgefn::integration {

// A nonblocking TCP socket connecting to 127.0.0.1:port (the connect may still be in progress);
// -1 with errno set on failure. A `receive_buffer` above 0 is set as SO_RCVBUF first (the kernel
// doubles it), which also keeps the kernel from growing it.
int connect_nonblocking(std::uint16_t port, int receive_buffer = 0);

class HeldConnections {
 public:
  HeldConnections() = default;
  HeldConnections(const HeldConnections&) = delete;
  HeldConnections& operator=(const HeldConnections&) = delete;
  ~HeldConnections() { close_all(); }

  // Opens `count` connections to 127.0.0.1:port; on each, sends `request` and reads one
  // complete response, which must be a 200 framed by Content-Length without Connection: close;
  // then the connection stays open and idle. At most `parallel` are being set up at once: a
  // burst of thousands of SYNs overflows the accept backlog, and the kernel's retransmission a
  // second later would only slow the test. Fails with the first few reasons when any
  // connection failed or `timeout` passed first.
  ::testing::AssertionResult open(std::uint16_t port, std::size_t count, std::string_view request,
                                  Millis timeout, std::size_t parallel = 256);

  // How many held connections the server has closed or written to since they were set up
  // (polls each once, without waiting; such connections are closed and no longer held).
  std::size_t count_disturbed();

  std::size_t size() const { return held_.size(); }
  void close_all();

 private:
  std::vector<int> held_;
};

}  // namespace edgefn::integration
