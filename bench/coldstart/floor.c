/* bench/coldstart/floor.c: the cold-start floor, the least a process can do to answer one GET. */

/*
 * coldstart measures exec -> first complete response for edgefn and for this program in the same
 * run; the ratio between the two is the figure that matters on a noisy machine. This program is
 * what "nothing but exec, a socket and one reply" costs: statically linked (no dynamic loader, no
 * libc initialisation beyond the minimum), no stdio, no allocation, no options. Usage:
 *
 *   coldstart_floor PORT
 *
 * It binds 127.0.0.1:PORT with SO_REUSEADDR (so a previous run's TIME_WAIT does not block it),
 * accepts one connection, reads until the end of the request head, writes a fixed 200 response
 * with Content-Length (the body edgefn's hello module sends) and exits. Any failure exits
 * non-zero without a message, which coldstart reports as the child exiting before it answered.
 */

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char kResponse[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 13\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Hello, world!";

/* Returns 1 once the bytes seen so far end a request head ("\r\n\r\n"), tracking the match across
 * reads in *matched. */
static int head_complete(const char* data, size_t size, int* matched) {
  static const char kEnd[] = "\r\n\r\n";
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == kEnd[*matched]) {
      if (++*matched == 4) return 1;
    } else {
      *matched = data[i] == '\r' ? 1 : 0;
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  long port = strtol(argv[1], NULL, 10);
  if (port <= 0 || port > 65535) return 2;

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) return 1;
  int one = 1;
  if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return 1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) != 0) return 1;
  if (listen(listener, 16) != 0) return 1;

  int conn = accept(listener, NULL, NULL);
  if (conn < 0) return 1;
  char buf[4096];
  int matched = 0;
  for (;;) {
    ssize_t n = read(conn, buf, sizeof buf);
    if (n <= 0) return 1;
    if (head_complete(buf, (size_t)n, &matched)) break;
  }
  size_t sent = 0;
  while (sent < sizeof kResponse - 1) {
    ssize_t n = write(conn, kResponse + sent, sizeof kResponse - 1 - sent);
    if (n <= 0) return 1;
    sent += (size_t)n;
  }
  close(conn);
  return 0;
}
