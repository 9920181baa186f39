// Numeric socket addresses for listeners: parsing and printing.
#include "runtime/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace edgefn::runtime {
namespace {

// "0".."65535" with no sign, no spaces and at most five digits; nullopt otherwise.
std::optional<in_port_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<in_port_t>(value);
}

}  // namespace

int SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::to_string() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    std::string text = "[";
    text += host;
    text += "]:";
    text += std::to_string(port());
    return text;
  }
  // Not an address parse_socket_address made (e.g. default-constructed): nothing to print.
  return std::string();
}

std::optional<SocketAddress> parse_socket_address(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::optional<in_port_t> port = parse_port(text.substr(colon + 1));
  if (!port) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  // inet_pton would stop at an embedded NUL and accept "1.2.3.4\0junk".
  if (host.find('\0') != std::string_view::npos) return std::nullopt;

  SocketAddress address;
  // inet_pton needs a NUL-terminated copy; the longest valid host is an IPv6 text form.
  char buffer[INET6_ADDRSTRLEN] = {};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (host.size() >= sizeof buffer) return std::nullopt;
    std::memcpy(buffer, host.data(), host.size());
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    if (inet_pton(AF_INET6, buffer, &in6->sin6_addr) != 1) return std::nullopt;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(*port);
    address.length = sizeof(sockaddr_in6);
    return address;
  }
  // glibc's inet_pton accepts only the strict dotted-quad form here ("1.2.3.4"), no octal or
  // shortened forms, so what it accepts is exactly what to_string prints back.
  if (host.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, host.data(), host.size());
  auto* in = reinterpret_cast<sockaddr_in*>(&address.storage);
  if (inet_pton(AF_INET, buffer, &in->sin_addr) != 1) return std::nullopt;
  in->sin_family = AF_INET;
  in->sin_port = htons(*port);
  address.length = sizeof(sockaddr_in);
  return address;
}

}  // namespace edgefn::runtime
