// Resolver: names from /etc/hosts and numbers resolve with the port set, a name is watched once,
// lookups against a dead server end in bounded time, the destructor cancels what is in flight,
// and re-resolution moves the generation only on a change. A DNS server of the test's own, on
// 127.0.0.1, stands in for a real one where the answers must be controlled.
#include "runtime/resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace edgefn::runtime {

// Points a resolver at other DNS servers, with a shorter first try, before its first watch().
class ResolverPeer {
 public:
  static void use_servers(Resolver& resolver, std::string servers,
                          std::chrono::milliseconds try_timeout) {
    resolver.servers_ = std::move(servers);
    resolver.try_timeout_ = try_timeout;
  }
};

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Status = ResolvedName::Status;

// Waits for `done` to hold, looking every 5 ms, for at most `limit`.
template <typename Predicate>
bool eventually(Predicate done, Clock::duration limit = 10s) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

SocketAddress ipv4(const char* text, std::uint16_t port) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, text, &in.sin_addr), 1);
  SocketAddress address;
  std::memcpy(&address.storage, &in, sizeof in);
  address.length = sizeof in;
  return address;
}

std::vector<std::string> texts(const ResolvedName& name) {
  std::vector<SocketAddress> addresses;
  name.addresses(addresses);
  std::vector<std::string> out;
  for (const SocketAddress& address : addresses)
    out.push_back(address.to_string());
  return out;
}

std::size_t thread_count() {
  const std::filesystem::directory_iterator tasks("/proc/self/task");
  return static_cast<std::size_t>(std::distance(begin(tasks), end(tasks)));
}

// A DNS server on 127.0.0.1 (UDP): answers A queries for the names given to answer() with their
// addresses, AAAA queries for them with no records, and anything else with NXDOMAIN; when
// silent, it answers nothing, as a dead server. Counts the A queries it receives per name.
class FakeDns {
 public:
  FakeDns() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<const sockaddr*>(&in), sizeof in), 0);
    socklen_t length = sizeof in;
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&in), &length), 0);
    port_ = ntohs(in.sin_port);
    // recvfrom() returns every 20 ms, so that the server sees stop_.
    const timeval tick{0, 20'000};
    EXPECT_EQ(setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick), 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDns() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }

  std::string servers() const { return "127.0.0.1:" + std::to_string(port_); }

  void answer(const std::string& name, std::vector<std::string> addresses) {
    std::lock_guard lock(mutex_);
    answers_[name] = std::move(addresses);
  }
  void forget(const std::string& name) {
    std::lock_guard lock(mutex_);
    answers_.erase(name);
  }
  void set_silent(bool silent) {
    std::lock_guard lock(mutex_);
    silent_ = silent;
  }
  int queries(const std::string& name) {
    std::lock_guard lock(mutex_);
    return queries_[name];
  }

 private:
  static constexpr std::uint16_t kTypeA = 1;

  void serve() {
    unsigned char query[512];
    while (!stop_) {
      sockaddr_storage from{};
      socklen_t from_length = sizeof from;
      const ssize_t got =
          recvfrom(fd_, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&from), &from_length);
      if (got < 12) continue;  // a timeout, or no DNS header
      const std::size_t size = static_cast<std::size_t>(got);
      // The question: labels, the root, then type and class.
      std::string name;
      std::size_t at = 12;
      while (at < size && query[at] != 0 && at + 1 + query[at] <= size) {
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<const char*>(query + at + 1), query[at]);
        at += 1 + query[at];
      }
      at += 1;
      if (at + 4 > size) continue;
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const std::uint16_t type = static_cast<std::uint16_t>(query[at] << 8 | query[at + 1]);
      at += 4;

      std::vector<unsigned char> reply(query, query + at);  // header and question
      {
        std::lock_guard lock(mutex_);
        if (type == kTypeA) ++queries_[name];
        if (silent_) continue;
        const auto known = answers_.find(name);
        reply[2] = static_cast<unsigned char>(0x80 | (query[2] & 0x01));  // a response; RD
        reply[3] = known == answers_.end() ? 0x83 : 0x80;                 // RA; NXDOMAIN?
        std::uint16_t records = 0;
        if (known != answers_.end() && type == kTypeA) {
          for (const std::string& text : known->second) {
            in_addr address{};
            EXPECT_EQ(inet_pton(AF_INET, text.c_str(), &address), 1);
            // The name as a pointer to the question's, type A, class IN, TTL 60, 4 bytes.
            const unsigned char record[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
            reply.insert(reply.end(), record, record + sizeof record);
            const auto* bytes = reinterpret_cast<const unsigned char*>(&address);
            reply.insert(reply.end(), bytes, bytes + 4);
            ++records;
          }
        }
        reply[6] = static_cast<unsigned char>(records >> 8);
        reply[7] = static_cast<unsigned char>(records & 0xff);
        std::fill(reply.begin() + 8, reply.begin() + 12, 0);  // no authority, no additional
      }
      EXPECT_EQ(sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from),
                       from_length),
                static_cast<ssize_t>(reply.size()));
    }
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> answers_;
  std::map<std::string, int> queries_;
  bool silent_ = false;
  std::thread thread_;
};

TEST(ResolvedNameTest, UpdateMovesTheGenerationOnlyOnAChange) {
  ResolvedName name("upstream.test", 8080);
  std::vector<SocketAddress> into;
  EXPECT_EQ(name.generation(), 0u);
  EXPECT_EQ(name.addresses(into), Status::kPending);
  EXPECT_TRUE(into.empty());

  name.update({ipv4("10.0.0.1", 8080)});
  EXPECT_EQ(name.generation(), 1u);
  name.update({ipv4("10.0.0.1", 8080)});
  EXPECT_EQ(name.generation(), 1u);
  name.update({ipv4("10.0.0.1", 8080), ipv4("10.0.0.2", 8080)});
  EXPECT_EQ(name.generation(), 2u);

  into.push_back(ipv4("192.0.2.1", 1));  // replaced, not appended to
  EXPECT_EQ(name.addresses(into), Status::kResolved);
  EXPECT_EQ(texts(name), (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080"}));
  EXPECT_EQ(into.size(), 2u);
  EXPECT_EQ(name.error(), "");
}

TEST(ResolvedNameTest, AFailureBeforeAnySuccessIsFailed) {
  ResolvedName name("upstream.test", 80);
  name.failed("Domain name not found");
  EXPECT_EQ(name.generation(), 1u);
  std::vector<SocketAddress> into;
  EXPECT_EQ(name.addresses(into), Status::kFailed);
  EXPECT_TRUE(into.empty());
  EXPECT_EQ(name.error(), "Domain name not found");

  name.failed("Timeout while contacting DNS servers");  // still failed: no change
  EXPECT_EQ(name.generation(), 1u);
  EXPECT_EQ(name.error(), "Timeout while contacting DNS servers");

  name.update({ipv4("10.0.0.1", 80)});
  EXPECT_EQ(name.generation(), 2u);
  EXPECT_EQ(name.addresses(into), Status::kResolved);
  EXPECT_EQ(name.error(), "");
}

TEST(ResolvedNameTest, AFailureAfterASuccessKeepsTheAddresses) {
  ResolvedName name("upstream.test", 80);
  name.update({ipv4("10.0.0.1", 80)});
  name.failed("Timeout while contacting DNS servers");
  EXPECT_EQ(name.generation(), 1u);
  std::vector<SocketAddress> into;
  EXPECT_EQ(name.addresses(into), Status::kResolved);
  EXPECT_EQ(texts(name), std::vector<std::string>{"10.0.0.1:80"});
  EXPECT_EQ(name.error(), "Timeout while contacting DNS servers");

  name.update({ipv4("10.0.0.1", 80)});  // the same addresses again: the error goes
  EXPECT_EQ(name.generation(), 1u);
  EXPECT_EQ(name.error(), "");
}

TEST(ResolverTest, StartsNoThreadUntilTheFirstWatch) {
  const std::size_t before = thread_count();
  Resolver resolver(nullptr, 1h);
  EXPECT_EQ(thread_count(), before);
  const auto name = resolver.watch("127.0.0.1", 80);
  // At least: a sanitizer's runtime may start a thread of its own with the first one.
  EXPECT_GT(thread_count(), before);
}

TEST(ResolverTest, LocalhostResolvesFromTheHostsFile) {
  Resolver resolver(nullptr, 1h);
  const auto name = resolver.watch("localhost", 8080);
  ASSERT_TRUE(eventually([&] { return name->generation() != 0; }));
  std::vector<SocketAddress> addresses;
  ASSERT_EQ(name->addresses(addresses), Status::kResolved) << name->error();
  ASSERT_FALSE(addresses.empty());
  for (const SocketAddress& address : addresses) {
    EXPECT_EQ(address.port(), 8080);
    const std::string text = address.to_string();
    EXPECT_TRUE(text == "127.0.0.1:8080" || text == "[::1]:8080") << text;
  }
  const std::vector<std::string> all = texts(*name);
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size()) << "duplicates";
  EXPECT_EQ(name->error(), "");
}

TEST(ResolverTest, NumericAddressesResolveToThemselves) {
  Resolver resolver(nullptr, 1h);
  const auto v4 = resolver.watch("127.0.0.1", 9000);
  const auto v6 = resolver.watch("::1", 9001);
  ASSERT_TRUE(eventually([&] { return v4->generation() != 0 && v6->generation() != 0; }));
  std::vector<SocketAddress> addresses;
  EXPECT_EQ(v4->addresses(addresses), Status::kResolved) << v4->error();
  EXPECT_EQ(texts(*v4), std::vector<std::string>{"127.0.0.1:9000"});
  EXPECT_EQ(v6->addresses(addresses), Status::kResolved) << v6->error();
  EXPECT_EQ(texts(*v6), std::vector<std::string>{"[::1]:9001"});
}

TEST(ResolverTest, TheSameNameAndPortGetTheSameEntry) {
  Resolver resolver(nullptr, 1h);
  const auto first = resolver.watch("localhost", 80);
  const auto again = resolver.watch("localhost", 80);
  const auto other_port = resolver.watch("localhost", 81);
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other_port);
  EXPECT_EQ(other_port->port(), 81);
}

// With this machine's own DNS configuration, whatever it is: a local resolver that answers
// NXDOMAIN at once, or a server that never answers (then c-ares' timeouts end it: 6 s per name
// tried).
TEST(ResolverTest, ANameThatDoesNotExistFails) {
  Resolver resolver(nullptr, 1h);
  const auto name = resolver.watch("no-such-host.invalid", 80);
  ASSERT_TRUE(eventually([&] { return name->generation() != 0; }, 30s));
  std::vector<SocketAddress> addresses;
  EXPECT_EQ(name->addresses(addresses), Status::kFailed);
  EXPECT_TRUE(addresses.empty());
  EXPECT_FALSE(name->error().empty());
}

TEST(ResolverTest, ADeadServerFailsTheLookupInBoundedTime) {
  FakeDns dns;
  dns.set_silent(true);
  Resolver resolver(nullptr, 1h);
  ResolverPeer::use_servers(resolver, dns.servers(), 100ms);
  const Clock::time_point start = Clock::now();
  const auto name = resolver.watch("upstream.test", 80);
  ASSERT_TRUE(eventually([&] { return name->generation() != 0; }));
  // 100 ms, then 200 ms for the second try.
  EXPECT_LT(Clock::now() - start, 3s);
  std::vector<SocketAddress> addresses;
  EXPECT_EQ(name->addresses(addresses), Status::kFailed);
  EXPECT_EQ(name->error(), "Timeout while contacting DNS servers");
  EXPECT_GE(dns.queries("upstream.test"), 2);
}

TEST(ResolverTest, TheDestructorCancelsAPendingLookupPromptly) {
  FakeDns dns;
  dns.set_silent(true);
  std::shared_ptr<const ResolvedName> name;
  Clock::time_point start;
  {
    Resolver resolver(nullptr, 1h);
    ResolverPeer::use_servers(resolver, dns.servers(), 2s);
    name = resolver.watch("upstream.test", 80);
    ASSERT_TRUE(eventually([&] { return dns.queries("upstream.test") >= 1; }));
    start = Clock::now();
  }
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_EQ(name->generation(), 0u);  // a cancelled lookup records nothing
  std::vector<SocketAddress> addresses;
  EXPECT_EQ(name->addresses(addresses), Status::kPending);
}

TEST(ResolverTest, OnChangeRunsAfterANameResolvesAndANewNameIsResolvedAtOnce) {
  std::atomic<int> changes{0};
  Resolver resolver([&changes] { ++changes; }, 1h);
  const auto first = resolver.watch("127.0.0.1", 80);
  ASSERT_TRUE(eventually([&] { return changes.load() >= 1; }));
  EXPECT_EQ(first->generation(), 1u);
  const int seen = changes.load();
  // The thread sleeps until the next round, an hour away: the new name wakes it.
  const auto second = resolver.watch("localhost", 80);
  ASSERT_TRUE(eventually([&] { return changes.load() > seen; }));
  EXPECT_EQ(second->generation(), 1u);
  EXPECT_EQ(first->generation(), 1u);
}

TEST(ResolverTest, ARefreshWithTheSameAnswerKeepsTheGeneration) {
  FakeDns dns;
  dns.answer("upstream.test", {"10.0.0.1"});
  std::atomic<int> changes{0};
  Resolver resolver([&changes] { ++changes; }, 50ms);
  ResolverPeer::use_servers(resolver, dns.servers(), 2s);
  const auto name = resolver.watch("upstream.test", 443);
  ASSERT_TRUE(eventually([&] { return changes.load() >= 1; }));
  ASSERT_EQ(name->generation(), 1u);
  EXPECT_EQ(texts(*name), std::vector<std::string>{"10.0.0.1:443"});
  const int queries = dns.queries("upstream.test");
  ASSERT_TRUE(eventually([&] { return dns.queries("upstream.test") >= queries + 3; }));
  EXPECT_EQ(name->generation(), 1u);
  EXPECT_EQ(changes.load(), 1);
  EXPECT_EQ(texts(*name), std::vector<std::string>{"10.0.0.1:443"});
}

TEST(ResolverTest, AChangedAnswerMovesTheGenerationAndAFailureKeepsTheAddresses) {
  FakeDns dns;
  dns.answer("upstream.test", {"10.0.0.1"});
  std::atomic<int> changes{0};
  Resolver resolver([&changes] { ++changes; }, 50ms);
  ResolverPeer::use_servers(resolver, dns.servers(), 2s);
  const auto name = resolver.watch("upstream.test", 443);
  ASSERT_TRUE(eventually([&] { return changes.load() >= 1; }));
  ASSERT_EQ(name->generation(), 1u);

  // A new answer, with a record twice: it is kept once.
  dns.answer("upstream.test", {"10.0.0.2", "10.0.0.2", "10.0.0.3"});
  ASSERT_TRUE(eventually([&] { return changes.load() >= 2; }));
  EXPECT_EQ(name->generation(), 2u);
  std::vector<std::string> now = texts(*name);
  std::sort(now.begin(), now.end());
  EXPECT_EQ(now, (std::vector<std::string>{"10.0.0.2:443", "10.0.0.3:443"}));

  // The name goes away: the addresses stay, with the error beside them.
  dns.forget("upstream.test");
  ASSERT_TRUE(eventually([&] { return !name->error().empty(); }));
  EXPECT_EQ(name->error(), "Domain name not found");
  std::vector<SocketAddress> addresses;
  EXPECT_EQ(name->addresses(addresses), Status::kResolved);
  EXPECT_EQ(addresses.size(), 2u);
  EXPECT_EQ(name->generation(), 2u);
  EXPECT_EQ(changes.load(), 2);

  // And comes back with the same addresses: the error goes, the generation stays.
  dns.answer("upstream.test", {"10.0.0.2", "10.0.0.3"});
  ASSERT_TRUE(eventually([&] { return name->error().empty(); }));
  EXPECT_EQ(name->generation(), 2u);
}

}  // namespace
}  // namespace edgefn::runtime
