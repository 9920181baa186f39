// io_uring set-up: the start-up probe, rings and provided-buffer rings.
#include "runtime/uring.h"

#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace edgefn::runtime {

namespace {

std::string errno_text(int error) {
  return std::strerror(error < 0 ? -error : error);
}

// Opcodes the workers submit.
constexpr struct {
  int opcode;
  const char* name;
} kRequiredOpcodes[] = {
    {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_RECV, "RECV"},
    {IORING_OP_SEND, "SEND"},       {IORING_OP_SHUTDOWN, "SHUTDOWN"},
    {IORING_OP_CLOSE, "CLOSE"},     {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
    {IORING_OP_TIMEOUT, "TIMEOUT"}, {IORING_OP_READ, "READ"},
    {IORING_OP_WRITE, "WRITE"},
};

}  // namespace

std::string check_ring_features(io_uring* ring) {
  std::string missing;
  if (io_uring_probe* probe = io_uring_get_probe_ring(ring)) {
    for (const auto& op : kRequiredOpcodes) {
      if (!io_uring_opcode_supported(probe, op.opcode)) {
        missing += missing.empty() ? "" : ", ";
        missing += op.name;
      }
    }
    io_uring_free_probe(probe);
  } else {
    missing = "the opcode probe (kernel >= 5.6)";
  }
  utsname system{};
  unsigned major = 0;
  unsigned minor = 0;
  if (uname(&system) == 0 && std::sscanf(system.release, "%u.%u", &major, &minor) == 2 &&
      (major < 6)) {
    missing += missing.empty() ? "" : ", ";
    missing += "multishot recv with provided-buffer rings (kernel >= 6.0, this is ";
    missing += system.release;
    missing += ")";
  }
  if (missing.empty()) return {};
  return "io_uring on this kernel lacks: " + missing;
}

Ring::~Ring() {
  if (initialized_) io_uring_queue_exit(&ring_);
}

bool Ring::init(unsigned entries, std::string& error, std::string& reason) {
  io_uring_params params{};
  // Completions run only when this thread asks for them, never as interrupts of its work.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  params.cq_entries = entries * 4;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == -EINVAL) {
    // Kernels before 6.1 know neither flag; the ring works without them.
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 4;
    rc = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (rc < 0) {
    reason = "io_uring_setup failed: " + errno_text(rc);
    error = "io_uring is not available: " + reason;
    if (rc == -EPERM || rc == -ENOSYS) {
      error +=
          " (container runtimes' default seccomp profiles block io_uring: allow io_uring_setup, "
          "io_uring_enter and io_uring_register; on the host, kernel.io_uring_disabled must be 0)";
    }
    return false;
  }
  initialized_ = true;
  error = check_ring_features(&ring_);
  reason = error;
  return error.empty();
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

BufferRing::~BufferRing() {
  if (shared_ != nullptr) {
    io_uring_unregister_buf_ring(ring_, group_);
    munmap(shared_, count_ * sizeof(io_uring_buf));
  }
  if (memory_ != nullptr) munmap(memory_, mapped_bytes_);
}

bool BufferRing::init(io_uring* ring, std::uint16_t group, unsigned count, unsigned buffer_size,
                      std::string& error) {
  ring_ = ring;
  group_ = group;
  count_ = count;
  buffer_size_ = buffer_size;
  std::size_t ring_bytes = count * sizeof(io_uring_buf);
  void* shared =
      mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    error = "mmap: " + errno_text(errno);
    return false;
  }
  shared_ = static_cast<io_uring_buf_ring*>(shared);
  io_uring_buf_ring_init(shared_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(shared_);
  reg.ring_entries = count;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    munmap(shared_, ring_bytes);
    shared_ = nullptr;
    error = "io_uring_register_buf_ring: " + errno_text(rc);
    return false;
  }
  mapped_bytes_ = static_cast<std::size_t>(count) * buffer_size;
  void* memory = mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) {
    error = "mmap: " + errno_text(errno);
    return false;
  }
  memory_ = static_cast<char*>(memory);
  int mask = io_uring_buf_ring_mask(count);
  for (unsigned id = 0; id < count; ++id) {
    io_uring_buf_ring_add(shared_, memory_ + static_cast<std::size_t>(id) * buffer_size,
                          buffer_size, static_cast<unsigned short>(id), mask, static_cast<int>(id));
  }
  io_uring_buf_ring_advance(shared_, static_cast<int>(count));
  return true;
}

void BufferRing::recycle(std::uint16_t id) {
  io_uring_buf_ring_add(shared_, memory_ + static_cast<std::size_t>(id) * buffer_size_,
                        buffer_size_, id, io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(shared_, 1);
}

}  // namespace edgefn::runtime
