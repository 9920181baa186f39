// Listener addresses: "0.0.0.0:8080", "127.0.0.1:0", "[::1]:9901".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace edgefn::runtime {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const;
  std::string to_string() const;  // the same notation parse accepts
};

// A numeric IPv4 or bracketed IPv6 address with a port (0 = any free port). Names are not
// resolved here: a listener takes numbers only.
std::optional<SocketAddress> parse_socket_address(std::string_view text);

}  // namespace edgefn::runtime
