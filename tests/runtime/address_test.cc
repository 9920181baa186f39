// Tests for listener address parsing and printing (runtime/address.h).
#include "runtime/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

namespace edgefn::runtime {
namespace {

TEST(ParseSocketAddress, Ipv4) {
  const std::optional<SocketAddress> address = parse_socket_address("127.0.0.1:8080");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->family(), AF_INET);
  EXPECT_EQ(address->length, sizeof(sockaddr_in));
  EXPECT_EQ(address->port(), 8080);
  EXPECT_EQ(address->to_string(), "127.0.0.1:8080");
  const auto* in = reinterpret_cast<const sockaddr_in*>(address->get());
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0x7F000001u);
}

TEST(ParseSocketAddress, Ipv6) {
  const std::optional<SocketAddress> address = parse_socket_address("[::1]:9901");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->family(), AF_INET6);
  EXPECT_EQ(address->length, sizeof(sockaddr_in6));
  EXPECT_EQ(address->port(), 9901);
  EXPECT_EQ(address->to_string(), "[::1]:9901");
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address->get());
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
}

TEST(ParseSocketAddress, WildcardsAndPortBounds) {
  EXPECT_EQ(parse_socket_address("0.0.0.0:0")->to_string(), "0.0.0.0:0");
  EXPECT_EQ(parse_socket_address("0.0.0.0:0")->port(), 0);
  EXPECT_EQ(parse_socket_address("[::]:65535")->to_string(), "[::]:65535");
  EXPECT_EQ(parse_socket_address("[::]:65535")->port(), 65535);
  EXPECT_EQ(parse_socket_address("255.255.255.255:1")->to_string(), "255.255.255.255:1");
}

TEST(ParseSocketAddress, PrintsTheCanonicalForm) {
  // IPv6 text has many spellings; to_string prints the RFC 5952 one, which parses back equal.
  const std::optional<SocketAddress> address = parse_socket_address("[2001:DB8:0:0:0:0:0:1]:443");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->to_string(), "[2001:db8::1]:443");
  EXPECT_EQ(parse_socket_address(address->to_string())->to_string(), "[2001:db8::1]:443");
  EXPECT_EQ(parse_socket_address("[::ffff:10.0.0.1]:80")->to_string(), "[::ffff:10.0.0.1]:80");
  EXPECT_EQ(parse_socket_address("10.0.0.1:080")->port(), 80);
}

TEST(ParseSocketAddress, RejectsBadPorts) {
  EXPECT_FALSE(parse_socket_address("127.0.0.1:65536"));
  EXPECT_FALSE(parse_socket_address("127.0.0.1:100000"));
  EXPECT_FALSE(parse_socket_address("127.0.0.1:-1"));
  EXPECT_FALSE(parse_socket_address("127.0.0.1:+80"));
  EXPECT_FALSE(parse_socket_address("127.0.0.1:"));
  EXPECT_FALSE(parse_socket_address("127.0.0.1"));
  EXPECT_FALSE(parse_socket_address("127.0.0.1:8o"));
  EXPECT_FALSE(parse_socket_address("127.0.0.1: 80"));
  EXPECT_FALSE(parse_socket_address("127.0.0.1:80 "));
  EXPECT_FALSE(parse_socket_address("[::1]"));
  EXPECT_FALSE(parse_socket_address("[::1]:"));
}

TEST(ParseSocketAddress, RejectsBadHosts) {
  EXPECT_FALSE(parse_socket_address(""));
  EXPECT_FALSE(parse_socket_address(":8080"));
  EXPECT_FALSE(parse_socket_address("localhost:8080"));  // names are not resolved
  EXPECT_FALSE(parse_socket_address("256.0.0.1:8080"));
  EXPECT_FALSE(parse_socket_address("1.2.3:8080"));
  EXPECT_FALSE(parse_socket_address("1.2.3.4.5:8080"));
  EXPECT_FALSE(parse_socket_address("01.2.3.4:8080"));
  EXPECT_FALSE(parse_socket_address(" 1.2.3.4:8080"));
  EXPECT_FALSE(parse_socket_address("::1:8080"));  // IPv6 needs brackets
  EXPECT_FALSE(parse_socket_address("[::1:8080"));
  EXPECT_FALSE(parse_socket_address("::1]:8080"));
  EXPECT_FALSE(parse_socket_address("[127.0.0.1]:8080"));
  EXPECT_FALSE(parse_socket_address("[fe80::1%eth0]:8080"));  // no zone ids
  EXPECT_FALSE(parse_socket_address("[]:8080"));
  EXPECT_FALSE(parse_socket_address(std::string_view("1.2.3.4\0x:80", 11)));
  EXPECT_FALSE(parse_socket_address(std::string(100, '1') + ":80"));
  EXPECT_FALSE(parse_socket_address("[" + std::string(100, ':') + "]:80"));
}

TEST(SocketAddress, DefaultConstructedHasNoAddress) {
  const SocketAddress address;
  EXPECT_EQ(address.family(), AF_UNSPEC);
  EXPECT_EQ(address.port(), 0);
  EXPECT_EQ(address.to_string(), "");
}

}  // namespace
}  // namespace edgefn::runtime
