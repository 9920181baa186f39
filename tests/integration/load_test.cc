// The server under many clients at once: ten thousand idle keep-alive connections held in
// bounded memory, and SIGTERM with fifty requests in flight.
#include <signal.h>

#include <algorithm>
#include <cstddef>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/fixture.h"
#include "tests/integration/held_connections.h"
#include "tests/integration/json_util.h"
#include "tests/integration/load_util.h"

namespace edgefn::integration {
namespace {

Millis since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<Millis>(SteadyClock::now() - start);
}

// --- Ten thousand keep-alive connections ----------------------------------------------------

TEST(Load, TenThousandKeepAliveConnectionsAreHeldInBoundedMemory) {
  constexpr std::size_t kConnections = 10'000;
  // What each held connection may cost the server: measured at about 8.5 KB (its Connection
  // slot, parser and buffers); the bound is generous so that sanitizer builds, whose allocator
  // pads every block, pass too, while a per-connection buffer of 64 KiB or more fails.
  constexpr std::size_t kBoundPerConnection = 64 * 1024;
  // The test's own connections plus its spare descriptors (pipes, the admin scrapes).
  if (const std::string reason = raise_open_file_limit(kConnections + 200); !reason.empty()) {
    std::cout << "skipped: " << reason << "\n";
    GTEST_SKIP() << reason;
  }

  Server server;
  ASSERT_TRUE(server.start(manifest_path("load.toml")));
  const std::optional<pid_t> pid = child_running(binary_path());
  ASSERT_TRUE(pid) << "cannot find the server's process in /proc";

  // A few requests on both workers and one scrape first, so what any first request allocates
  // (and the admin's formatting) is in the baseline, not in the per-connection figure.
  for (int i = 0; i < 8; ++i) {
    HttpResponse response;
    ASSERT_TRUE(exchange(server.port(), get_request("/hello"), response));
    ASSERT_EQ(response.status, 200);
  }
  ASSERT_TRUE(
      metric_becomes(server.admin_port(), R"(edgefn_connections{state="idle"})", 0, Millis{2000}));
  const std::optional<std::size_t> before = resident_bytes(*pid);
  ASSERT_TRUE(before);

  const auto start = SteadyClock::now();
  HeldConnections held;
  ASSERT_TRUE(held.open(server.port(), kConnections, get_request("/hello"), Millis{20000}));
  const Millis setup = since(start);
  // The server agrees: every one of them is open and idle on its side.
  ASSERT_TRUE(metric_becomes(server.admin_port(), R"(edgefn_connections{state="idle"})",
                             static_cast<double>(kConnections), Millis{5000}));
  const std::optional<std::size_t> with = resident_bytes(*pid);
  ASSERT_TRUE(with);

  // A new client is still served while they are held.
  HttpResponse response;
  ASSERT_TRUE(exchange(server.port(), get_request("/hello"), response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "Hello, world!");
  EXPECT_EQ(held.count_disturbed(), 0u) << "the server closed held connections";

  const std::size_t growth = *with > *before ? *with - *before : 0;
  const std::size_t per_connection = growth / kConnections;
  RecordProperty("rss_before_bytes", std::to_string(*before));
  RecordProperty("rss_with_connections_bytes", std::to_string(*with));
  RecordProperty("rss_bytes_per_connection", std::to_string(per_connection));
  std::cout << "10k connections: set up in " << setup.count() << " ms; server VmRSS "
            << *before / 1024 << " KiB before, " << *with / 1024 << " KiB with " << kConnections
            << " held: " << per_connection << " bytes per connection\n";
  EXPECT_LT(per_connection, kBoundPerConnection);

  // Once they are gone, the server lets go of every one of them and still serves.
  held.close_all();
  ASSERT_TRUE(
      metric_becomes(server.admin_port(), R"(edgefn_connections{state="idle"})", 0, Millis{5000}));
  ASSERT_TRUE(exchange(server.port(), get_request("/hello"), response));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(server.stop(), 0) << server.output_for_failure();
}

// --- SIGTERM with requests in flight ---------------------------------------------------------

TEST(Load, SigtermFinishesEveryRequestInFlightThenExitsZero) {
  constexpr std::size_t kClients = 50;
  constexpr Millis kDrainTimeout{5000};  // sigterm_load.toml
  if (const std::string reason = raise_open_file_limit(kClients + 100); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  Server server;
  ASSERT_TRUE(server.start(manifest_path("sigterm_load.toml")));

  // Every client's request waits in the echo module's 1.5 s delay ...
  std::vector<Client> clients(kClients);
  for (std::size_t i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[i].connect(server.port())) << "client " << i;
    ASSERT_TRUE(clients[i].send(get_request("/slow?client=" + std::to_string(i))))
        << "client " << i;
  }
  // ... which the server confirms before the signal, so none can have been answered yet.
  ASSERT_TRUE(metric_becomes(server.admin_port(), R"(edgefn_connections{state="active"})",
                             static_cast<double>(kClients), Millis{1000}));

  const auto signalled = SteadyClock::now();
  ASSERT_TRUE(server.send_signal(SIGTERM));
  std::size_t answered = 0;
  for (std::size_t i = 0; i < kClients; ++i) {
    HttpResponse response;
    const auto read = clients[i].read_response(response, kDrainTimeout);
    if (!read) {
      ADD_FAILURE() << "client " << i << ": " << read.message();
      continue;
    }
    EXPECT_EQ(response.status, 200) << "client " << i << ": " << printable(response.raw, 300);
    rapidjson::Document echo;
    if (parse_json(response.body, echo) &&
        json_string(echo, "query") == "client=" + std::to_string(i)) {
      ++answered;
    }
    // Draining: the answer says the connection ends, and it does.
    EXPECT_TRUE(has_token(response.header("connection"), "close")) << printable(response.raw);
    EXPECT_TRUE(clients[i].expect_closed()) << "client " << i;
    // As a client does once it has its answer: the server's linger (after its FIN) ends now,
    // instead of at the linger timer.
    clients[i].close();
  }
  EXPECT_EQ(answered, kClients);

  const std::optional<int> status =
      server.wait_exit(std::max(Millis{0}, kDrainTimeout - since(signalled)));
  ASSERT_TRUE(status) << "still running " << kDrainTimeout.count() << " ms after SIGTERM\n"
                      << server.output_for_failure();
  EXPECT_EQ(*status, 0) << server.output_for_failure();
  std::cout << "SIGTERM under load: " << answered << " of " << kClients
            << " requests in flight answered 200; exit after " << since(signalled).count()
            << " ms\n";
}

}  // namespace
}  // namespace edgefn::integration
